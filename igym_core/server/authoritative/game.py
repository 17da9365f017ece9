"""One server-authoritative game: a match's episodes, stepped on the server at the scene's fps.

:class:`ServerGame` is one asyncio task. Per episode it resets the environment, tells every
member the countdown (``server_episode``), then ticks at ``t0 + n/fps``: it samples each
member's input (:class:`~.inputs.InputState`), runs the tick on the thread pool (the
environment's step, the AI seats, the render and its encoding: CPU work off the event loop),
sends the frame to every member (``server_frame``) and keeps each member's copy of the frame
records until the page reports when it drew them (``server_drawn``, or 2 s, then ``t.drawn``
is null), then stores them: the same ``episodes``/``frames`` rows, columns and statuses as a
browser game, one copy per human member. A tick that falls behind is caught up in the next
call (up to 10 ticks at once), so an episode keeps its real-time length.

Timestamps: ``t.key`` and ``t.drawn`` are the page's (its ``performance.now()``), ``t.tick``
and ``t.step`` the server's mapped onto the page's clock with the smallest offset seen in that
page's messages (the one-way delay: below a millisecond on loopback), so ``t.drawn - t.key``
is measured on one clock, as in browser mode.

An environment that raises ends this game only: the episode is closed as partial with the error
in its summary and every member is told (``server_game_end`` with reason ``error``).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from typing import Any

from igym_core.config import GameScene
from igym_core.plugins import PluginManager
from igym_core.runtime.play import Play
from igym_core.server.authoritative.frames import encode_frame
from igym_core.server.authoritative.inputs import InputState
from igym_core.server.authoritative.protocol import (
    ServerEpisode,
    ServerFrame,
    ServerGameEnd,
)
from igym_core.storage.store import Store

log = logging.getLogger("igym.server_game")

MAX_BATCH = 10
FLUSH_S = 0.5
#: a frame the page has not reported drawn after this long is stored with t.drawn = null
DRAWN_WAIT_S = 2.0
#: how long the first episode waits for every member's page to be ready
READY_TIMEOUT_S = 30.0

Send = Callable[[str, Any], None]


def _round(x: float | None, digits: int = 2) -> float | None:
    return None if x is None else round(x, digits)


def _quantile(xs: list[float], q: float) -> float | None:
    if not xs:
        return None
    ordered = sorted(xs)
    rank = max(0, min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1))
    return ordered[rank]


def percentiles(name: str, xs: list[float]) -> dict[str, float | None]:
    """``{<name>_p50_ms, <name>_p95_ms, <name>_max_ms}`` as the page's telemetry writes them."""
    return {
        f"{name}_p50_ms": _round(_quantile(xs, 0.5)),
        f"{name}_p95_ms": _round(_quantile(xs, 0.95)),
        f"{name}_max_ms": _round(max(xs) if xs else None),
    }


class Member:
    """One human member of the game: their agent, input, clock offset and unstored records."""

    def __init__(self, participant_id: str, agent: str, mode: str) -> None:
        self.participant_id = participant_id
        self.agent = agent
        self.inputs = InputState(mode)
        #: server ms - page ms, the smallest seen (None until the page said anything)
        self.offset_ms: float | None = None
        self.ready = asyncio.Event()
        self.drawn: dict[int, float | None] = {}
        #: (frame, record, server time made) not stored yet
        self.pending: list[tuple[int, dict[str, Any], float]] = []
        self.latency: list[float] = []

    def heard(self, page_now: float, server_ms: float) -> None:
        offset = server_ms - page_now
        if self.offset_ms is None or offset < self.offset_ms:
            self.offset_ms = offset

    def page_time(self, server_ms: float) -> float | None:
        return None if self.offset_ms is None else round(server_ms - self.offset_ms, 3)


