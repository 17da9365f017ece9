"""One participant's side of a peer-to-peer game scene: what the Pyodide worker runs each tick.

:class:`NetPlay` is the multiplayer counterpart of :class:`~igym_core.runtime.play.LocalPlay`.
It is built from the game scene's description (``scene["multiplayer"]`` set) and the server's
``match`` message (members, their agents, which member is ``you``, the episode seeds). Each
episode gets its own :class:`~igym_core.runtime.rollback.RollbackSession` over a
:class:`~igym_core.runtime.transport.BufferTransport` and a
:class:`~igym_core.runtime.host.GameHost`; AI seats are computed by every peer from the
(rolled-back) state, so they are identical everywhere.

After a reload, :meth:`NetPlay.resume` rebuilds the episode from the frames the page had
recorded and rejoins the match (the partners echo the inputs it lost; see
:mod:`~igym_core.runtime.rollback`); while any peer is away the game is paused for everyone
(``paused`` in every tick's result), and a pause longer than the scene's reconnect timeout ends
the episode (``disconnected``).

The worker makes ONE call per tick, :meth:`NetPlay.tick`: the time, the local action and focus,
and the packets the main thread received from the data channels go in; the packets to send, the
render of the newest (speculative) state, the HUD, the newly settled frame records (the
server's format: one dict per frame, ``focused`` per agent, ``state_hash`` where one was taken)
and the session's events come out. The call simulates as many frames as the clock says are due
(at most ``max_catch_up``), follows the session's time-sync advice, and reports ``done`` once the
episode is settled, every peer agreed on its end and hash, and every peer said so (or a short
linger passed). Canonical records are identical on every peer by construction.

:meth:`NetPlay.tick_json` is the same call with JSON in and out (packets as base64), which is
what the worker's glue uses.
"""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from igym_core.runtime import wire
from igym_core.runtime.clock import FrameClock
from igym_core.runtime.game import EnvGame, Policy, RollbackGame, as_game, load_callable
from igym_core.runtime.host import GameHost, SeatPlan
from igym_core.runtime.play import PlayError, flatten_infos
from igym_core.runtime.record import FrameRecord, RecordError
from igym_core.runtime.rollback import (
    DesyncDetected,
    Disconnected,
    EpisodeAgreed,
    Event,
    NetworkInterrupted,
    NetworkResumed,
    Paused,
    Resumed,
    RollbackSession,
    SessionConfig,
    WaitRecommendation,
)
from igym_core.runtime.transport import BufferTransport

__all__ = ["NetPlay", "event_as_dict", "record_as_dict"]

RECONNECT_TIMEOUT_MS = 5_000.0
"""How long the game stays paused for a partner that went away before it ends (the scene's
``reconnect_timeout_s`` overrides it)."""

END_LINGER_MS = 1_000.0
"""After the server ended the match (:meth:`NetPlay.end_at`), a peer whose episode is settled
waits at most this long for its partners' agreement: an excluded partner's tab may be frozen."""

LINGER_MS = 15_000.0
"""After the local peer agreed on an episode's end, keep answering until every other peer reports
that it agreed too, for at most this long: on a lossy link the last packets can be held up for
seconds, and a peer that stopped answering too soon would leave its partner waiting for an end
that never comes."""


class _SeededRandom:
    """A uniformly random AI seat whose generator is saved and restored with the game."""

    def __init__(self, actions: Sequence[int], seed: int) -> None:
        self.actions = tuple(actions)
        self.rng = random.Random(seed)

    def act(self, observation: Any) -> int:
        return self.actions[self.rng.randrange(len(self.actions))]

    def get_state(self) -> Any:
        return self.rng.getstate()

    def set_state(self, state: Any) -> None:
        self.rng.setstate(state)


