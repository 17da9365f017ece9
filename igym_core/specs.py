"""The values plugins hand to the core, and the small base classes they subclass.

Every class here is part of the plugin API: changing a field is a breaking change.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import attrs

if TYPE_CHECKING:
    from igym_core.storage.reader import StoreReader

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
_IMPORT_PATH = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


def _name(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    if not isinstance(value, str) or not _NAME.match(value):
        raise ValueError(
            f"{type(instance).__name__}.{attribute.name} must be a name of letters, digits, "
            f"'_', '.' or '-', got {value!r}"
        )


def _import_path(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    if not isinstance(value, str) or not _IMPORT_PATH.match(value):
        raise ValueError(
            f"{type(instance).__name__}.{attribute.name} must look like 'package.module:callable', "
            f"got {value!r}"
        )


def _tuple_of_str(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    return tuple(value)


@attrs.frozen
class PolicySpec:
    """An AI partner an environment pack offers.

    ``factory`` is ``"module:callable"``; called as ``factory(agent_id, seed, **kwargs)`` it
    returns an object with ``act(observation) -> int``. It must be deterministic given the seed,
    because every peer of a multiplayer match computes AI seats itself.
    """

    name: str = attrs.field(validator=_name)
    factory: str = attrs.field(validator=_import_path)
    description: str = ""
    kwargs: Mapping[str, Any] = attrs.field(factory=dict, converter=dict)


@attrs.frozen
class EnvironmentSpec:
    """A named environment that experiments can put into game scenes.

    ``factory`` is ``"module:callable"``; ``factory(**kwargs)`` returns a Gymnasium-style or
    PettingZoo-parallel environment. ``packages`` are the top-level Python packages the browser
    needs to import the factory (they are zipped from the server's installation and unpacked in
    the Pyodide worker). ``key_bindings`` map a browser ``KeyboardEvent.key`` to an action int.
    ``assets`` are files the page loads (sprite atlases and their frame maps), each written
    ``"package:path/inside/package"``; the server serves them as ``/assets/<name>/<file name>``.
    """

    name: str = attrs.field(validator=_name)
    factory: str = attrs.field(validator=_import_path)
    agent_ids: tuple[str, ...] = attrs.field(converter=_tuple_of_str)
    action_labels: Mapping[int, str] = attrs.field(converter=dict)
    default_action: int = attrs.field(validator=attrs.validators.instance_of(int))
    kwargs: Mapping[str, Any] = attrs.field(factory=dict, converter=dict)
    key_bindings: Mapping[str, int] = attrs.field(factory=dict, converter=dict)
    packages: tuple[str, ...] = attrs.field(factory=tuple, converter=_tuple_of_str)
    policies: tuple[PolicySpec, ...] = attrs.field(factory=tuple, converter=tuple)
    assets: tuple[str, ...] = attrs.field(factory=tuple, converter=_tuple_of_str)
    description: str = ""

    @agent_ids.validator
    def _check_agents(self, attribute: attrs.Attribute, value: tuple[str, ...]) -> None:
        if not value or not all(isinstance(a, str) and a for a in value):
            raise ValueError("EnvironmentSpec.agent_ids must be a non-empty list of names")

    @default_action.validator
    def _check_default(self, attribute: attrs.Attribute, value: int) -> None:
        if value not in self.action_labels:
            raise ValueError(
                f"EnvironmentSpec.default_action {value!r} is not one of action_labels "
                f"{sorted(self.action_labels)}"
            )

    @key_bindings.validator
    def _check_keys(self, attribute: attrs.Attribute, value: Mapping[str, int]) -> None:
        for key, action in value.items():
            if action not in self.action_labels:
                raise ValueError(
                    f"EnvironmentSpec.key_bindings[{key!r}] = {action!r} is not one of "
                    f"action_labels {sorted(self.action_labels)}"
                )

    @assets.validator
    def _check_assets(self, attribute: attrs.Attribute, value: tuple[str, ...]) -> None:
        for ref in value:
            package, _, path = ref.partition(":")
            if not package or not path or path.startswith("/") or ".." in path.split("/"):
                raise ValueError(
                    f"EnvironmentSpec.assets entry {ref!r} must look like 'package:path/file.png'"
                )

    @policies.validator
    def _check_policies(self, attribute: attrs.Attribute, value: tuple[Any, ...]) -> None:
        for policy in value:
            if not isinstance(policy, PolicySpec):
                raise TypeError(
                    f"EnvironmentSpec.policies must hold PolicySpec objects, got {policy!r}"
                )


@attrs.frozen
class WaitingParticipant:
    """What a matchmaker knows about one participant in a waiting room.

    ``p2p_rtt_ms`` holds the RTTs measured by P2P checks with other participants (by their id);
    ``avoid`` names participants whose P2P check with this one failed or was too slow: the
    lobby never groups them, so a matchmaker should not propose it.
    """

    participant_id: str
    waiting_since: float
    attributes: Mapping[str, Any] = attrs.field(factory=dict)
    server_rtt_ms: float | None = None
    p2p_rtt_ms: Mapping[str, float] = attrs.field(factory=dict)
    avoid: frozenset[str] = attrs.field(factory=frozenset, converter=frozenset)


class Matchmaker:
    """Decides which waiting participants play together.

    Subclass it, give it a unique ``name`` and implement :meth:`match`. The core calls
    ``match`` whenever the waiting room changes; it must be fast and must not block.
    """

    name: ClassVar[str] = ""

    def __init__(self, **options: Any) -> None:
        self.options = options

    def match(
        self, waiting: Sequence[WaitingParticipant], group_size: int
    ) -> list[tuple[str, ...]]:
        """Return groups of ``group_size`` participant ids; everyone not named keeps waiting."""
        raise NotImplementedError


@attrs.frozen
class Exclusion:
    """A rule's verdict that a participant may not take part (or continue)."""

    rule: str
    reason: str
    message: str


class ExclusionRule:
    """A check run at entry (``phase="entry"``) or during play (``phase="continuous"``).

    ``check(context)`` returns ``None`` to let the participant through or an
    :class:`Exclusion` naming why not.
    """

    name: ClassVar[str] = ""
    phase: ClassVar[str] = "entry"

    def check(self, context: Mapping[str, Any]) -> Exclusion | None:
        raise NotImplementedError


class Exporter:
    """Turns stored records into researcher-facing files.

    ``export(reader, out_dir)`` writes files into ``out_dir`` and returns their paths. The same
    store must always give byte-identical files (sort rows; write no export time).
    """

    name: ClassVar[str] = ""

    def export(self, reader: StoreReader, out_dir: Path) -> list[Path]:
        raise NotImplementedError