class ServerGame:
    """The episodes of one match (one human alone, with AI, or 2-4 humans), on the server."""

    def __init__(
        self,
        *,
        match_id: str,
        scene: GameScene,
        description: Mapping[str, Any],
        members: Mapping[str, str],
        store: Store,
        plugins: PluginManager,
        send: Send,
        executor: Executor,
        experiment_id: str,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        on_error: Callable[[str, str, str], None] = lambda *args: None,
    ) -> None:
        self.match_id = match_id
        #: the game stopped on its own (the env raised): (match id, reason, message)
        self.on_error = on_error
        self.scene = scene
        self.description = dict(description)
        #: the actions a human may send
        self.actions = frozenset(int(a) for a in description["env"]["action_labels"])
        mode = "press" if scene.step_on == "input" else scene.input_mode
        self.members = {pid: Member(pid, agent, mode) for pid, agent in members.items()}
        self.store = store
        self.plugins = plugins
        self.send = send
        self.executor = executor
        self.experiment_id = experiment_id
        self.clock = clock
        self.wall = wall
        self.play: Play | None = None
        self.episode = -1
        self.episode_open = False
        self.last_frame: dict[str, Any] | None = None
        self.stats = {"ticks": 0, "frames": 0, "step_ms": [], "late_ms": []}
        #: over the whole game (the benchmark reads it): ticks, late ticks (more than one
        #: frame period after their due time), CPU-side tick work in ms (the last 10,000)
        self.totals = {"ticks": 0, "late": 0, "frames": 0}
        self.tick_ms: deque[float] = deque(maxlen=10_000)
        self.ended: str | None = None
        self.task: asyncio.Task | None = None
        self._writes: set[asyncio.Task] = set()

    # -- messages from the members' pages ------------------------------------------------------

    def now_ms(self) -> float:
        return self.clock() * 1000.0

    def input(
        self,
        participant_id: str,
        kind: str,
        action: int | None,
        t: float | None,
        focused: bool | None,
        page_now: float,
    ) -> None:
        member = self.members[participant_id]
        member.heard(page_now, self.now_ms())
        if kind == "down" and action is not None:
            member.inputs.down(action, t)
        elif kind == "up" and action is not None:
            member.inputs.up(action)
        elif kind == "clear":
            member.inputs.clear()
        elif kind == "focus" and focused is not None:
            member.inputs.set_focused(focused)

    def ready(self, participant_id: str, page_now: float) -> None:
        member = self.members[participant_id]
        member.heard(page_now, self.now_ms())
        member.ready.set()
        if self.episode_open and self.last_frame is not None:  # a reload mid-episode
            self.send(
                participant_id, ServerEpisode(self.match_id, self.episode, 0, self.last_frame)
            )

    def drawn(
        self, participant_id: str, episode: int, frames: list[list[Any]], page_now: float
    ) -> None:
        member = self.members[participant_id]
        member.heard(page_now, self.now_ms())
        if episode != self.episode:
            return
        for entry in frames:
            if len(entry) == 2 and isinstance(entry[0], int | float):
                drawn = entry[1]
                member.drawn[int(entry[0])] = None if drawn is None else float(drawn)

    # -- the game --------------------------------------------------------------------------------

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            await self._wait_ready()
            for episode in range(self.scene.episodes):
                if self.ended is not None:
                    return
                await self._episode(loop, episode)
            self.ended = "completed"
            self._broadcast(ServerGameEnd(self.match_id, "completed", ""))
        except asyncio.CancelledError:
            await self._close_episode(partial=True, extra={"ended": self.ended or "stopped"})
            raise
        except Exception as exc:
            message = f"{type(exc).__name__}: {exc}"
            log.exception("server game %s (scene %r) failed", self.match_id, self.scene.id)
            self.ended = "error"
            await self._close_episode(partial=True, extra={"error": message[:200]})
            text = f"The game stopped because of an error: {message}"
            self._broadcast(ServerGameEnd(self.match_id, "error", text))
            self.on_error(self.match_id, "game_error", text)

    async def _wait_ready(self) -> None:
        waits = [m.ready.wait() for m in self.members.values()]
        try:
            await asyncio.wait_for(asyncio.gather(*waits), READY_TIMEOUT_S)
        except TimeoutError:
            log.warning("server game %s: not every page was ready in time", self.match_id)

    async def _episode(self, loop: asyncio.AbstractEventLoop, episode: int) -> None:
        scene = self.scene
        seed = scene.episode_seed(self.match_id, episode)
        if self.play is None:
            self.play = await loop.run_in_executor(self.executor, Play, self.description)
        play = self.play
        first = await loop.run_in_executor(self.executor, self._start, episode, seed)
        now = self.wall()
        for member in self.members.values():
            await self.store.start_episode(member.participant_id, scene.id, episode, seed, now)
            member.drawn.clear()
            member.pending.clear()
            member.latency = []
        self.episode = episode
        self.episode_open = True
        self.last_frame = first
        self.stats = {"ticks": 0, "frames": 0, "step_ms": [], "late_ms": []}
        countdown_ms = max(0, scene.countdown_s * 1000)
        self._broadcast(ServerEpisode(self.match_id, episode, countdown_ms, first))
        await asyncio.sleep(countdown_ms / 1000)
        period = 1.0 / scene.fps
        t0 = self.clock()
        ticks = 0
        last_flush = t0
        while not play.done and self.ended is None:
            started = self.clock()
            due = math.floor((started - t0) / period) + 1 - ticks
            count = max(1, min(MAX_BATCH, due))
            late_ms = max(0.0, (started - (t0 + ticks * period)) * 1000)
            self.stats["late_ms"].append(late_ms)
            self.totals["late"] += late_ms > period * 1000
            samples = self._sample(count)
            tick_ms = started * 1000.0
            made, payload, error = await loop.run_in_executor(self.executor, self._advance, samples)
            step_ms = self.now_ms()
            self.stats["step_ms"].append(step_ms - tick_ms)
            self.tick_ms.append(step_ms - tick_ms)
            ticks += count
            self.stats["ticks"] += count
            self.totals["ticks"] += count
            self.totals["frames"] += len(made)
            if error is not None:
                self._keep(made, samples, tick_ms, step_ms)
                raise error
            if made:
                self._keep(made, samples, tick_ms, step_ms)
                self.last_frame = payload
                keys = {
                    self.members[pid].agent: samples[made[-1][0]][1].get(pid)
                    for pid in self.members
                }
                self._broadcast(
                    ServerFrame(self.match_id, episode, play.frame, payload, keys, play.done)
                )
            if self.clock() - last_flush >= FLUSH_S:
                last_flush = self.clock()
                self._flush(final=False)
            next_at = t0 + ticks * period
            await asyncio.sleep(max(0.0, next_at - self.clock()))
        if self.ended is not None:
            return
        await self._wait_drawn()
        await self._close_episode(partial=False)

    def _start(self, episode: int, seed: int) -> dict[str, Any]:
        """On the thread pool: reset the env; the first frame, encoded."""
        assert self.play is not None
        self.play.start(episode, seed)
        return self._payload()

    def _payload(self) -> dict[str, Any]:
        play = self.play
        assert play is not None
        scene = self.scene
        out = encode_frame(
            play.render_raw(), scene.frame_format, scene.frame_quality, scene.frame_max_width
        )
        out["hud"] = play.hud()
        out["scores"] = dict(play.scores)
        return out

    def _sample(self, count: int) -> list[tuple[dict[str, int | None], dict[str, float | None]]]:
        """``count`` ticks' inputs: per tick, the action of each human agent and, per member,
        the key event time of a new press (page clock)."""
        out = []
        for _ in range(count):
            actions: dict[str, int | None] = {}
            keys: dict[str, float | None] = {}
            for pid, member in self.members.items():
                action, key_t = member.inputs.sample()
                actions[member.agent] = action
                keys[pid] = key_t
            out.append((actions, keys))
        return out

    def _advance(
        self, samples: list[tuple[dict[str, int | None], dict[str, float | None]]]
    ) -> tuple[list[tuple[int, dict[str, Any]]], dict[str, Any] | None, Exception | None]:
        """On the thread pool: play the sampled ticks; the records made (with the tick they
        came from), the new frame encoded (if any), and what the env raised (if it did)."""
        play = self.play
        assert play is not None
        focus: bool | dict[str, bool] = {m.agent: m.inputs.focused for m in self.members.values()}
        if len(focus) == 1:  # one human: a bool, as the browser records it
            focus = next(iter(focus.values()))
        made = []
        for i, (actions, _keys) in enumerate(samples):
            if play.done:
                break
            try:
                record = play.step(actions, focus)
            except Exception as exc:  # keep the frames made before it
                return made, None, exc
            if record is not None:
                made.append((i, record))
        return made, (self._payload() if made else None), None

    def _keep(
        self,
        made: list[tuple[int, dict[str, Any]]],
        samples: list[tuple[dict[str, int | None], dict[str, float | None]]],
        tick_ms: float,
        step_ms: float,
    ) -> None:
        for i, record in made:
            self.stats["frames"] += 1
            for pid, member in self.members.items():
                copy = dict(record)
                copy["t"] = {
                    "key": samples[i][1].get(pid),
                    "tick": member.page_time(tick_ms),
                    "step": member.page_time(step_ms),
                    "drawn": None,
                }
                member.pending.append((record["frame"], copy, step_ms))

    def _flush(self, final: bool) -> None:
        """Store the records whose draw time is known (or waited for long enough)."""
        now = self.now_ms()
        for member in self.members.values():
            ready, keep = [], []
            for frame, record, made_at in member.pending:
                if final or frame in member.drawn or now - made_at >= DRAWN_WAIT_S * 1000:
                    drawn = member.drawn.pop(frame, None)
                    record["t"]["drawn"] = drawn
                    key = record["t"]["key"]
                    if drawn is not None and key is not None:
                        member.latency.append(drawn - key)
                    ready.append((frame, record))
                else:
                    keep.append((frame, record, made_at))
            member.pending = keep
            if ready:
                self._write(member.participant_id, self.episode, ready)

    def _write(self, participant_id: str, episode: int, rows: list) -> None:
        task = asyncio.ensure_future(
            _awaited(self.store.add_frames(participant_id, self.scene.id, episode, rows))
        )
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def _wait_drawn(self) -> None:
        """The episode is over: give the pages a moment to report the last frames drawn."""
        last = self.play.frame - 1 if self.play else -1
        deadline = self.clock() + DRAWN_WAIT_S
        while self.clock() < deadline:
            if all(last in m.drawn or not m.pending for m in self.members.values()):
                return
            await asyncio.sleep(0.05)

    async def _close_episode(self, partial: bool, extra: Mapping[str, Any] | None = None) -> None:
        if not self.episode_open:
            return
        self.episode_open = False
        self._flush(final=True)
        if self._writes:
            await asyncio.gather(*list(self._writes), return_exceptions=True)
        play = self.play
        frames = play.frame if play else 0
        now = self.wall()
        for member in self.members.values():
            summary = {
                "score": play.scores.get(member.agent, 0.0) if play else 0.0,
                "mode": "server",
                **percentiles("latency", member.latency),
                "latency_samples": len(member.latency),
                **percentiles("step", self.stats["step_ms"]),
                **percentiles("tick_late", self.stats["late_ms"]),
                "ticks": self.stats["ticks"],
                "frames_reported": frames,
                **dict(extra or {}),
            }
            try:
                closed = await self.store.end_episode(
                    member.participant_id,
                    self.scene.id,
                    self.episode,
                    frames,
                    self.scene.max_steps,
                    summary,
                    now,
                    partial=partial,
                    reason=self.ended or "server_game_ended",
                )
            except Exception:
                log.exception("server game %s: closing episode %d", self.match_id, self.episode)
                continue
            self.plugins.notify(
                "igym_on_episode_end",
                experiment_id=self.experiment_id,
                participant_id=member.participant_id,
                scene_id=self.scene.id,
                episode=self.episode,
                frames=closed.frames,
                partial=closed.status != "complete",
            )

    def _broadcast(self, message: Any) -> None:
        for pid in self.members:
            self.send(pid, message)

    def stop(self, reason: str) -> None:
        """End the game now (the match ended: a member left, the server stops)."""
        if self.ended is None:
            self.ended = reason
        if self.task is not None and not self.task.done():
            self.task.cancel()


async def _awaited(pending: Any) -> Any:
    """A store write as a coroutine (for a task that the episode's end waits for)."""
    return await pending
