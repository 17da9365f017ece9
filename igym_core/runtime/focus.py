"""Focus loss: the part of :class:`~igym_core.runtime.rollback.RollbackSession` that keeps the
partners of a hidden (throttled, even frozen) tab playing without a single stalled frame.

A peer whose tab is hidden plays its idle input: the default actions, unfocused. It says so
ahead of time with a lease (:class:`~igym_core.runtime.wire.Focus`): "my inputs from frame F on
are idle until I am back". Each partner then fills that peer's inputs in itself, as confirmed,
for every frame it simulates, so it never waits for the hidden peer's packets, never rolls
back for them and never stalls, however long the hidden tab's worker sleeps. Both sides hold
the same inputs, so the canonical log (and its ``focused`` columns) is the same everywhere.

Coming back needs one round trip, because a partner may already have taken idle inputs up to
its own present. The returning peer catches up to the present first (still idle), then asks
to come back; each partner fixes where its lease ends (``lease_end``: a few frames past what it
filled in; it fills up to there at once) and answers; the returning peer's real inputs start
at the furthest of those ends (every frame before it is idle on every peer: filled in, or sent
as ordinary idle inputs). A partner whose lease ended treats the peer like any other.

While a lease runs, its peer does not count for time synchronisation or silence (it is known
to be idle; its tab may be frozen). The server decides how long a tab may stay hidden
(the ``tab_hidden`` monitoring rule).
"""

from __future__ import annotations

from igym_core.runtime import wire
from igym_core.runtime.input_queue import InputQueue, PeerInput
from igym_core.runtime.session_types import FUTURE_LIMIT, RemotePeer, SessionConfig, SessionStats

__all__ = ["FocusLease"]

#: frames past its present a partner's lease runs on after the peer asked to come back
LEASE_MARGIN = 3


class _Lease:
    """What this peer knows of a remote peer's lease."""

    __slots__ = ("away_from", "end")

    def __init__(self, away_from: int) -> None:
        self.away_from = away_from
        self.end: int | None = None  # fixed once the peer asked to come back