def record_as_dict(row: FrameRecord, agent_ids: Sequence[str], max_steps: int) -> dict[str, Any]:
    """A settled frame in the server's ``frames`` format (without the page's ``t`` stamps).

    The last frame of a full episode is ``truncated`` when the env did not end it itself, as
    in single-player scenes; this depends on canonical data only, so it is the same on all peers.
    """
    truncated = row.truncated or (row.frame + 1 >= max_steps and not row.terminated)
    out: dict[str, Any] = {
        "frame": row.frame,
        "actions": dict(zip(agent_ids, row.actions, strict=True)),
        "rewards": dict(zip(agent_ids, row.rewards, strict=True)),
        "terminated": bool(row.terminated),
        "truncated": bool(truncated),
        "focused": dict(zip(agent_ids, row.focused, strict=True)),
        "infos": flatten_infos(row.infos),
    }
    if row.state_hash is not None:
        out["state_hash"] = row.state_hash
    return out


def event_as_dict(event: Event) -> dict[str, Any]:
    """A session event as plain data for the page."""
    if isinstance(event, WaitRecommendation):
        return {"type": "wait", "frames": event.frames}
    if isinstance(event, NetworkInterrupted):
        return {"type": "interrupted", "peer": event.peer, "silent_ms": round(event.silent_ms, 1)}
    if isinstance(event, NetworkResumed):
        return {"type": "resumed", "peer": event.peer}
    if isinstance(event, Paused):
        return {"type": "paused", "frame": event.frame, "waiting_for": list(event.waiting_for)}
    if isinstance(event, Resumed):
        return {
            "type": "unpaused",
            "frame": event.frame,
            "confirmed": event.confirmed,
            "paused_ms": round(event.paused_ms, 1),
        }
    if isinstance(event, Disconnected):
        return {"type": "disconnected", "peer": event.peer, "last_frame": event.last_frame}
    if isinstance(event, DesyncDetected):
        return {
            "type": "desync",
            "frame": event.frame,
            "peer": event.peer,
            "local_hash": event.local_hash.hex(),
            "remote_hash": event.remote_hash.hex(),
            "last_agreed_frame": event.last_agreed_frame,
        }
    if isinstance(event, EpisodeAgreed):
        return {"type": "agreed", "end_frame": event.end_frame, "hash": event.hash.hex()}
    return {"type": type(event).__name__}  # pragma: no cover - the session has no other events


