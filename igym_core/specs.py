"""The values plugins hand to the core, and the small base classes they subclass.

Every class here is part of the plugin API (importable from ``igym_core``): changing a field is
a breaking change. Each docstring is that class's documentation; docs/plugins.md is generated
from them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypedDict

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
    """An AI partner an environment pack offers; a scene seats it with ``"policy:<name>"``.

    - ``name``: unique within its environment.
    - ``factory``: ``"module:callable"``, importable in the browser (its module must be in the
      environment's ``packages``). Called as ``factory(agent_id, seed, **kwargs)`` once per
      seat and episode, it returns an object with ``act(observation) -> int`` (an action of
      the environment's ``action_labels``). ``observation`` is what the env returned for that
      agent (a PettingZoo env's ``observations[agent_id]``, a Gymnasium env's observation).
    - ``description``: shown by ``igym plugins``.
    - ``kwargs``: passed to the factory.

    A policy must be deterministic given the seed and what it has observed: every peer of a
    multiplayer match computes the AI seats itself, and a rollback replays them. A policy with
    memory between calls also offers ``get_state()`` and ``set_state(state)`` (plain data) so
    that a rollback can restore it.
    """

    name: str = attrs.field(validator=_name)
    factory: str = attrs.field(validator=_import_path)
    description: str = ""
    kwargs: Mapping[str, Any] = attrs.field(factory=dict, converter=dict)


@attrs.frozen
class EnvironmentSpec:
    """A named environment that experiments can put into game scenes (``GameScene.env``).

    - ``name``: unique across all installed plugins; by convention ``<pack>.<variant>``
      (``overcooked.cramped_room``).
    - ``factory``: ``"module:callable"``; ``factory(**kwargs)`` returns a fresh environment.
      The scene's ``env_kwargs`` override ``kwargs``, and the scene's ``max_steps`` is passed
      as ``max_steps=`` when the factory accepts it.
    - ``agent_ids``: the agents, in the env's order. A Gymnasium env (``step(action)`` returning
      ``obs, reward, terminated, truncated, info``) has exactly one, which may be any name
      (``"agent_0"`` by convention); scenes give that id a seat. A PettingZoo env (parallel or
      AEC) lists its agents as igym names them, ``str(agent)`` (cogrid's ``0``, ``1`` become
      ``"0"``, ``"1"``).
    - ``action_labels``: every action int the env accepts, with a label for people.
    - ``default_action``: the idle action (played when no key is held, while a tab is hidden,
      and for a partner whose input has not arrived).
    - ``key_bindings``: browser ``KeyboardEvent.key`` values (``"ArrowUp"``, ``" "``, ``"e"``)
      to action ints; a scene may replace them with its own ``key_bindings``.
    - ``packages``: the top-level Python packages (or single-file modules) the browser needs to
      import ``factory`` and the policies. They are zipped from the server's installation
      with their data files (``tests`` folders left out) and the pure-Python distributions
      they depend on, and unpacked in the participant's Pyodide worker: they must be pure
      Python (a compiled extension fails ``igym validate``; such an env runs with
      ``GameScene(mode="server")``) and must not import ``igym_core`` (only
      ``igym_core.runtime`` is shipped). Keep the env apart from the module with ``@hookimpl``.
    - ``policies``: the :class:`PolicySpec` AI partners it offers.
    - ``assets``: files the page loads, each ``"package:path/inside/package"`` (sprite atlases
      and their frame maps); the server serves them as ``/assets/<env name>/<file name>``.
    - ``description``: shown by ``igym plugins``.

    **What the environment must do.** Nothing beyond its own API: a Gymnasium env, a PettingZoo
    parallel env or a PettingZoo AEC (turn-based) env, unchanged, with actions as ints. Rollback
    (peer-to-peer scenes) uses the env's ``get_state()``/``set_state()`` (plain data, and
    ``state_hash()``) when it has them and a generic snapshot of the env object otherwise; the
    same state and actions must give the same next state on every machine (no unseeded
    randomness, no clock). An env that runs in the browser must be pure Python; anything else
    runs with ``GameScene(mode="server")``. ``igym check-env NAME`` tests all of this on the
    real env.

    **Draw objects.** ``env.render()`` returns a list of plain dicts that the page draws on a
    canvas. Coordinates are in grid cells (``x`` column, ``y`` row, origin top left; fractions
    allowed); the page scales a cell to whole device pixels and sizes the canvas to the objects'
    extent. Objects are drawn in ascending ``layer`` (default 0), in list order within a layer.
    Colours are CSS colours (``"#3366cc"``, ``"white"``). In a server-authoritative scene,
    ``render()`` may instead return an ``rgb_array`` image (an ``(h, w, 3)`` uint8 array).

    | ``kind`` | fields |
    |---|---|
    | ``rect`` | ``x``, ``y``, ``w``, ``h`` (default 1), ``color``, ``layer`` |
    | ``circle`` | ``x``, ``y`` (the centre), ``r`` (default 0.5), ``color``, ``layer`` |
    | ``text`` | ``x``, ``y``, ``text``, ``color``, ``size`` (font height in cells, default 0.5), ``align`` (``left``, ``center``, ``right``), ``layer`` |
    | ``sprite`` | ``atlas``, ``frame``, ``x``, ``y``, ``w``, ``h`` (default 1), ``layer`` |

    A sprite atlas is two assets: a frame map ``<atlas>.json`` (the atlas's name is the file
    stem) and the image it names, ``{"image": "<image file name>", "tile": <px>, "frames":
    {"<frame>": {"x", "y", "w", "h"}}}`` in the image's pixels; ``tile`` (optional) makes the
    page scale cells to whole multiples of it, so pixel art stays crisp. An unknown kind or a
    missing sprite frame is drawn as a magenta box and reported once in the browser console.
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
    """What a matchmaker knows about one participant in a scene's waiting room.

    - ``participant_id``: their id.
    - ``waiting_since``: when they (last) started waiting, in seconds on the lobby's clock
      (the clock of :attr:`MatchContext.now`); a participant sent back to waiting after a
      failed P2P check waits from that moment.
    - ``attributes``: what is known about them when they join, in this order of precedence
      (later wins): the URL parameters they arrived with (``PROLIFIC_PID``, ``STUDY_ID``, ...,
      as strings), their answers to the form fields of earlier scenes as
      ``"<scene id>.<field name>"`` (e.g. ``"about_you.hand"``), and what the page reported
      when it joined the waiting room (nothing, today).
    - ``server_rtt_ms``: their websocket round trip to the server as the page last measured it
      (a ping every 5 s) when it joined the waiting room; ``None`` when it had no measurement
      yet (it joined within 5 s of connecting). Updated when the page joins again (after a
      reconnect).
    - ``p2p_rtt_ms``: the round trips measured by P2P checks with other participants, by their
      id. A pair has one only after the two were matched once and ran their check (median of
      5 pings; the slowest member's median is kept for every pair of that group), so on first
      arrival it is empty.
    - ``avoid``: participants whose P2P check with this one failed or was too slow
      (``max_p2p_rtt_ms``). The lobby never groups them again and drops any group a matchmaker
      proposes with such a pair, so a matchmaker should not propose it.
    """

    participant_id: str
    waiting_since: float
    attributes: Mapping[str, Any] = attrs.field(factory=dict)
    server_rtt_ms: float | None = None
    p2p_rtt_ms: Mapping[str, float] = attrs.field(factory=dict)
    avoid: frozenset[str] = attrs.field(factory=frozenset, converter=frozenset)


