"""igym: reinforcement-learning environments as browser experiments.

Plugins import only what this module exports::

    from igym_core import hookimpl, EnvironmentSpec

Everything listed in ``__all__`` is documented in docs/plugins.md, which is generated from the
docstrings (``python tools/plugin_docs.py``); a test fails when a name here is undocumented.
"""

import pluggy

from igym_core.specs import (
    EntryContext,
    EnvironmentSpec,
    Exclusion,
    ExclusionRule,
    Exporter,
    GameContext,
    MatchContext,
    Matchmaker,
    PolicySpec,
    RuleWarning,
    WaitingParticipant,
)
from igym_core.storage.reader import StoreReader
from igym_core.storage.rows import (
    DisconnectionRow,
    EpisodeRow,
    EventRow,
    ExclusionRow,
    FocusPeriodRow,
    FrameRow,
    MatchOutcomeRow,
    MatchRow,
    ParityRow,
    ParticipantRow,
    ProvenanceRow,
    ResponseRow,
    SceneProgressRow,
    TelemetryRow,
    ValidationRow,
)

__version__ = "0.1.0"
"""The version of igym (the core); a plugin may check it, and the store records it."""

hookimpl = pluggy.HookimplMarker("igym")
"""Marks a function in a plugin module as the implementation of an ``igym_*`` hook.

Use it bare (``@hookimpl``) or with pluggy's options: ``@hookimpl(tryfirst=True)`` /
``@hookimpl(trylast=True)`` move the implementation to the front or back of the call order,
``@hookimpl(wrapper=True)`` makes a generator that wraps the other implementations (it yields
once, receives their results and returns the hook's result)."""

__all__ = [
    "DisconnectionRow",
    "EntryContext",
    "EnvironmentSpec",
    "EpisodeRow",
    "EventRow",
    "Exclusion",
    "ExclusionRow",
    "ExclusionRule",
    "Exporter",
    "FocusPeriodRow",
    "FrameRow",
    "GameContext",
    "MatchContext",
    "MatchOutcomeRow",
    "MatchRow",
    "Matchmaker",
    "ParityRow",
    "ParticipantRow",
    "PolicySpec",
    "ProvenanceRow",
    "ResponseRow",
    "RuleWarning",
    "SceneProgressRow",
    "StoreReader",
    "TelemetryRow",
    "ValidationRow",
    "WaitingParticipant",
    "__version__",
    "hookimpl",
]
