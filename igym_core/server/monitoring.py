"""Continuous monitoring of participants in game scenes: what their pages report (``monitor``:
episode, frame, playing, hidden, key presses; ``focus_period``), round trips the server measures
itself, and the scene's monitoring rules run every ``GameScene.monitor_interval_s`` on a
:class:`igym_core.GameContext`.

Hidden time is counted on the server's clock from the moment the page said it was hidden, so it
keeps growing while the browser has frozen the tab. A rule may warn (the page shows a banner,
a ``rule_warning`` event is stored when a warning starts) and exclude
(:meth:`igym_core.server.exclusion.Exclusions.exclude`); a rule that raises is logged and counted
(``rule_error``) and excludes nobody unless its ``Rule`` says so.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import attrs

from igym_core.config import GameScene
from igym_core.rules import LiveRule, RuleBook, RuleFailure, Verdict
from igym_core.server.limits import Limits
from igym_core.server.pinger import Pinger
from igym_core.server.protocol import FocusPeriodMessage, Monitor, ProtocolError, WarningMessage
from igym_core.storage.store import Store

log = logging.getLogger("igym.monitoring")

#: a warning of the same rule within this long is the same warning (one event)
WARNING_GAP_S = 10.0
MAX_PINGS = 60
TICK_S = 0.25


@attrs.define(eq=False)
class Watch:
    """One participant in one game scene."""

    participant_id: str
    scene: GameScene
    params: dict[str, str]
    started_at: float
    episode: int = -1
    frame: int = 0
    playing: bool = False
    hidden_since: float | None = None
    hidden_total: float = 0.0
    inputs: int = 0
    idle_ms: float = 0.0
    last_report_at: float | None = None
    last_check_at: float = 0.0
    pings: deque[float] = attrs.field(factory=lambda: deque(maxlen=MAX_PINGS))
    focus: dict[int, dict[str, Any]] = attrs.field(factory=dict)
    warned: dict[str, float] = attrs.field(factory=dict)
    failed: set[str] = attrs.field(factory=set)
    pinging: bool = False
    match_id: str | None = None
    done: bool = False

    def context(self, now: float) -> dict[str, Any]:
        hidden_ms = 0.0 if self.hidden_since is None else (now - self.hidden_since) * 1000.0
        return {
            "participant_id": self.participant_id,
            "params": dict(self.params),
            "scene_id": self.scene.id,
            "multiplayer": self.scene.multiplayer,
            "match_id": self.match_id,
            "playing": self.playing,
            "episode": self.episode,
            "frame": self.frame,
            "elapsed_s": round(now - self.started_at, 3),
            "hidden": self.hidden_since is not None,
            "hidden_ms": round(hidden_ms, 1),
            "hidden_total_ms": round(self.hidden_total * 1000.0 + hidden_ms, 1),
            "focus_periods": tuple(
                {
                    "episode": p.get("episode"),
                    "start_frame": p.get("start_frame"),
                    "end_frame": p.get("end_frame"),
                    "duration_ms": p.get("duration_ms"),
                }
                for _, p in sorted(self.focus.items())
            ),
            "ping_ms": tuple(self.pings),
            "inputs": self.inputs,
            "idle_ms": round(self.idle_ms, 1) if self.playing else 0.0,
        }


class Monitoring:
    """Every watched participant of one server."""

    def __init__(
        self,
        rules: RuleBook,
        store: Store,
        limits: Limits,
        *,
        warn: Callable[[str, WarningMessage], None],
        exclude: Callable[[str, Verdict], Any],
        on_error: Callable[[str, RuleFailure], None],
        pinger_of: Callable[[str], Pinger | None],
        match_of: Callable[[str, str], str | None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.rules = rules
        self.store = store
        self.limits = limits
        self.warn = warn
        self.exclude = exclude
        self.on_error = on_error
        self.pinger_of = pinger_of
        self.match_of = match_of
        self.clock = clock
        self.watches: dict[tuple[str, str], Watch] = {}
        self._checking = False
        self._tasks: set[asyncio.Task] = set()

    # -- what the server and the page say --------------------------------------------------------

    def start(self, participant_id: str, scene: GameScene, params: dict[str, str]) -> None:
        """The participant was shown game scene ``scene`` (again, after a reload: kept)."""
        key = (participant_id, scene.id)
        if key not in self.watches:
            self.watches[key] = Watch(participant_id, scene, dict(params), self.clock())

    def stop(self, participant_id: str, scene_id: str | None = None) -> None:
        """The participant left the scene (moved on, or was excluded)."""
        for key in [k for k in self.watches if k[0] == participant_id]:
            if scene_id is None or key[1] == scene_id:
                self.watches.pop(key).done = True

    def report(self, participant_id: str, message: Monitor) -> None:
        watch = self.watches.get((participant_id, message.scene_id))
        if watch is None:
            return  # not (or no longer) in that scene
        now = self.clock()
        if watch.last_report_at is not None and watch.playing and message.playing:
            if message.inputs == watch.inputs:
                watch.idle_ms += (now - watch.last_report_at) * 1000.0
        if message.inputs != watch.inputs or not message.playing:
            watch.idle_ms = 0.0
        watch.inputs = max(0, message.inputs)
        watch.episode = message.episode
        watch.frame = max(0, message.frame)
        watch.playing = message.playing
        watch.last_report_at = now
        if message.hidden and watch.hidden_since is None:
            watch.hidden_since = now
        elif not message.hidden and watch.hidden_since is not None:
            watch.hidden_total += now - watch.hidden_since
            watch.hidden_since = None

    async def focus_period(self, participant_id: str, message: FocusPeriodMessage) -> None:
        """Store a focus-loss period (begun or ended), within ``Limits.focus_periods``."""
        watch = self.watches.get((participant_id, message.scene_id))
        if watch is None:
            raise ProtocolError(
                "wrong_scene", f"not in game scene {message.scene_id!r}", message.seq
            )
        if not 0 <= message.period < self.limits.focus_periods:
            raise ProtocolError(
                "too_large",
                f"at most {self.limits.focus_periods:g} focus periods per scene",
                message.seq,
            )
        duration = None
        if message.end_ms is not None and message.start_ms is not None:
            duration = round(max(0.0, message.end_ms - message.start_ms), 1)
        values = {
            "episode": message.episode,
            "start_frame": message.start_frame,
            "end_frame": message.end_frame,
            "start_ms": message.start_ms,
            "end_ms": message.end_ms,
            "duration_ms": duration,
        }
        known = watch.focus.setdefault(message.period, {})
        known.update({k: v for k, v in values.items() if v is not None})
        await self.store.save_focus_period(
            participant_id, message.scene_id, message.period, values, self.clock()
        )

    def where(self, participant_id: str, scene_id: str) -> dict[str, Any]:
        watch = self.watches.get((participant_id, scene_id))
        if watch is None:
            return {}
        return {"scene_id": scene_id, "episode": watch.episode, "frame": watch.frame}

    def position_of(self, participant_id: str, scene_id: str) -> tuple[int, int] | None:
        """The episode and frame the participant's page last reported in ``scene_id``."""
        watch = self.watches.get((participant_id, scene_id))
        if watch is None or watch.last_report_at is None:
            return None
        return watch.episode, watch.frame

    # -- the clock -------------------------------------------------------------------------------

    async def tick(self) -> None:
        """Ping and check whoever is due (called every :data:`TICK_S`)."""
        if self._checking:
            return
        now = self.clock()
        due: list[tuple[Watch, tuple[LiveRule, ...], dict[str, Any]]] = []
        for watch in list(self.watches.values()):
            rules = self.rules.for_scene(watch.scene.id)
            if not rules or now - watch.last_check_at < watch.scene.monitor_interval_s:
                continue
            watch.last_check_at = now
            watch.match_id = self.match_of(watch.participant_id, watch.scene.id)
            self._ping(watch)
            due.append((watch, rules, watch.context(now)))
        if not due:
            return
        self._checking = True
        try:
            results = await asyncio.to_thread(_run_all, due)
        finally:
            self._checking = False
        for watch, rule, result in results:
            await self._act(watch, rule, result)

    def _ping(self, watch: Watch) -> None:
        if watch.pinging or watch.hidden_since is not None:
            return  # a hidden page may be frozen: its silence says nothing about its network
        pinger = self.pinger_of(watch.participant_id)
        if pinger is None:
            return
        watch.pinging = True

        async def run() -> None:
            try:
                rtt = await pinger.ping(self.limits.ping_timeout_s)
                if watch.hidden_since is None:
                    watch.pings.append(round(rtt, 2))
            finally:
                watch.pinging = False

        task = asyncio.ensure_future(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _act(self, watch: Watch, rule: LiveRule, result: Verdict | RuleFailure) -> None:
        if watch.done:
            return
        pid = watch.participant_id
        if isinstance(result, RuleFailure):
            if rule.label not in watch.failed:
                watch.failed.add(rule.label)
                self.on_error(pid, result)
            else:
                log.debug("rule %s raised again for %s: %s", rule.label, pid, result.error)
            verdict = rule.on_error(result)
            if verdict is None:
                return
            result = verdict
        now = self.clock()
        if result.action == "warn":
            self.warn(pid, WarningMessage(result.rule, result.message))
            last = watch.warned.get(rule.label)
            watch.warned[rule.label] = now
            if last is None or now - last > WARNING_GAP_S:
                self.store.add_event(
                    pid,
                    "rule_warning",
                    {
                        "rule": result.rule,
                        "reason": result.reason,
                        "scene_id": watch.scene.id,
                        "episode": watch.episode,
                        "frame": watch.frame,
                    },
                    now,
                    background=True,
                )
            return
        watch.done = True
        try:
            await self.exclude(pid, result)  # reads where the watch was (scene, episode, frame)
        finally:
            self.watches.pop((pid, watch.scene.id), None)


def _run_all(
    due: list[tuple[Watch, tuple[LiveRule, ...], dict[str, Any]]],
) -> list[tuple[Watch, LiveRule, Verdict | RuleFailure]]:
    """Run every due rule (in a worker thread); a participant's first exclusion stops theirs."""
    out: list[tuple[Watch, LiveRule, Verdict | RuleFailure]] = []
    for watch, rules, context in due:
        for rule in rules:
            result = rule.run(context)
            if result is None:
                continue
            out.append((watch, rule, result))
            if isinstance(result, Verdict) and result.action == "exclude":
                break
    return out