@attrs.frozen
class MatchContext:
    """What the core tells a matchmaker about the scene at each :meth:`Matchmaker.match` call.

    - ``scene_id``: the multiplayer game scene whose waiting room this is.
    - ``group_size``: how many participants play one game (the scene's human seats).
    - ``now``: the lobby's clock, in seconds (the clock of
      :attr:`WaitingParticipant.waiting_since`), so ``now - p.waiting_since`` is how long ``p``
      has waited.
    - ``max_p2p_rtt_ms``: the scene's limit on the P2P round trip between members (``None``: no
      limit). The lobby enforces it after matching (a slower pair goes back to waiting and is
      never grouped again); a matchmaker may use it to avoid proposing such pairs at all.
    - ``waiting_timeout_s``: how long a participant waits before the scene gives up on them.

    Fields may be added in later releases; none will be removed.
    """

    scene_id: str
    group_size: int
    now: float
    max_p2p_rtt_ms: float | None = None
    waiting_timeout_s: float | None = None


class Matchmaker:
    """Decides which waiting participants play together.

    Subclass it, give it a unique ``name`` (what ``GameScene.matchmaker`` names) and implement
    :meth:`match`. The scene's ``matchmaker_options`` are passed to the constructor as keyword
    arguments, so declare them as keyword parameters with type annotations and defaults::

        class CohortMatchmaker(Matchmaker):
            name = "cohort"

            def __init__(self, *, attribute: str = "cohort", max_wait_s: float = 60.0):
                if max_wait_s <= 0:
                    raise ValueError("max_wait_s must be positive")
                self.attribute = attribute
                self.max_wait_s = max_wait_s

    The options are checked when the experiment loads (``igym validate`` and server start): an
    option the constructor does not take, a missing one, a value of the wrong type (for
    annotations made of ``int``, ``float``, ``str``, ``bool``, ``None``, ``list``, ``dict`` and
    ``Literal``), or a ``ValueError``/``TypeError`` the constructor raises fails with the
    scene's ``matchmaker_options`` field named. Settings of the scene itself
    (``max_p2p_rtt_ms``, the group size) are not options: they arrive in :class:`MatchContext`.

    One instance serves one scene for the whole run of the server.
    """

    name: ClassVar[str] = ""

    def match(
        self, waiting: Sequence[WaitingParticipant], context: MatchContext
    ) -> list[tuple[str, ...]]:
        """Return groups of ``context.group_size`` participant ids; everyone not named keeps
        waiting.

        Called whenever the waiting room changes (someone joins, leaves, or comes back after a
        failed P2P check), on the server's event loop: it must be quick and must not block.
        ``waiting`` holds everyone waiting and connected, sorted by nothing in particular.
        A group that names someone twice, someone not waiting, or a pair to avoid is dropped
        and logged; an exception is logged and matches nobody this time.
        """
        raise NotImplementedError


