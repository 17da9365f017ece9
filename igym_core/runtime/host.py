"""The game host: runs one peer's game through a :class:`RollbackSession`'s requests.

A :class:`GameHost` owns the game, the AI policies and the records of one peer. Each tick it
takes the packets in, gives the session the local input, executes the session's requests
(save / load / advance) against the game, moves newly settled frames into the
:class:`~igym_core.runtime.record.CanonicalLog`, and sends packets out. The seats of the game
are described by a :class:`SeatPlan`: each agent is controlled by one peer or by an AI policy
that every peer computes identically from the (rolled-back) game state.

This is the glue the Pyodide worker runs per tick and the simulator runs for every peer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from igym_core.runtime.game import Policy, RollbackGame, StepOutcome
from igym_core.runtime.input_queue import PeerInput
from igym_core.runtime.record import CanonicalLog, FrameRecord, RecordError, SpeculativeMeta
from igym_core.runtime.rollback import (
    AdvanceFrame,
    Event,
    LoadState,
    Request,
    RollbackSession,
    SaveState,
    WaitRecommendation,
)

__all__ = ["GameHost", "SeatPlan"]


@dataclass(frozen=True, slots=True)
class SeatPlan:
    """Who controls each agent: ``owners[i]`` is a peer index, or ``None`` for an AI seat.

    A peer's input carries one action per seat it owns, in agent order.
    """

    owners: tuple[int | None, ...]

    def seats_of(self, peer: int) -> tuple[int, ...]:
        """The agent indices peer ``peer`` controls, in order."""
        return tuple(i for i, o in enumerate(self.owners) if o == peer)

    def seats_per_peer(self, num_peers: int) -> tuple[int, ...]:
        """How many actions each peer's input carries."""
        return tuple(len(self.seats_of(p)) for p in range(num_peers))

    @property
    def ai_seats(self) -> tuple[int, ...]:
        """The agent indices played by AI policies."""
        return tuple(i for i, o in enumerate(self.owners) if o is None)

    @classmethod
    def one_seat_each(cls, num_peers: int, num_agents: int | None = None) -> SeatPlan:
        """Peer ``p`` controls agent ``p``; any further agents are AI seats."""
        n = num_peers if num_agents is None else num_agents
        return cls(tuple(i if i < num_peers else None for i in range(n)))