class NetPlay:
    """A multiplayer game scene at one peer: episodes of rollback play over a buffer transport."""

    def __init__(
        self,
        scene: Mapping[str, Any],
        match: Mapping[str, Any],
        max_catch_up: int = 4,
        linger_ms: float = LINGER_MS,
    ) -> None:
        env = scene["env"]
        multiplayer = scene.get("multiplayer")
        if not multiplayer:
            raise PlayError("scene is not a multiplayer scene (no 'multiplayer' description)")
        self.agent_ids: tuple[str, ...] = tuple(env["agent_ids"])
        self.max_steps = int(scene["max_steps"])
        self.fps = float(scene.get("fps") or 30)
        self.default_action = int(env["default_action"])
        self.actions = tuple(sorted(int(a) for a in env["action_labels"]))
        self.action_count = max(max(self.actions), self.default_action) + 1
        self.input_delay = int(multiplayer.get("input_delay", 2))
        self.max_prediction = int(multiplayer.get("max_prediction", 8))
        self.hash_interval = int(multiplayer.get("hash_interval", 30))
        self.max_catch_up = max(1, int(max_catch_up))
        self.linger_ms = float(linger_ms)
        timeout_s = multiplayer.get("reconnect_timeout_s")
        self.reconnect_timeout_ms = (
            RECONNECT_TIMEOUT_MS if timeout_s is None else float(timeout_s) * 1000.0
        )
        self.seats: dict[str, Mapping[str, Any]] = dict(scene["seats"])
        if set(self.seats) != set(self.agent_ids):
            raise PlayError(f"seats {sorted(self.seats)} must cover {list(self.agent_ids)}")
        members = list(match["members"])
        self.num_peers = len(members)
        self.local = int(match["you"])
        if self.num_peers < 2 or not 0 <= self.local < self.num_peers:
            raise PlayError(f"a match needs 2+ members and 'you' among them: {match!r}")
        owners: list[int | None] = [None] * len(self.agent_ids)
        for index, member in enumerate(members):
            for agent in member["agents"]:
                if agent not in self.agent_ids:
                    raise PlayError(f"member {index} plays unknown agent {agent!r}")
                if self.seats[agent]["kind"] != "human":
                    raise PlayError(f"agent {agent!r} is not a human seat")
                if owners[self.agent_ids.index(agent)] is not None:
                    raise PlayError(f"agent {agent!r} is played by two members")
                owners[self.agent_ids.index(agent)] = index
        for agent, owner in zip(self.agent_ids, owners, strict=True):
            if owner is None and self.seats[agent]["kind"] == "human":
                raise PlayError(f"human seat {agent!r} has no member")
        self.plan = SeatPlan(tuple(owners))
        if any(n == 0 for n in self.plan.seats_per_peer(self.num_peers)):
            raise PlayError("every member must play at least one seat")
        self.local_agents = tuple(self.agent_ids[i] for i in self.plan.seats_of(self.local))
        self.seeds = [int(s) for s in match.get("seeds") or []]
        self._factory = load_callable(env["factory"])
        self._kwargs = dict(env["kwargs"])
        self._policies = {
            name: (load_callable(p["factory"]), dict(p.get("kwargs", {})))
            for name, p in env.get("policies", {}).items()
        }
        self.episode = -1
        self.host: GameHost | None = None
        self.transport = BufferTransport()
        self.score = 0.0
        self.done = True
        self.disconnected: int | None = None
        self._sent = 0
        self.clock = FrameClock(1000.0 / self.fps)
        self._agreed_at: float | None = None
        self._end_packet: bytes | None = None
        #: the server ended the match: the frame the episode ends at (see end_at), and when
        #: this peer had settled it
        self.ending: int | None = None
        self._ended_at_ms: float | None = None
        #: this peer's own inputs are idle from now on (it was excluded)
        self.leaving = False

    # ------------------------------------------------------------------ episodes

    def start(self, episode: int, seed: int | None = None) -> dict[str, Any]:
        """Set up ``episode`` (seed from the match unless given); returns the first frame to
        draw. The clock starts with the first :meth:`tick`."""
        self._new_episode(episode, seed)
        return {"render": self.render(), "hud": self.hud()}

    def resume(
        self, episode: int, frames: Sequence[Mapping[str, Any]], seed: int | None = None
    ) -> dict[str, Any]:
        """Go on with ``episode`` after the page was reloaded: ``frames`` are the settled
        records it had recorded (the server's format, frames ``0, 1, …``: what the server
        stored and what the outbox still held). They are replayed (and must come out as
        recorded: :class:`PlayError` otherwise) and the session rejoins the match from the
        next frame; it plays on once the partners have echoed the inputs it lost.

        Returns the frame to draw, the HUD, ``resumed_at`` (frames replayed) and ``done``: the
        records already end the episode (then :meth:`farewell` is this peer's end report)."""
        host = self._new_episode(episode, seed)
        rows = [self._record(r, i) for i, r in enumerate(frames)]
        last = rows[-1] if rows else None
        if last is not None and (last.terminated or last.truncated or len(rows) >= self.max_steps):
            self.done = True
            self.score = sum(r.rewards[i] for r in rows for i in self.plan.seats_of(self.local))
            self._sent = len(rows)
            digest = last.state_hash
            if digest is None:
                raise PlayError("the last recorded frame has no state hash")
            episode_id = host.session.config.episode & wire.MAX_EPISODE
            end = wire.EpisodeEnd(self.local, episode_id, len(rows), bytes.fromhex(digest), True)
            self._end_packet = wire.encode(end)
            return {"render": [], "hud": self.hud(), "resumed_at": len(rows), "done": True}
        try:
            host.restore(rows)
        except RecordError as exc:
            raise PlayError(f"the recorded frames cannot be played again: {exc}") from None
        for row, stored in zip(host.canonical.rows, frames, strict=True):
            if flatten_infos(row.infos) != dict(stored.get("infos") or {}):
                raise PlayError(f"replaying frame {row.frame}: its infos are not the recorded ones")
        self._sent = len(rows)
        local = self.plan.seats_of(self.local)
        self.score = sum(row.rewards[i] for row in rows for i in local)
        return {"render": self.render(), "hud": self.hud(), "resumed_at": len(rows), "done": False}

    def end_at(self, episode: int, frame: int, leave: bool = False) -> dict[str, Any]:
        """The server ended the match (a member was excluded): episode ``episode`` ends after
        ``frame`` frames for every member. ``leave``: this peer is the excluded one; its
        inputs are idle from now on, under a focus lease, as if its tab were hidden (its
        partners fill them in and never wait for it).

        Returns ``{"end_frame", "settled"}``: the frame the episode ends at, or None when it
        cannot end there (another episode is being played, or frame ``frame - 1`` is already
        settled here: the page ends where it is, with ``settled`` frames)."""
        host = self._require()
        self.leaving = self.leaving or bool(leave)
        end: int | None = None
        log = host.canonical
        if episode == self.episode and log.end_frame is None and not self.done:
            end = host.session.end_at(int(frame))
        elif episode == self.episode and log.end_frame is not None and log.end_frame <= frame:
            end = log.end_frame  # it ended there by itself
        if end is not None:
            self.ending = end
        return {"end_frame": end, "settled": len(host.canonical)}

    def hold(self, peer: int, seconds: float, now_ms: float) -> None:
        """The server says member ``peer`` is coming back (its page reloads): keep the game
        paused for it up to ``seconds`` from ``now_ms`` instead of the reconnect timeout."""
        self._require().session.hold(int(peer), float(now_ms) + float(seconds) * 1000.0)

    def _record(self, stored: Mapping[str, Any], expected: int) -> FrameRecord:
        """A stored frame (the server's format) as a canonical row, for :meth:`resume`."""
        if int(stored.get("frame", -1)) != expected:
            raise PlayError(f"the frames to resume must be 0, 1, …; got {stored.get('frame')}")
        try:
            actions = tuple(int(stored["actions"][a]) for a in self.agent_ids)
            rewards = tuple(float(stored["rewards"][a]) for a in self.agent_ids)
            focused = tuple(stored["focused"].get(a) for a in self.agent_ids)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise PlayError(f"frame {expected} to resume is incomplete ({exc!r})") from None
        truncated = bool(stored.get("truncated"))
        if expected + 1 >= self.max_steps:
            truncated = False  # the last frame's flag is the page's, not the env's
        return FrameRecord(
            expected, actions, focused, rewards, bool(stored.get("terminated")), truncated,
            None, stored.get("state_hash"),
        )  # fmt: skip

    def _new_episode(self, episode: int, seed: int | None) -> GameHost:
        if seed is None:
            if not 0 <= episode < len(self.seeds):
                raise PlayError(f"the match has no seed for episode {episode}")
            seed = self.seeds[episode]
        made = self._factory(**self._kwargs)
        game: RollbackGame = (
            as_game(made, seed)
            if isinstance(made, RollbackGame)
            else EnvGame(made, seed=seed, agent_ids=self.agent_ids)
        )
        policies: dict[int, Policy] = {}
        for index in self.plan.ai_seats:
            agent = self.agent_ids[index]
            seat = self.seats[agent]
            if seat["kind"] == "policy":
                factory, kwargs = self._policies[seat["policy"]]
                policies[index] = factory(agent, seed, **kwargs)
            else:
                policies[index] = _SeededRandom(self.actions, seed * 1009 + index)
        per_peer = self.plan.seats_per_peer(self.num_peers)
        config = SessionConfig(
            num_peers=self.num_peers,
            local_peer=self.local,
            seats_per_peer=per_peer,
            default_actions=tuple(tuple(self.default_action for _ in range(k)) for k in per_peer),
            input_delay=self.input_delay,
            max_prediction=self.max_prediction,
            max_frames=self.max_steps,
            hash_interval=self.hash_interval,
            frame_ms=1000.0 / self.fps,
            action_count=self.action_count,
            episode=episode,
            reconnect_timeout_ms=self.reconnect_timeout_ms,
        )
        self.transport = BufferTransport()
        self.host = GameHost(RollbackSession(config, self.transport), game, self.plan, policies)
        self.episode = episode
        self.score = 0.0
        self.done = False
        self.disconnected = None
        self._sent = 0
        self.clock = FrameClock(1000.0 / self.fps)
        self._agreed_at = None
        self._end_packet = None
        self.ending = None
        self._ended_at_ms = None
        return self.host

    # ------------------------------------------------------------------ the tick

    def tick(
        self,
        now_ms: float,
        action: int | Sequence[int] | None = None,
        focused: bool = True,
        packets_in: Iterable[tuple[int, bytes]] = (),
    ) -> dict[str, Any]:
        """One worker tick; see the module docstring. ``action`` is the local action (one per
        seat this peer plays, or one for all of them; ``None``: the default action)."""
        host = self._require()
        session = host.session
        focused = bool(focused) and not self.leaving
        self.transport.deliver(packets_in)
        stats = session.stats
        rollbacks, replayed, stalls = stats.rollbacks, stats.frames_replayed, stats.stalls
        depth = 0
        inputs: list[int] = []
        events: list[Event] = []
        target = self.clock.target(now_ms)
        if self.done or session.finished or session.paused or session.current_frame >= target:
            events.extend(host.idle(now_ms))
        else:
            actions = self._local_actions(action, focused)
            for _ in range(self.max_catch_up):
                before = session.current_frame
                stalled = stats.stalls
                seen = stats.rollbacks
                events.extend(host.tick(now_ms, actions, focused))
                if stats.rollbacks != seen:
                    depth = max(depth, host.meta.rollbacks[-1][0] - host.meta.rollbacks[-1][1])
                if session.current_frame > before:
                    inputs.append(before + self.input_delay)
                if stats.stalls != stalled or session.current_frame >= target or session.finished:
                    break
        if stats.rollbacks != rollbacks and depth == 0:
            depth = host.meta.rollbacks[-1][0] - host.meta.rollbacks[-1][1]
        out_events = []
        for event in events:
            if isinstance(event, WaitRecommendation):
                self.clock.wait(event.frames)
            elif isinstance(event, Resumed):  # go on from here, at normal speed
                self.clock.restart(now_ms, session.peer_frame())
            elif isinstance(event, Disconnected) and self.disconnected is None:
                self.disconnected = event.peer
            elif isinstance(event, EpisodeAgreed):
                self._agreed_at = now_ms
            out_events.append(event_as_dict(event))
        jump = session.catch_up_frame()  # away and behind: catch up with the partners
        if jump is not None and jump > self.clock.target(now_ms):
            self.clock.restart(now_ms, jump)
        settled = self._settled()
        if not self.done:
            self.done = self._finished(now_ms)
        return {
            "packets_out": self.transport.take_outgoing(),
            "render": self.render(),
            "hud": self.hud(),
            "settled": settled,
            "events": out_events,
            "done": self.done,
            "frame": session.current_frame,
            "inputs": inputs,
            "rollbacks": stats.rollbacks - rollbacks,
            "rollback_depth": depth,
            "replayed": stats.frames_replayed - replayed,
            "stalled": stats.stalls != stalls,
            "paused": session.paused,
            "rejoining": session.rejoining,
            "rtt_ms": {str(p): round(v, 2) for p, v in stats.rtt_ms.items()},
        }

    def tick_json(self, text: str) -> str:
        """:meth:`tick` with JSON in and out, packets as ``[peer, base64]`` pairs.

        In: ``{"now": ms, "action": int|null, "focused": bool, "packets": [[peer, b64], ...],
        "holds": [[peer, seconds], ...]}`` (holds: the server said these members come back; see
        :meth:`hold`).
        """
        args = json.loads(text)
        for peer, seconds in args.get("holds") or ():
            self.hold(int(peer), float(seconds), float(args["now"]))
        packets = [(int(p), base64.b64decode(d)) for p, d in args.get("packets") or ()]
        out = self.tick(
            float(args["now"]), args.get("action"), bool(args.get("focused", True)), packets
        )
        out["packets_out"] = [
            [peer, base64.b64encode(data).decode("ascii")] for peer, data in out["packets_out"]
        ]
        return json.dumps(out, separators=(",", ":"))

    def _local_actions(self, action: int | Sequence[int] | None, focused: bool) -> tuple[int, ...]:
        count = len(self.local_agents)
        if action is None or not focused:
            return tuple(self.default_action for _ in range(count))
        values = [action] * count if isinstance(action, int) else list(action)
        if len(values) != count:
            raise PlayError(f"this peer plays {count} seats; got {len(values)} actions")
        for value in values:
            if value not in self.actions:
                raise PlayError(f"action {value!r} is not one of {list(self.actions)}")
        return tuple(int(v) for v in values)

    def _settled(self) -> list[dict[str, Any]]:
        host = self._require()
        rows = host.canonical.rows
        new = rows[self._sent :]
        self._sent = len(rows)
        out = []
        local = self.plan.seats_of(self.local)
        for row in new:
            self.score += sum(row.rewards[i] for i in local)
            out.append(record_as_dict(row, self.agent_ids, self.max_steps))
        return out

    def _finished(self, now_ms: float) -> bool:
        host = self._require()
        if self.disconnected is not None:
            return True
        if self.ending is not None and host.canonical.is_final:
            # the server ended the match here: every peer may not be able to agree any more
            if self._ended_at_ms is None:
                self._ended_at_ms = now_ms
            if now_ms - self._ended_at_ms >= END_LINGER_MS:
                return True
        if not host.finished:
            return False
        remotes = host.session.remotes.values()
        if all(r.end is not None and r.end.agreed for r in remotes):
            return True
        return self._agreed_at is not None and now_ms - self._agreed_at >= self.linger_ms

    def farewell(self) -> bytes | None:
        """This peer's last word on the current episode, once it agreed on the end: its
        episode-end packet (the same bytes for every other peer). The page hands it on with the
        next episode's "ready", so that a partner still waiting for the end hears it even if
        every copy sent during the linger was lost; ``None`` before agreement."""
        if self._end_packet is not None:  # resumed after the end (see resume())
            return self._end_packet
        session = self._require().session
        if not session.agreed or session.final_hash is None or session.end_frame is None:
            return None
        episode = session.config.episode & wire.MAX_EPISODE
        end = wire.EpisodeEnd(session.local, episode, session.end_frame, session.final_hash, True)
        return wire.encode(end)

    def _require(self) -> GameHost:
        if self.host is None:
            raise PlayError("no episode was started; call start() first")
        return self.host

    # ------------------------------------------------------------------ views

    @property
    def frames(self) -> int:
        """Settled frames of the current episode."""
        return 0 if self.host is None else len(self.host.canonical)

    @property
    def complete(self) -> bool:
        """Whether the current episode's canonical log is complete and agreed by every peer."""
        return self.host is not None and self.host.finished

    def render(self) -> list[Any]:
        host = self._require()
        env = getattr(host.game, "env", host.game)
        render = getattr(env, "render", None)
        drawn = render() if callable(render) else None
        return drawn if isinstance(drawn, list) else []

    def hud(self) -> dict[str, Any]:
        host = self._require()
        return {
            "episode": self.episode,
            "frame": min(host.session.current_frame, self.max_steps),
            "max_steps": self.max_steps,
            "score": self.score,
        }

    def telemetry(self) -> dict[str, Any]:
        """This peer's speculative metadata and session statistics (plain data)."""
        return self._require().telemetry()

    def summary(self) -> dict[str, Any]:
        """Flat numbers for the episode_end summary (per-peer, not canonical)."""
        host = self._require()
        stats = host.session.stats
        rtts = list(stats.rtt_ms.values())
        return {
            "rollbacks": stats.rollbacks,
            "max_rollback_depth": stats.max_rollback_depth,
            "frames_replayed": stats.frames_replayed,
            "stalls": stats.stalls,
            "pauses": stats.pauses,
            "paused_ms": round(stats.paused_ms),
            "disconnected_peer": self.disconnected,
            "wait_frames": stats.wait_frames,
            "hash_checks": stats.hash_checks,
            "desyncs": stats.desyncs,
            "packets_sent": stats.packets_sent,
            "packets_received": stats.packets_received,
            "malformed_packets": stats.malformed_packets,
            "frames_leased": stats.frames_leased,
            "p2p_rtt_ms": round(max(rtts), 2) if rtts else None,
            "agreed": host.session.agreed,
            "final_hash": host.canonical.final_hash,
        }

    def validation(self) -> dict[str, Any]:
        """This peer's part of the validation export: header and per-frame actions and hashes."""
        return self._require().canonical.validation()