@attrs.frozen
class Exclusion:
    """A rule's verdict that a participant may not take part (or continue).

    ``rule`` is the rule's name, ``reason`` a short explanation for the researcher's data, and
    ``message`` what the participant is shown.
    """

    rule: str
    reason: str
    message: str


class EntryContext(TypedDict, total=False):
    """What an entry rule's :meth:`ExclusionRule.check` receives today: what the page reports
    about the browser before the first scene. Keys may be missing when the page could not
    tell.

    - ``user_agent``: the browser's ``navigator.userAgent``.
    - ``screen_width``, ``screen_height``: the screen in CSS pixels.
    - ``touch``: True when the primary pointer is coarse (a finger).
    """

    user_agent: str
    screen_width: int
    screen_height: int
    touch: bool


class ExclusionRule:
    """A check run at entry (``phase = "entry"``) or during play (``phase = "continuous"``).

    Subclass it with a unique ``name`` and implement :meth:`check`. Options an experiment
    gives the rule are passed to the constructor as keyword arguments and checked when the
    experiment loads, exactly like :class:`Matchmaker` options (declare them as typed keyword
    parameters with defaults, raise ``ValueError`` for a bad value). A rule should let the
    researcher replace its participant-facing text with a ``message`` option.
    """

    name: ClassVar[str] = ""
    phase: ClassVar[str] = "entry"

    def check(self, context: Mapping[str, Any]) -> Exclusion | None:
        """Return ``None`` to let the participant through, or an :class:`Exclusion` naming why
        not. ``context`` is read-only; for entry rules it is an :class:`EntryContext`."""
        raise NotImplementedError


class Exporter:
    """Turns stored records into researcher-facing files (``igym export``).

    Subclass it with a unique ``name``, implement :meth:`export`, and return an instance from
    the ``igym_exporters`` hook.
    """

    name: ClassVar[str] = ""

    def export(self, reader: StoreReader, out_dir: Path) -> list[Path]:
        """Write files into ``out_dir`` and return their paths.

        ``out_dir`` is this exporter's own folder, ``<--out>/<name>/``, already created (write
        ``out_dir / "frames.parquet"``, not ``out_dir / name / ...``). ``reader`` is a
        :class:`StoreReader` over one experiment's store. The same store must always give
        byte-identical files: write rows in the order the reader yields them and no export
        time. An exception is reported with the exporter's name; the other exporters still run.
        """
        raise NotImplementedError