class GameHost:
    """Executes a session's requests against a game and keeps this peer's records.

    ``policies`` maps AI agent indices to :class:`~igym_core.runtime.game.Policy` objects; a
    policy that has ``get_state``/``set_state`` is saved and restored with the game.
    """

    def __init__(
        self,
        session: RollbackSession,
        game: RollbackGame,
        seats: SeatPlan,
        policies: Mapping[int, Policy] | None = None,
    ) -> None:
        self.session = session
        self.game = game
        self.seats = seats
        self.policies = dict(policies or {})
        missing = [i for i in seats.ai_seats if i not in self.policies]
        if missing:
            raise ValueError(f"AI seats {missing} have no policy")
        if len(seats.owners) != len(game.agent_ids):
            raise ValueError(
                f"seat plan has {len(seats.owners)} seats; the game has "
                f"{len(game.agent_ids)} agents"
            )
        expected = seats.seats_per_peer(session.config.num_peers)
        if expected != session.config.seats_per_peer:
            raise ValueError(
                f"seat plan gives peers {expected} seats; the session expects "
                f"{session.config.seats_per_peer}"
            )
        self._stateful = tuple(
            (i, p)
            for i, p in sorted(self.policies.items())
            if callable(getattr(p, "get_state", None)) and callable(getattr(p, "set_state", None))
        )
        # For each agent: (peer, position in that peer's input) or (None, agent index).
        slots: list[tuple[int | None, int]] = []
        for agent, owner in enumerate(seats.owners):
            if owner is None:
                slots.append((None, agent))
            else:
                slots.append((owner, seats.seats_of(owner).index(agent)))
        self._slots = tuple(slots)
        self.canonical = CanonicalLog(game.agent_ids, session.config.episode)
        self.meta = SpeculativeMeta()
        self._rows: dict[int, FrameRecord] = {}
        self._hashes: dict[int, bytes] = {}
        self._done_at: int | None = None
        self._last_focus: bool | None = None
        self.events_seen: list[Event] = []

    # ------------------------------------------------------------------ after a reload

    def restore(self, records: Sequence[FrameRecord]) -> None:
        """Rebuild an episode this peer played before its page was reloaded, from its settled
        ``records`` (frames ``0, 1, …``; ``state_hash`` where one was taken): the game is
        stepped again with the recorded actions, AI seats acting as they did, and every
        outcome must be what was recorded (:class:`RecordError` otherwise: the game is not
        deterministic, or the records are not this episode's). The records become the first
        rows of the canonical log and the session rejoins the match from the next frame
        (:meth:`RollbackSession.restore`). When the records already end the episode, the log
        is complete and the session is not used."""
        game = self.game
        log = self.canonical
        if len(log) or self.session.current_frame:
            raise RecordError("restore() needs a fresh host")
        log.initial_hash = game.state_hash().hex()
        for expected, record in enumerate(records):
            if record.frame != expected:
                raise RecordError(f"the records must be frames 0, 1, …; got {record.frame}")
            if log.end_frame is not None:
                raise RecordError(f"frame {record.frame} comes after the episode's end")
            actions = []
            for agent, (peer, pos) in enumerate(self._slots):
                if peer is None:
                    action = int(self.policies[pos].act(game.observe(pos)))
                    if action != record.actions[agent]:
                        raise RecordError(
                            f"replaying frame {expected}: AI seat {agent} acts {action}, but "
                            f"{record.actions[agent]} was recorded (not deterministic)"
                        )
                    actions.append(action)
                else:
                    actions.append(int(record.actions[agent]))
            outcome: StepOutcome = game.step(actions)
            digest = game.state_hash().hex() if record.state_hash is not None else None
            replayed = (outcome.rewards, outcome.terminated, outcome.truncated, digest)
            if replayed != (record.rewards, record.terminated, record.truncated, record.state_hash):
                raise RecordError(
                    f"replaying frame {expected} gives {replayed}, not what was recorded"
                )
            log.append(
                FrameRecord(
                    expected,
                    tuple(actions),
                    tuple(record.focused),
                    outcome.rewards,
                    outcome.terminated,
                    outcome.truncated,
                    outcome.infos,
                    digest,
                )
            )
            end = self.session.end_frame
            if outcome.terminated or outcome.truncated or (end is not None and expected + 1 >= end):
                if digest is None:
                    digest = game.state_hash().hex()
                log.finish(expected + 1, digest)
        if log.end_frame is not None:
            return
        seats = self.seats
        inputs = [
            [
                PeerInput(
                    tuple(r.actions[i] for i in seats.seats_of(p)),
                    bool(r.focused[seats.seats_of(p)[0]]),
                )
                for r in records
            ]
            for p in range(self.session.config.num_peers)
        ]
        self.session.restore(inputs)

    # ------------------------------------------------------------------ per tick

    def tick(self, now_ms: float, actions: Sequence[int], focused: bool = True) -> list[Event]:
        """One tick: receive, add the local input, advance, execute, record, send.

        Returns the session's events (also appended to :attr:`events_seen`).
        """
        session = self.session
        session.receive(now_ms)
        session.add_local_input(actions, focused)
        if self._last_focus is not focused:
            self.meta.focus_changes.append((session.current_frame, focused))
            self._last_focus = focused
        before = session.stats.stalls
        self.execute(session.advance_frame())
        if session.stats.stalls != before:
            self.meta.stalls += 1
        self.flush()
        session.send(now_ms)
        return self._drain()

    def idle(self, now_ms: float) -> list[Event]:
        """A tick without advancing (waiting on a time-sync recommendation, paused, or after the
        end): network and any pending rollback only."""
        session = self.session
        session.receive(now_ms)
        if session.paused or (
            session.end_frame is not None and session.current_frame >= session.end_frame
        ):
            self.execute(session.advance_frame())
            self.flush()
        session.send(now_ms)
        return self._drain()

    def _drain(self) -> list[Event]:
        events = self.session.events()
        for event in events:
            if isinstance(event, WaitRecommendation):
                self.meta.waits.append((self.session.current_frame, event.frames))
        self.events_seen.extend(events)
        return events

    # ------------------------------------------------------------------ requests

    def execute(self, requests: list[Request]) -> None:
        """Carry out the session's requests in order."""
        game = self.game
        loaded_at: int | None = None
        replayed_to = 0
        for req in requests:
            if type(req) is AdvanceFrame:
                if req.replay:
                    replayed_to = req.frame + 1
                self._advance(req)
            elif type(req) is SaveState:
                state = game.get_state()
                if self._stateful:
                    state = (state, tuple(p.get_state() for _, p in self._stateful))
                digest = None
                if req.want_hash or self._done_at == req.frame - 1:
                    digest = game.state_hash()
                    self._hashes[req.frame] = digest
                req.cell.save(req.frame, state, digest)
            elif type(req) is LoadState:
                state = req.cell.load(req.frame)
                if self._stateful:
                    state, policy_states = state
                    for (_, p), ps in zip(self._stateful, policy_states, strict=True):
                        p.set_state(ps)
                game.set_state(state)
                if self._done_at is not None and self._done_at >= req.frame:
                    self._done_at = None
                loaded_at = req.frame
            else:  # pragma: no cover - the session makes no other requests
                raise TypeError(f"unknown request {req!r}")
        if loaded_at is not None:
            self.meta.rollbacks.append((replayed_to, loaded_at))

    def _advance(self, req: AdvanceFrame) -> None:
        frame = req.frame
        inputs = req.inputs
        if self._done_at is not None and frame > self._done_at:
            self._rows.pop(frame, None)
            return  # the game ended in this timeline; nothing to step
        game = self.game
        actions = []
        focused: list[bool | None] = []
        for peer, pos in self._slots:
            if peer is None:
                actions.append(int(self.policies[pos].act(game.observe(pos))))
                focused.append(None)
            else:
                value = inputs[peer]
                actions.append(value[0][pos])
                focused.append(value[1])
        outcome: StepOutcome = game.step(actions)
        self.meta.steps += 1
        if outcome.terminated or outcome.truncated:
            self._done_at = frame
        self._rows[frame] = FrameRecord(
            frame,
            tuple(actions),
            tuple(focused),
            outcome.rewards,
            outcome.terminated,
            outcome.truncated,
            outcome.infos,
            None,
        )

    # ------------------------------------------------------------------ canonical records

    def flush(self) -> None:
        """Move every newly settled frame from the speculative rows into the canonical log."""
        session = self.session
        log = self.canonical
        if log.initial_hash is None and 0 in self._hashes:
            log.initial_hash = self._hashes[0].hex()
        if log.end_frame is not None:
            return
        settled = session.settled_frame
        rows = self._rows
        hashes = self._hashes
        frame = log.next_frame
        while frame <= settled:
            row = rows.pop(frame)
            digest = hashes.pop(frame + 1, None)
            if digest is not None:
                row = row._replace(state_hash=digest.hex())
            log.append(row)
            if (
                row.terminated
                or row.truncated
                or (session.end_frame is not None and frame + 1 >= session.end_frame)
            ):
                if digest is None:
                    raise RuntimeError(f"no hash was taken of the final state (frame {frame + 1})")
                session.finish_at(frame + 1, digest)
                log.finish(frame + 1, digest.hex())
                rows.clear()
                break
            frame += 1
        for f in [f for f in hashes if f <= frame]:
            del hashes[f]

    @property
    def finished(self) -> bool:
        """Whether the canonical log is complete and every peer agreed on its end."""
        return self.canonical.is_final and self.session.agreed

    def telemetry(self) -> dict[str, Any]:
        """This peer's speculative metadata and session statistics (plain data)."""
        return {"meta": self.meta.as_dict(), "session": self.session.stats.as_dict()}
