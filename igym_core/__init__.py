"""igym: reinforcement-learning environments as browser experiments.

Plugins import only what this module exports::

    from igym_core import hookimpl, EnvironmentSpec
"""

import pluggy

from igym_core.specs import (
    EnvironmentSpec,
    Exclusion,
    ExclusionRule,
    Exporter,
    Matchmaker,
    PolicySpec,
    WaitingParticipant,
)

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("igym")
"""Marks a function in a plugin module as the implementation of an ``igym_*`` hook."""

__all__ = [
    "EnvironmentSpec",
    "Exclusion",
    "ExclusionRule",
    "Exporter",
    "Matchmaker",
    "PolicySpec",
    "WaitingParticipant",
    "__version__",
    "hookimpl",
]