class FocusLease:
    """Focus leases for a rollback session (a mixin: the session owns the queues)."""

    config: SessionConfig
    local: int
    queues: list[InputQueue]
    remotes: dict[int, RemotePeer]
    current_frame: int
    stats: SessionStats
    _now_ms: float

    def _send(self, peer: int, packet: wire.Packet) -> None:  # pragma: no cover - the session's
        raise NotImplementedError

    def _confirm(self, sender: int, frame: int, value: PeerInput) -> None:  # pragma: no cover
        raise NotImplementedError

    def _init_focus(self) -> None:
        #: this peer's own lease: idle from this frame on (None: not away)
        self.away_from: int | None = None
        #: where this peer's real inputs start again, once every partner fixed its lease end
        self.back_at: int | None = None
        self._wants_back = False
        self._wanted_back_ms = 0.0
        self._asking = False
        self._lease_ends: dict[int, int] = {}
        self._leases: dict[int, _Lease] = {}
        #: per remote peer: the end of its last lease (older focus packets are stale)
        self._ended: dict[int, int] = {}

    # -- this peer ------------------------------------------------------------------------------

    def _own_focus(self, focused: bool) -> None:
        """The local tab's focus, at each tick's input."""
        next_frame = self.queues[self.local].last_confirmed + 1
        if not focused and self.away_from is None:
            self._away(next_frame)
        elif not focused and self.back_at is not None:  # hidden again right after coming back
            self._away(max(next_frame, self.back_at))
        elif focused and self.away_from is not None and self.back_at is None:
            if not self._wants_back:  # a back request under way goes on even if hidden again
                self._wanted_back_ms = self._now_ms
            self._wants_back = True

    def _away(self, frame: int) -> None:
        self.away_from = frame
        self.back_at = None
        self._wants_back = False
        self._asking = False
        self._lease_ends = {}

    def _own_input(self, frame: int, value: PeerInput) -> PeerInput:
        """The local input of ``frame``: idle while this peer's lease covers it."""
        away = self.away_from
        leased = away is not None and frame >= away
        if leased and self.back_at is not None and frame >= self.back_at:
            leased = False
        if not leased and value.focused:
            return value
        # an unfocused input is idle whatever the host gave: partners may fill it in
        return PeerInput(tuple(self.config.default_actions[self.local]), False)

    def _take_filled(self, until: int) -> bool:
        """A partner that rejoins after a reload holds our inputs up to ``until``: while our
        lease runs it filled them in as idle itself, before we sent them. They are ours:
        idle, unfocused (see :meth:`Pausing._on_rejoin`)."""
        queue = self.queues[self.local]
        away = self.away_from
        if (
            away is None
            or queue.last_confirmed + 1 < away
            or until > self.current_frame + FUTURE_LIMIT
        ):
            return False
        idle = PeerInput(tuple(self.config.default_actions[self.local]), False)
        for frame in range(queue.last_confirmed + 1, until + 1):
            queue.add(frame, idle)
        return True

    def catch_up_frame(self) -> int | None:
        """While this peer is away and far behind its partners' present (its tab was frozen,
        or a pause restarted its clock before the partners' frames were heard): the frame its
        clock should jump to, so that it catches up and can ask to come back. None otherwise."""
        if self.away_from is None or self.back_at is not None or getattr(self, "paused", False):
            return None
        ahead = max([self.current_frame, *(r.remote_frame for r in self.remotes.values())])
        if ahead - self.current_frame <= self.config.input_delay + 2:
            return None
        return ahead

    def _caught_up(self) -> bool:
        """Whether this peer is as far as its partners said they were (after a frozen tab),
        judged on packets heard after it came back: older ones (from before a freeze or an
        outage) would make it ask too early, and its partners would then wait for it."""
        slack = self.config.input_delay + 2
        return all(
            r.frame_heard_ms is not None
            and r.frame_heard_ms > self._wanted_back_ms
            and (r.remote_frame < 0 or r.remote_frame - self.current_frame <= slack)
            for r in self.remotes.values()
        )

    def _update_focus(self) -> None:
        if not self._wants_back or self.back_at is not None:
            if self.back_at is not None and self.queues[self.local].last_confirmed >= self.back_at:
                self.away_from = None  # every partner has our real inputs again
                self.back_at = None
            return
        self._asking = self._asking or self._caught_up()
        if self._asking and len(self._lease_ends) == len(self.remotes):
            own = self.queues[self.local].last_confirmed + 1
            self.back_at = max(own, *self._lease_ends.values())
            self._wants_back = False
            self._asking = False

    # -- remote peers ---------------------------------------------------------------------------

    def _on_focus(self, sender: int, packet: wire.Focus) -> None:
        if max(packet.lease_end, packet.away_from) > self.current_frame + FUTURE_LIMIT:
            raise wire.WireError("focus lease implausibly far in the future")
        own = self.away_from
        if self._asking and own is not None and packet.lease_end >= own:
            self._lease_ends.setdefault(sender, packet.lease_end)
        lease = self._leases.get(sender)
        if packet.away_from < 0:
            if lease is not None:
                if lease.end is None:  # back without asking (a page that lost its lease)
                    lease.end = self.queues[sender].last_confirmed + 1
                self._ended[sender] = lease.end
                del self._leases[sender]  # back: its real inputs come from lease.end on
            return
        if packet.away_from < self._ended.get(sender, 0):
            return  # a late copy from a lease that is over
        if lease is None or (lease.end is not None and packet.away_from >= lease.end):
            lease = self._leases[sender] = _Lease(packet.away_from)
        if packet.back and lease.end is None:
            queue = self.queues[sender]
            if queue.last_confirmed + 1 >= lease.away_from:
                lease.end = max(queue.last_confirmed + 1, self.current_frame) + LEASE_MARGIN
                self._fill(sender, lease, lease.end - 1)
            else:  # nothing filled in yet: the lease ends before it began
                lease.end = queue.last_confirmed + 1

    def _end_lease(self, peer: int) -> None:
        """``peer``'s page was reloaded and lost its own lease (it rejoins): its inputs are
        its own again from the first frame not filled in, which the rejoin's echo gives it."""
        lease = self._leases.pop(peer, None)
        if lease is not None:
            self._ended[peer] = self.queues[peer].last_confirmed + 1

    def _fill(self, peer: int, lease: _Lease, until: int) -> None:
        """Take ``peer``'s idle inputs of frames up to ``until`` as confirmed."""
        queue = self.queues[peer]
        stop = until if lease.end is None else min(until, lease.end - 1)
        idle = PeerInput(tuple(self.config.default_actions[peer]), False)
        frame = max(queue.last_confirmed + 1, lease.away_from)
        if frame != queue.last_confirmed + 1:
            return  # an input before the lease is missing: it must come first
        while frame <= stop:
            self._confirm(peer, frame, idle)  # a prediction that was not idle: a rollback
            self.stats.frames_leased += 1
            frame = queue.last_confirmed + 1

    def _synthesize(self) -> None:
        """Before a frame is simulated: every leased peer's idle inputs up to it."""
        for peer, lease in self._leases.items():
            self._fill(peer, lease, self.current_frame)

    def leased(self, peer: int) -> bool:
        """Whether ``peer``'s inputs are being filled in (a lease without an end yet, or one
        that has not run out)."""
        lease = self._leases.get(peer)
        return lease is not None and (lease.end is None or self.current_frame < lease.end)

    def _focus_packet(self, peer: int, episode: int) -> wire.Focus | None:
        """What to tell ``peer`` about leases this tick (None: nothing to say)."""
        lease = self._leases.get(peer)
        lease_end = lease.end if lease is not None and lease.end is not None else -1
        away = self.away_from if self.away_from is not None and self.back_at is None else -1
        if away < 0 and lease_end < 0 and self.back_at is None:
            return None
        return wire.Focus(self.local, episode, away, self._asking, lease_end)
