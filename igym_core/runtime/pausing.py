"""Pause, resume and rejoin: the part of :class:`~igym_core.runtime.rollback.RollbackSession`
that keeps a game going through outages and reloads (see that module's docstring).

:class:`Pausing` is mixed into the session; it works on the session's queues and remote peers
and keeps the pause state (:attr:`Pausing.paused`), emitting :class:`Paused`,
:class:`Resumed` and :class:`Disconnected`.
"""

from __future__ import annotations

from collections.abc import Sequence

from igym_core.runtime import wire
from igym_core.runtime.input_queue import InputQueue, PeerInput
from igym_core.runtime.session_types import (
    FUTURE_LIMIT,
    Disconnected,
    Event,
    Paused,
    RemotePeer,
    Resumed,
    SessionConfig,
    SessionError,
    SessionStats,
)

__all__ = ["Pausing"]


class Pausing:
    """Pause/resume and rejoin for a rollback session (a mixin: the session owns the state)."""

    config: SessionConfig
    local: int
    queues: list[InputQueue]
    remotes: dict[int, RemotePeer]
    stats: SessionStats
    current_frame: int
    settled_frame: int
    end_frame: int | None
    paused: bool
    disconnected_peer: int | None
    _events: list[Event]
    _started: bool
    _paused_since: float
    _blocked_since: float | None
    _rejoining: bool
    _first_save: int
    _next_hash_frame: int

    @property
    def finished(self) -> bool:  # pragma: no cover - the session's own
        raise NotImplementedError

    @property
    def confirmed_frame(self) -> int:  # pragma: no cover - the session's own
        raise NotImplementedError

    def _send(self, peer: int, packet: wire.Packet) -> None:  # pragma: no cover
        raise NotImplementedError

    def restore(self, inputs: Sequence[Sequence[PeerInput]]) -> None:
        """Start at frame ``len(inputs[0])`` of an episode this peer played before its page was
        reloaded: ``inputs[p]`` are peer ``p``'s confirmed inputs of frames ``0, 1, …`` (from
        the settled records), the same length for every peer. The host has stepped its game
        to that frame itself; the first :meth:`advance_frame` asks it to save the state there.

        The session then rejoins (see the module docstring): it stays paused until every peer
        has echoed the inputs it lost, and emits :class:`Resumed` when play goes on."""
        if self._started:
            raise SessionError("restore() must come before the first advance_frame()")
        cfg = self.config
        if len(inputs) != cfg.num_peers or len({len(run) for run in inputs}) != 1:
            raise SessionError("restore() needs the same number of inputs for every peer")
        frames = len(inputs[0])
        if self.end_frame is not None and frames >= self.end_frame:
            raise SessionError(f"the episode already ended at frame {self.end_frame}")
        self.queues = [
            InputQueue(PeerInput(tuple(cfg.default_actions[p]), True)) for p in range(cfg.num_peers)
        ]
        for p, run in enumerate(inputs):
            for f, value in enumerate(run):
                if len(value[0]) != cfg.seats_per_peer[p]:
                    raise SessionError(f"peer {p}'s input of frame {f} has the wrong width")
                self.queues[p].add(f, PeerInput(tuple(value[0]), bool(value[1])))
        self.current_frame = frames
        self.settled_frame = frames - 1
        self._first_save = frames
        interval = cfg.hash_interval
        self._next_hash_frame = -(-frames // interval) * interval
        if self.end_frame is not None and self._next_hash_frame > self.end_frame:
            self._next_hash_frame = self.end_frame
        self._rejoining = bool(self.remotes)

    def peer_frame(self) -> int:
        """The furthest frame any peer said it had reached (at least ours): where play goes on
        after a pause, so that a peer that fell behind (a rebuilt page) catches up."""
        return max([self.current_frame, *(r.remote_frame for r in self.remotes.values())])

    @property
    def rejoining(self) -> bool:
        """Whether a restored session still waits for the inputs it lost."""
        return self._rejoining

    def hold(self, peer: int, until_ms: float) -> None:
        """Do not end the game for ``peer``'s silence before ``until_ms``: the host knows it is
        coming back (its page reloads and rebuilds, which takes longer than a network blip)."""
        remote = self.remotes.get(peer)
        if remote is not None and until_ms > remote.hold_until_ms:
            remote.hold_until_ms = until_ms

    def _take_filled(self, until: int) -> bool:
        """Whether our inputs up to ``until``, which a partner holds though we never sent
        them, were filled in by it under our focus lease (and are now ours too)."""
        return False

    def _on_rejoin(self, remote: RemotePeer, packet: wire.Rejoin) -> None:
        """A peer rebuilt the episode after a reload: it holds our inputs only up to
        ``your_last`` now (send it the rest again) and asks for its own that we hold."""
        sender = packet.sender
        if packet.your_last > self.queues[self.local].last_confirmed and not self._take_filled(
            packet.your_last
        ):
            raise wire.WireError(f"peer {sender} claims inputs of ours that were never sent")
        remote.acked_by_remote = packet.your_last
        remote.hash_acked_by_remote = -1
        remote.remote_frame = -1
        remote.remote_advantage = 0
        remote.adv_samples.clear()
        remote.end = None
        queue = self.queues[sender]
        last = queue.last_confirmed
        start = packet.own_from
        inputs = tuple(queue.confirmed_range(start, min(last + 1, start + wire.MAX_INPUTS)))
        episode = self.config.episode & wire.MAX_EPISODE
        seats = self.config.seats_per_peer[sender]
        self._send(sender, wire.Echo(self.local, episode, sender, last, start, seats, inputs))

    def _on_echo(self, remote: RemotePeer, packet: wire.Echo) -> None:
        """Our own inputs as a peer holds them (the answer to our rejoin)."""
        if packet.owner != self.local or not self._rejoining:
            return  # a late copy, or meant for someone else's rejoin: nothing to do
        cfg = self.config
        if packet.seats != cfg.seats_per_peer[self.local]:
            raise wire.WireError(f"echo carries {packet.seats} actions per input")
        last = packet.start_frame + len(packet.inputs) - 1
        if max(last, packet.last) > self.current_frame + FUTURE_LIMIT:
            raise wire.WireError("echoed inputs run implausibly far into the future")
        limit = cfg.action_count
        if limit is not None and any(a >= limit for item in packet.inputs for a in item[0]):
            raise wire.WireError(f"an echoed action is not below action_count {limit}")
        queue = self.queues[self.local]
        for i, value in enumerate(packet.inputs):
            queue.add(packet.start_frame + i, value)
        remote.echo_last = max(
            remote.echo_last if remote.echo_last is not None else -1, packet.last
        )
        local_last = queue.last_confirmed
        if all(
            r.echo_last is not None and local_last >= r.echo_last for r in self.remotes.values()
        ):
            self._finish_rejoin()

    def _finish_rejoin(self) -> None:
        """Every peer echoed our inputs: frames nobody has an input of ours for are idle."""
        self._rejoining = False
        queue = self.queues[self.local]
        for f in range(queue.last_confirmed + 1, self.current_frame + self.config.input_delay):
            queue.add(f, queue.default)
        for remote in self.remotes.values():
            remote.acked_by_remote = remote.echo_last if remote.echo_last is not None else -1

    def _update_pause(self, now_ms: float) -> None:
        """Pause, resume, or give up waiting (see the module docstring)."""
        if self.disconnected_peer is not None:
            return
        if self.finished:
            if self.paused:
                self._resume(now_ms)
            return
        cfg = self.config
        if not self.paused:
            silent = tuple(p for p, r in self.remotes.items() if self._silent(r, now_ms))
            blocked = (
                self._blocked_since is not None
                and now_ms - self._blocked_since >= cfg.pause_after_ms
            )
            if silent or blocked or self._rejoining:
                waiting = silent or self._waiting_for(now_ms) or tuple(self.remotes)
                self.paused = True
                self._paused_since = now_ms
                self.stats.pauses += 1
                self._events.append(Paused(self.current_frame, waiting))
            return
        waiting = self._waiting_for(now_ms)
        if not waiting:
            self._resume(now_ms)
            return
        for peer in waiting:
            remote = self.remotes[peer]
            deadline = max(self._paused_since + cfg.reconnect_timeout_ms, remote.hold_until_ms)
            if now_ms >= deadline:
                self.disconnected_peer = peer
                remote.disconnected = True
                self._events.append(Disconnected(peer, self.queues[peer].last_confirmed))
                return

    def _silent(self, remote: RemotePeer, now_ms: float) -> bool:
        heard = remote.last_heard_ms
        return heard is not None and now_ms - heard >= self.config.pause_after_ms

    def _waiting_for(self, now_ms: float) -> tuple[int, ...]:
        """The peers play cannot resume without: silent, holding inputs we lack, lacking ours,
        not done echoing (while rejoining), or so far behind that we could not advance."""
        cfg = self.config
        local_last = self.queues[self.local].last_confirmed
        out = []
        for peer, remote in self.remotes.items():
            queue = self.queues[peer]
            if (
                remote.last_heard_ms is None
                or self._silent(remote, now_ms)
                or remote.advertised_last > queue.last_confirmed
                or (self._rejoining and (remote.echo_last is None or local_last < remote.echo_last))
                or (not self._rejoining and remote.acked_by_remote < local_last)
                or self.current_frame - queue.last_confirmed > cfg.max_prediction
            ):
                out.append(peer)
        return tuple(out)

    def _resume(self, now_ms: float) -> None:
        paused_ms = now_ms - self._paused_since
        self.paused = False
        self._blocked_since = None
        self.stats.paused_ms += paused_ms
        self._events.append(Resumed(self.current_frame, self.confirmed_frame, paused_ms))
