"""Game scenes on the server: what the page needs to play them, and storing what it recorded.

The game itself runs in the participant's browser (a Pyodide worker); the server describes the
scene, hands out episode seeds, and stores frame records exactly once each.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from igym_core.config import Experiment, GameScene
from igym_core.envcheck import scene_kwargs
from igym_core.plugins import PluginManager
from igym_core.server.limits import Limits
from igym_core.server.packages import Bundles
from igym_core.server.protocol import (
    Ack,
    EpisodeEnd,
    EpisodeStart,
    Frames,
    Later,
    ProtocolError,
    Telemetry,
)
from igym_core.storage.store import Pending, Store, StoreBusy, StoreError

MAX_RECORDS_PER_CHUNK = 1000
#: what a reloaded page replays of each stored frame (single player; peer to peer)
RESUME_KEYS = ("frame", "actions", "focused")
RESUME_KEYS_P2P = (
    *RESUME_KEYS, "rewards", "terminated", "truncated", "infos", "state_hash",
)  # fmt: skip
#: an env's infos per frame: most keys, longest key, longest text value
MAX_INFO_KEYS = 64
MAX_INFO_KEY_CHARS = 64
MAX_INFO_TEXT_CHARS = 1000
#: a frame's latency timestamps (``t``): most keys, longest key
MAX_TIMESTAMPS = 12
MAX_TIMESTAMP_KEY_CHARS = 16
#: a telemetry metric's name; a text value (e.g. ``host``, ``srflx``, ``relay``)
_METRIC = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
MAX_TELEMETRY_TEXT = 24
#: a telemetry sample's time may be this far from the server's clock (a page's clock is off)
MAX_CLOCK_SKEW_S = 86_400.0


async def _nothing(*args: Any) -> None:
    return None


async def _no_match(participant_id: str, scene_id: str) -> str | None:
    return None


class GameService:
    def __init__(
        self,
        store: Store,
        plugins: PluginManager,
        bundles: Bundles,
        experiment_id: str,
        clock: Callable[[], float] = time.time,
        limits: Limits | None = None,
    ) -> None:
        self.limits = limits or Limits()
        #: telemetry samples stored per (participant, scene, episode), once counted
        self._telemetry_counts: dict[tuple[str, str, int], int] = {}
        self.store = store
        self.plugins = plugins
        self.bundles = bundles
        self.experiment_id = experiment_id
        self.clock = clock
        #: set by the lobby: the match a participant plays a multiplayer scene in
        self.match_of: Callable[[str, str], Awaitable[str | None]] = _no_match
        #: set by the lobby: awaited after a multiplayer episode was closed
        self.on_episode_closed: Callable[[str, GameScene, int], Awaitable[None]] = _nothing
        #: set by the app: why the server ended a participant's game in a scene (an exclusion:
        #: the reason and the frame it ended at), or None; a partial episode gets that reason
        self.ended_by: Callable[[str, str], tuple[str, int | None] | None] = lambda p, s: None

    async def seed(self, scene: GameScene, participant_id: str, episode: int) -> int:
        """Episode seeds: per participant alone, per match when several play together (or
        when the server plays the scene)."""
        if scene.matched:
            match_id = await self.match_of(participant_id, scene.id)
            if match_id is None:
                raise ProtocolError("not_matched", f"you are not playing {scene.id!r} in a match")
            return scene.episode_seed(match_id, episode)
        return scene.episode_seed(participant_id, episode)

    def play_description(self, scene: GameScene) -> dict[str, Any]:
        """What :class:`igym_core.runtime.play.Play` is built from: the env (factory, kwargs,
        agents, actions, the policies the seats use), the seats and the stepping rules."""
        spec = self.plugins.environment(scene.env)
        used = {s.policy for s in scene.seats.values() if s.kind == "policy"}
        return {
            "env": {
                "name": spec.name,
                "factory": spec.factory,
                "kwargs": scene_kwargs(spec, scene),
                "agent_ids": list(spec.agent_ids),
                "action_labels": {str(k): v for k, v in spec.action_labels.items()},
                "default_action": (
                    spec.default_action if scene.default_action is None else scene.default_action
                ),
                "policies": {
                    p.name: {"factory": p.factory, "kwargs": dict(p.kwargs)}
                    for p in spec.policies
                    if p.name in used
                },
            },
            "seats": {agent: seat.to_client() for agent, seat in scene.seats.items()},
            "max_steps": scene.max_steps,
            "step_on": scene.step_on,
        }

    def prepare(self, experiment: Experiment) -> None:
        """Build the package bundle of every scene played in the browser (once per process:
        resolving the packages reads every installed distribution's metadata)."""
        for scene in experiment.scenes:
            if isinstance(scene, GameScene) and not scene.server_mode:
                self.bundles.for_packages(self.plugins.environment(scene.env).packages)

    def describe(self, scene: GameScene, participant_id: str) -> dict[str, Any]:
        """Everything the page and its worker need to play ``scene`` (no secrets in it).

        A server-mode scene's page gets no factory, kwargs, policies or packages: the server
        builds and steps the env."""
        spec = self.plugins.environment(scene.env)
        play = self.play_description(scene)
        env = {
            **play["env"],
            "key_bindings": dict(
                spec.key_bindings if scene.key_bindings is None else scene.key_bindings
            ),
            "assets": {
                name: f"/assets/{spec.name}/{name}"
                for name in (ref.rpartition("/")[2].rpartition(":")[2] for ref in spec.assets)
            },
        }
        if scene.server_mode:
            for private in ("factory", "kwargs", "policies"):
                env.pop(private)
        else:
            env["packages_url"] = self.bundles.for_packages(spec.packages).url
        return {
            "id": scene.id,
            "kind": "game",
            "title": scene.title,
            "html": scene.instructions,
            "fields": [],
            "continue_label": "",
            "env": env,
            "seats": play["seats"],
            "human_agent": scene.human_agent,
            "episodes": scene.episodes,
            "max_steps": scene.max_steps,
            "fps": scene.fps,
            "countdown_s": scene.countdown_s,
            # stepping on input: each key press is one step
            "input_mode": "press" if scene.step_on == "input" else scene.input_mode,
            "step_on": scene.step_on,
            "mode": scene.mode,
            "seeds": (
                None
                if scene.matched
                else [scene.episode_seed(participant_id, e) for e in range(scene.episodes)]
            ),
            "multiplayer": (
                {
                    "human_agents": list(scene.human_agents),
                    "input_delay": scene.input_delay,
                    "max_prediction": scene.max_prediction,
                    "hash_interval": scene.hash_interval,
                    "show_waiting_count": scene.show_waiting_count,
                    "max_p2p_rtt_ms": scene.max_p2p_rtt_ms,
                    "reconnect_timeout_s": scene.reconnect_timeout_s,
                    "reload_timeout_s": scene.reload_timeout_s,
                }
                if scene.multiplayer and not scene.server_mode
                else None
            ),
            "server": (
                {
                    "human_agents": list(scene.human_agents),
                    "show_waiting_count": scene.show_waiting_count,
                }
                if scene.server_mode
                else None
            ),
        }

    async def progress(self, scene: GameScene, participant_id: str) -> list[dict[str, Any]]:
        return await asyncio.to_thread(self.store.episodes_for, participant_id, scene.id)

    async def resume(
        self, scene: GameScene, progress: list[dict[str, Any]], participant_id: str
    ) -> dict[str, Any] | None:
        """Where a reloaded page goes on: the first episode still open (``playing`` or
        ``interrupted``) with the frames stored for it, which the page replays before it plays
        on (``frame``, ``actions``, ``focused``; in a peer-to-peer scene the whole canonical
        record, which the rebuilt game must reproduce). None when no episode is open, and in
        server-mode scenes (the server plays those)."""
        if scene.server_mode:
            return None
        open_ = next((e for e in progress if e["status"] in ("playing", "interrupted")), None)
        if open_ is None:
            return None
        rows = await asyncio.to_thread(
            self.store.frame_rows, participant_id, scene.id, open_["episode"]
        )
        keys = RESUME_KEYS_P2P if scene.multiplayer else RESUME_KEYS
        return {
            "episode": open_["episode"],
            "frames": [{k: r[k] for k in keys if k in r} for r in rows],
        }

    # -- recording ------------------------------------------------------------------------------

    async def episode_start(
        self, scene: GameScene, participant_id: str, message: EpisodeStart
    ) -> list[Later]:
        self._check_episode(scene, message.episode, message.seq)
        seed = await self.seed(scene, participant_id, message.episode)
        opened = self.store.start_episode(
            participant_id, scene.id, message.episode, seed, self.clock()
        )
        return [Later(_ack_when_stored(opened, message.seq))]

    async def frames(self, scene: GameScene, participant_id: str, message: Frames) -> list[Later]:
        """Check a chunk and queue its write; the ack comes once it is stored (:class:`Later`:
        the page's next messages are read meanwhile, and a ping is not kept behind a commit)."""
        self._check_episode(scene, message.episode, message.seq)
        if len(message.records) > MAX_RECORDS_PER_CHUNK:
            raise ProtocolError(
                "invalid", f"at most {MAX_RECORDS_PER_CHUNK} records per chunk", message.seq
            )
        agents = set(scene.seats)
        rows = []
        for record in message.records:
            if not 0 <= record.frame < scene.max_steps:
                raise ProtocolError(
                    "invalid_frame",
                    f"frame {record.frame} is outside 0..{scene.max_steps - 1}",
                    message.seq,
                )
            if set(record.actions) != agents or set(record.rewards) != agents:
                raise ProtocolError(
                    "invalid_frame",
                    f"frame {record.frame} must have an action and a reward for each of "
                    f"{sorted(agents)}",
                    message.seq,
                )
            problem = _record_problem(record, agents)
            if problem:
                raise ProtocolError(
                    "invalid_frame", f"frame {record.frame}: {problem}", message.seq
                )
            rows.append(
                (
                    record.frame,
                    {
                        "actions": record.actions,
                        "rewards": record.rewards,
                        "terminated": record.terminated,
                        "truncated": record.truncated,
                        "focused": record.focused,
                        "infos": record.infos,
                        "t": record.t,
                        **({} if record.state_hash is None else {"state_hash": record.state_hash}),
                    },
                )
            )
        stored = self.store.add_frames(participant_id, scene.id, message.episode, rows)
        return [Later(_ack_when_stored(stored, message.seq))]

    async def episode_end(
        self, scene: GameScene, participant_id: str, message: EpisodeEnd
    ) -> list[Later]:
        """Queue the episode's closing; the ack comes once it is stored, and then a
        multiplayer episode's parity check starts (in the background)."""
        self._check_episode(scene, message.episode, message.seq)
        if not 0 <= message.frames <= scene.max_steps:
            raise ProtocolError("invalid", f"frames must be in 0..{scene.max_steps}", message.seq)
        summary = _bounded_summary(message.summary)
        reason = "ended_by_page"
        ended = self.ended_by(participant_id, scene.id) if message.partial else None
        if ended is not None:
            reason = ended[0]
            if ended[1] is not None:
                summary["termination_frame"] = ended[1]
        closing = self.store.end_episode(
            participant_id,
            scene.id,
            message.episode,
            message.frames,
            scene.max_steps,
            summary,
            self.clock(),
            partial=message.partial,
            reason=reason,
        )
        return [Later(self._closed(scene, participant_id, message, closing))]

    async def _closed(
        self, scene: GameScene, participant_id: str, message: EpisodeEnd, closing: Pending
    ) -> list[Ack]:
        try:
            closed = await closing
        except StoreError as exc:
            if isinstance(exc, StoreBusy):
                raise
            raise ProtocolError("invalid_episode", str(exc), message.seq) from None
        if scene.multiplayer:
            await self.on_episode_closed(participant_id, scene, message.episode)
        self.plugins.notify(
            "igym_on_episode_end",
            experiment_id=self.experiment_id,
            participant_id=participant_id,
            scene_id=scene.id,
            episode=message.episode,
            frames=closed.frames,
            partial=closed.status != "complete",
        )
        return [Ack(message.seq)]

    async def telemetry(
        self, scene: GameScene, participant_id: str, message: Telemetry
    ) -> list[Ack]:
        """Store a chunk of latency telemetry within the episode's budget (checked before
        anything is written); a chunk sent again is stored once."""
        self._check_episode(scene, message.episode, message.seq)
        limits = self.limits
        samples = message.samples
        if len(samples) > limits.telemetry_per_chunk:
            raise ProtocolError(
                "too_large",
                f"{len(samples)} telemetry samples in one message (at most "
                f"{limits.telemetry_per_chunk:g})",
                message.seq,
            )
        now = self.clock()
        metrics = set()
        for t, metric, value in samples:
            problem = _sample_problem(t, metric, value, now)
            if problem:
                raise ProtocolError("invalid", f"telemetry sample: {problem}", message.seq)
            metrics.add(metric)
        if len(metrics) > limits.telemetry_metrics:
            raise ProtocolError(
                "invalid",
                f"{len(metrics)} telemetry metrics (at most {limits.telemetry_metrics:g})",
                message.seq,
            )
        key = (participant_id, scene.id, message.episode)
        count = self._telemetry_counts.get(key)
        if count is None:
            count = await asyncio.to_thread(self.store.telemetry_count, *key)
        fresh = len(samples)
        if count + fresh > limits.telemetry_per_episode:  # near the budget: a chunk sent again?
            fresh -= await asyncio.to_thread(self.store.telemetry_known, *key, samples)
        if count + fresh > limits.telemetry_per_episode:
            self._telemetry_counts[key] = count
            raise ProtocolError(
                "telemetry_budget",
                f"episode {message.episode} already has {count} telemetry samples; at most "
                f"{limits.telemetry_per_episode:g} are kept",
                message.seq,
            )
        added = await self.store.add_telemetry(*key, [tuple(s) for s in samples])
        self._telemetry_counts[key] = count + added
        return [Ack(message.seq)]

    async def interrupted(self, participant_id: str) -> None:
        """The page went away: episodes still playing become ``interrupted`` until it is back."""
        self.store.interrupt_episodes(participant_id, self.clock())

    @staticmethod
    def _check_episode(scene: GameScene, episode: int, seq: int) -> None:
        if scene.server_mode:
            raise ProtocolError(
                "server_recorded", f"scene {scene.id!r} is played and recorded by the server", seq
            )
        if not 0 <= episode < scene.episodes:
            raise ProtocolError(
                "invalid_episode",
                f"scene {scene.id!r} has episodes 0..{scene.episodes - 1}, not {episode}",
                seq,
            )


def _record_problem(record: Any, agents: set[str]) -> str | None:
    """What is wrong with a frame record beyond its schema, or None (bounded infos and
    timestamps, so that a page cannot make the export grow a column per key it invents)."""
    if len(record.infos) > MAX_INFO_KEYS:
        return f"infos has {len(record.infos)} keys (at most {MAX_INFO_KEYS})"
    for key, value in record.infos.items():
        if len(key) > MAX_INFO_KEY_CHARS:
            return f"infos key {key[:40]!r}… is longer than {MAX_INFO_KEY_CHARS} characters"
        if isinstance(value, str) and len(value) > MAX_INFO_TEXT_CHARS:
            return f"infos[{key!r}] is longer than {MAX_INFO_TEXT_CHARS} characters"
    if len(record.t) > MAX_TIMESTAMPS or any(len(k) > MAX_TIMESTAMP_KEY_CHARS for k in record.t):
        return f"t holds at most {MAX_TIMESTAMPS} timestamps with short names"
    if isinstance(record.focused, dict) and not set(record.focused) <= agents:
        return f"focused names agents that are not {sorted(agents)}"
    return None


def _sample_problem(t: float, metric: str, value: float | str | None, now: float) -> str | None:
    if not math.isfinite(t) or abs(t - now) > MAX_CLOCK_SKEW_S:
        return f"time {t!r} is not a Unix time near the server's"
    if not _METRIC.match(metric):
        return f"metric {metric[:40]!r} must be 1-40 lowercase letters, digits or _"
    if isinstance(value, str) and len(value) > MAX_TELEMETRY_TEXT:
        return f"the text value of {metric!r} is longer than {MAX_TELEMETRY_TEXT} characters"
    if isinstance(value, float) and not math.isfinite(value):
        return f"the value of {metric!r} is not a finite number"
    return None


#: an episode summary the page sends: most keys, longest key, longest text value
MAX_SUMMARY_KEYS = 64


def _bounded_summary(summary: dict[str, Any]) -> dict[str, Any]:
    if len(summary) > MAX_SUMMARY_KEYS or any(len(k) > 64 for k in summary):
        raise ProtocolError(
            "invalid", f"an episode summary holds at most {MAX_SUMMARY_KEYS} short keys"
        )
    return {k: v[:500] if isinstance(v, str) else v for k, v in summary.items()}


async def _ack_when_stored(stored: Awaitable[Any], seq: int | None) -> list[Ack]:
    try:
        await stored
    except StoreError as exc:
        if isinstance(exc, StoreBusy):
            raise
        raise ProtocolError("invalid_episode", str(exc), seq) from None
    return [Ack(seq)]
