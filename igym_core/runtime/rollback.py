"""GGPO-style rollback session for N peers, driven by its host (in the manner of GGRS).

The session never owns the game, a clock or a socket. Each tick its host:

1. calls :meth:`RollbackSession.receive` with the time (``now_ms``, any monotonic clock in ms)
   to take in the packets its :class:`~igym_core.runtime.netsim.Transport` received;
2. calls :meth:`~RollbackSession.add_local_input` with the local peer's actions (one per seat it
   owns) and focus flag, then :meth:`~RollbackSession.advance_frame`, which returns a short list
   of requests — :class:`SaveState`, :class:`LoadState`, :class:`AdvanceFrame` — that the host
   executes in order against its game;
3. calls :meth:`~RollbackSession.send` to put the local inputs, acks, hash reports and pings on
   the wire;
4. drains :meth:`~RollbackSession.events` (values, not callbacks): :class:`WaitRecommendation`,
   :class:`NetworkInterrupted`, :class:`NetworkResumed`, :class:`Paused`, :class:`Resumed`,
   :class:`Disconnected`, :class:`DesyncDetected`, :class:`EpisodeAgreed`.

Frames are numbered from 0. The input of frame ``f`` is applied when the game steps from state
``f`` to state ``f + 1``; a snapshot "of frame ``f``" is the state before that step. The local
input given while the session is at frame ``f`` is scheduled for frame ``f + input_delay``; the
first ``input_delay`` frames use the default input.

Prediction repeats a peer's last confirmed input. When a confirmed input arrives that differs from
what a simulated frame used, the next :meth:`advance_frame` loads the snapshot of the first
wrong frame and replays to the present (a rollback). The session never simulates more than
``max_prediction`` frames past the last frame whose inputs are all confirmed: at that point it
stalls (returns no :class:`AdvanceFrame` for the present) until inputs arrive.

:attr:`RollbackSession.settled_frame` is the last frame whose simulation is final (its inputs and
all earlier ones are confirmed and have been replayed); the host moves records up to it into its
canonical log. Every ``hash_interval`` frames the session exchanges the hash of the settled state
with every peer and reports a mismatch as :class:`DesyncDetected`. When ``max_frames`` (or an end
set with :meth:`~RollbackSession.finish_at`) is settled, the peers exchange
:class:`~igym_core.runtime.wire.EpisodeEnd` packets and :class:`EpisodeAgreed` is emitted once
all agree on the end frame and the final hash.

Pause and resume: when a peer's inputs stop arriving — nothing at all from it for
``pause_after_ms`` (its data channel and relay are silent), or the session stalled that long
waiting for its inputs (it paused itself, or a one-way outage) — the session pauses
(:class:`Paused`): it simulates nothing new, but keeps sending, acknowledging and answering, so
that every input sent during the outage is exchanged. It resumes (:class:`Resumed`) once every
peer is heard, holds every input the others sent, has acknowledged ours and could advance; every
peer pauses and resumes the same way, so the confirmed inputs (and the canonical log) are those
of an uninterrupted game. Paused past ``reconnect_timeout_ms`` (or a :meth:`~RollbackSession.hold`
the host was told about) gives :class:`Disconnected`.

Rejoin after a reload: a page that lost its session rebuilds the episode from its settled records
(:meth:`RollbackSession.restore`); the new session starts paused and asks every peer
(:class:`~igym_core.runtime.wire.Rejoin`) for the inputs it lost — the others' since its last
record, and its own that reached them (:class:`~igym_core.runtime.wire.Echo`), which it must
play again exactly as they were. Inputs that never left the old page are nobody's: the new page
plays idle for those frames it cannot fill.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

from igym_core.runtime import wire
from igym_core.runtime.focus import FocusLease
from igym_core.runtime.input_queue import InputQueue, PeerInput
from igym_core.runtime.pausing import Pausing
from igym_core.runtime.session_types import (
    FUTURE_LIMIT,
    AdvanceFrame,
    Desync,
    DesyncDetected,
    Disconnected,
    EpisodeAgreed,
    Event,
    LoadState,
    NetworkInterrupted,
    NetworkResumed,
    Paused,
    RemotePeer,
    Request,
    Resumed,
    SaveState,
    SessionConfig,
    SessionError,
    SessionStats,
    StateCell,
    Transport,
    WaitRecommendation,
)

__all__ = [
    "AdvanceFrame",
    "Desync",
    "DesyncDetected",
    "Disconnected",
    "EpisodeAgreed",
    "Event",
    "LoadState",
    "NetworkInterrupted",
    "NetworkResumed",
    "Paused",
    "Request",
    "Resumed",
    "RollbackSession",
    "SaveState",
    "SessionConfig",
    "SessionError",
    "SessionStats",
    "StateCell",
    "Transport",
    "WaitRecommendation",
]


class RollbackSession(FocusLease, Pausing):
    """One peer's rollback session for one episode. See the module docstring for the protocol;
    focus loss (leases) is :mod:`igym_core.runtime.focus`, pausing and rebuilding
    :mod:`igym_core.runtime.pausing`."""

    def __init__(self, config: SessionConfig, transport: Transport) -> None:
        self.config = config
        self.transport = transport
        self.local = config.local_peer
        self.queues = [
            InputQueue(PeerInput(tuple(config.default_actions[p]), True))
            for p in range(config.num_peers)
        ]
        self.remotes: dict[int, RemotePeer] = {
            p: RemotePeer(config.time_sync_window)
            for p in range(config.num_peers)
            if p != self.local
        }
        self.stats = SessionStats()
        self.current_frame = 0
        self.settled_frame = -1
        self.end_frame: int | None = config.max_frames
        self.desyncs: list[Desync] = []
        self.local_hashes: dict[int, bytes] = {}
        self.final_hash: bytes | None = None
        self.agreed = False
        self._ring = [StateCell() for _ in range(config.max_prediction + 2)]
        self._used: dict[int, tuple[PeerInput, ...]] = {}
        self._first_wrong: int | None = None
        self._pending_local: PeerInput | None = None
        self._events: list[Event] = []
        self._started = False
        self._next_hash_frame = 0
        self._hash_reports: list[tuple[int, bytes]] = []  # mine, not yet acked by everyone
        self._last_agreed_hash = -1
        self._sync_counter = 0
        self._wait_until_frame = 0
        self._local_advantages: deque[int] = deque(maxlen=config.time_sync_window)
        self._now_ms = 0.0
        self._init_focus()
        #: whether the session is paused (see the module docstring)
        self.paused = False
        self._paused_since = 0.0
        self._blocked_since: float | None = None
        #: the peer whose silence ended the game (a :class:`Disconnected` was emitted)
        self.disconnected_peer: int | None = None
        self._rejoining = False
        self._first_save = 0
        #: end_at() undid frames simulated past the new end: state end_frame is saved again
        self._rewound = False
        local_queue = self.queues[self.local]
        for f in range(config.input_delay):
            local_queue.add(f, local_queue.default)

    # ------------------------------------------------------------------ host API: inputs, frames

    @property
    def confirmed_frame(self) -> int:
        """The last frame for which every peer's input (and every earlier one) is known."""
        return min(q.last_confirmed for q in self.queues)

    @property
    def finished(self) -> bool:
        """Whether the whole episode is settled locally (the canonical log is complete)."""
        return self.end_frame is not None and self.settled_frame >= self.end_frame - 1

    def add_local_input(self, actions: Sequence[int], focused: bool = True) -> None:
        """Give the local peer's actions (one per owned seat) for the next advance."""
        seats = self.config.seats_per_peer[self.local]
        if len(actions) != seats:
            raise SessionError(f"local peer owns {seats} seats; got {len(actions)} actions")
        limit = self.config.action_count
        for a in actions:
            if not isinstance(a, int) or a < 0 or (limit is not None and a >= limit):
                raise SessionError(f"action {a!r} is not a valid action")
        self._pending_local = PeerInput(tuple(actions), bool(focused))
        self._own_focus(bool(focused))

    def advance_frame(self) -> list[Request]:
        """Plan this tick: a rollback if a prediction was wrong, then the next frame unless the
        session must stall. Returns the requests for the host to execute in order."""
        cfg = self.config
        requests: list[Request] = []
        ring = self._ring
        size = len(ring)
        self._collect_hashes()
        self._update_focus()
        self._synthesize()  # leased peers' idle inputs: a wrong prediction is replayed below
        if not self._started:
            self._started = True
            first = self._first_save
            cell = ring[first % size]
            cell.frame = first
            end = self.end_frame
            want = first == 0 or first % cfg.hash_interval == 0 or first == end
            requests.append(SaveState(first, cell, want))
        current = self.current_frame
        first_wrong = self._first_wrong
        if first_wrong is not None and first_wrong < current:
            depth = current - first_wrong
            stats = self.stats
            stats.rollbacks += 1
            stats.frames_replayed += depth
            if depth > stats.max_rollback_depth:
                stats.max_rollback_depth = depth
            stats.rollback_depths[depth] = stats.rollback_depths.get(depth, 0) + 1
            requests.append(LoadState(first_wrong, ring[first_wrong % size]))
            for f in range(first_wrong, current):
                inputs, confirmed = self._inputs_for(f)
                requests.append(AdvanceFrame(f, inputs, True, confirmed))
                requests.append(self._save_request(f + 1))
        elif self._rewound:  # back to the state of the new end, hashed this time
            requests.append(LoadState(current, ring[current % size]))
            requests.append(self._save_request(current))
        self._rewound = False
        self._first_wrong = None
        pending = self._pending_local
        self._pending_local = None
        end = self.end_frame
        if end is not None and current >= end:
            pass  # the episode is fully simulated; only rollbacks remain to be done
        elif self.paused:
            pass  # nothing new until every peer is back (see _update_pause)
        elif current - self._remote_confirmed() > cfg.max_prediction:
            self.stats.stalls += 1
            if self._blocked_since is None:
                self._blocked_since = self._now_ms
        else:
            self._blocked_since = None
            if pending is None:
                raise SessionError("advance_frame() needs add_local_input() first")
            frame = current + cfg.input_delay
            self.queues[self.local].add(frame, self._own_input(frame, pending))
            inputs, confirmed = self._inputs_for(current)
            requests.append(AdvanceFrame(current, inputs, False, confirmed))
            requests.append(self._save_request(current + 1))
            self.current_frame = current = current + 1
            self.stats.frames_advanced += 1
            self._time_sync()
        confirmed_frame = self.confirmed_frame
        settled = min(confirmed_frame, current - 1)
        if end is not None:
            settled = min(settled, end - 1)
        if settled > self.settled_frame:
            self.settled_frame = settled
        used = self._used
        if used:
            for f in [f for f in used if f <= confirmed_frame]:
                del used[f]
        return requests

    def finish_at(self, end_frame: int, final_hash: bytes) -> None:
        """End the episode after ``end_frame`` frames: the game terminated in settled frame
        ``end_frame - 1`` and ``final_hash`` is the hash of the state it ended in. Every peer
        must find the same end (compared through episode-end packets); the session stops
        advancing past it."""
        if end_frame - 1 > self.settled_frame:
            raise SessionError(f"frame {end_frame - 1} is not settled yet")
        if self.end_frame is not None and end_frame >= self.end_frame:
            return
        self.end_frame = end_frame
        self.settled_frame = min(self.settled_frame, end_frame - 1)
        self.final_hash = final_hash
        self.local_hashes[end_frame] = final_hash
        self._hash_reports = [r for r in self._hash_reports if r[0] < end_frame]
        self._hash_reports.append((end_frame, final_hash))
        self._next_hash_frame = end_frame + 1
        self._check_end()

    def end_at(self, end_frame: int) -> int | None:
        """End the episode after ``end_frame`` frames instead of its own end: the server
        ended the match (a member was excluded) and told every peer the same frame, chosen
        ahead of where any of them had settled. Every peer then settles exactly ``end_frame``
        frames and agrees on the end as usual (a peer on a focus lease needs nothing from its
        partners: its inputs are filled in). Frames simulated past it (not settled) are undone.

        Returns the frame the episode ends at (earlier when it ends before ``end_frame``
        anyway), or None when frame ``end_frame - 1`` is already settled here: the episode
        cannot end there, and the host ends where it is."""
        end = self.end_frame
        if end is not None and end_frame >= end:
            return end
        if end_frame - 1 <= self.settled_frame:
            return None
        if self.current_frame >= end_frame:  # state end_frame was saved, without its hash
            if self._ring[end_frame % len(self._ring)].frame != end_frame:
                return None  # pragma: no cover - within the prediction window it is there
            self.current_frame = end_frame
            # a pending rollback to before the end replays up to it and saves it hashed
            first_wrong = self._first_wrong
            self._rewound = first_wrong is None or first_wrong >= end_frame
            self._used = {f: v for f, v in self._used.items() if f < end_frame}
        self.end_frame = end_frame
        if self._next_hash_frame > end_frame:
            self._next_hash_frame = end_frame
        return end_frame

    def events(self) -> list[Event]:
        """Events since the last call (and forget them)."""
        out, self._events = self._events, []
        return out

    # ------------------------------------------------------------------ host API: network

    def poll(self, now_ms: float) -> None:
        """:meth:`receive` then :meth:`send`."""
        self.receive(now_ms)
        self.send(now_ms)

    def receive(self, now_ms: float) -> None:
        """Take in every packet the transport has received. Malformed, hostile or stale packets
        are counted in :attr:`stats` and otherwise ignored."""
        self._now_ms = now_ms
        for sender, data in self.transport.receive():
            self.stats.packets_received += 1
            self.stats.bytes_received += len(data)
            try:
                self.handle_packet(sender, data, now_ms)
            except wire.WireError:
                self.stats.malformed_packets += 1
        self._check_liveness(now_ms)
        self._collect_hashes()
        self._update_pause(now_ms)

    def handle_packet(self, sender: int, data: bytes, now_ms: float | None = None) -> None:
        """Apply one received packet. Raises :class:`~igym_core.runtime.wire.WireError` — and
        changes nothing — when it is malformed or cannot come from ``sender`` in this session."""
        if now_ms is None:
            now_ms = self._now_ms
        packet = wire.decode(data)
        if packet.sender != sender:
            raise wire.WireError(f"packet claims sender {packet.sender} but came from {sender}")
        remote = self.remotes.get(sender)
        if remote is None:
            raise wire.WireError(f"peer {sender} is not a remote peer of this session")
        if packet.episode != self.config.episode & wire.MAX_EPISODE:
            self.stats.stale_packets += 1
            return
        if isinstance(packet, wire.InputPacket):
            self._check_input_packet(packet)
            self._on_input(remote, packet)
        elif isinstance(packet, wire.HashPacket):
            self._on_hashes(remote, packet)
        elif isinstance(packet, wire.Ping):
            self._send(sender, wire.Pong(self.local, packet.episode, packet.time_ms))
        elif isinstance(packet, wire.Pong):
            if packet.time_ms <= now_ms:
                rtt = now_ms - packet.time_ms
                remote.rtt_ms = rtt if remote.rtt_ms is None else 0.8 * remote.rtt_ms + 0.2 * rtt
                self.stats.rtt_ms[sender] = remote.rtt_ms
        elif isinstance(packet, wire.EpisodeEnd):
            remote.end = packet
            self._check_end()
        elif isinstance(packet, wire.Focus):
            self._on_focus(sender, packet)
        elif isinstance(packet, wire.Rejoin):
            self._end_lease(sender)  # its page lost the lease with the rest of its state
            self._on_rejoin(remote, packet)
        elif isinstance(packet, wire.Echo):
            self._on_echo(remote, packet)
        remote.last_heard_ms = now_ms
        if remote.interrupted:
            remote.interrupted = False
            self._events.append(NetworkResumed(sender))

    def send(self, now_ms: float) -> None:
        """Send every remote peer its packets: the local inputs it has not acknowledged (up to
        ``max_inputs_per_packet``, oldest first) with acks, unacknowledged hash reports, a ping
        every ``ping_interval_ms``, and the episode-end report once the episode is settled."""
        self._now_ms = now_ms
        cfg = self.config
        local_queue = self.queues[self.local]
        last_local = local_queue.last_confirmed
        episode = cfg.episode & wire.MAX_EPISODE
        seats = cfg.seats_per_peer[self.local]
        local_adv = self._local_advantage_raw()
        for peer, remote in self.remotes.items():
            if self._rejoining:  # ask for what was lost; nothing else makes sense yet
                self._send(
                    peer,
                    wire.Rejoin(
                        self.local, episode, last_local + 1, self.queues[peer].last_confirmed
                    ),
                )
                if (
                    remote.last_ping_ms is None
                    or now_ms - remote.last_ping_ms >= cfg.ping_interval_ms
                ):
                    remote.last_ping_ms = now_ms
                    self._send(peer, wire.Ping(self.local, episode, now_ms))
                continue
            start = remote.acked_by_remote + 1
            stop = min(last_local + 1, start + cfg.max_inputs_per_packet)
            inputs = tuple(local_queue.confirmed_range(start, stop))
            self._send(
                peer,
                wire.InputPacket(
                    self.local,
                    episode,
                    self.current_frame,
                    local_adv.get(peer, 0),
                    min(self.queues[peer].last_confirmed, remote.inputs_sent),
                    remote.hash_received,
                    start,
                    seats,
                    inputs,
                ),
            )
            unacked = [r for r in self._hash_reports if r[0] > remote.hash_acked_by_remote]
            if unacked:
                self._send(
                    peer, wire.HashPacket(self.local, episode, tuple(unacked[: wire.MAX_HASHES]))
                )
            if remote.last_ping_ms is None or now_ms - remote.last_ping_ms >= cfg.ping_interval_ms:
                remote.last_ping_ms = now_ms
                self._send(peer, wire.Ping(self.local, episode, now_ms))
            focus = self._focus_packet(peer, episode)
            if focus is not None:
                self._send(peer, focus)
            if self.final_hash is not None and self.end_frame is not None:
                self._send(
                    peer,
                    wire.EpisodeEnd(
                        self.local, episode, self.end_frame, self.final_hash, self.agreed
                    ),
                )

    # ------------------------------------------------------------------ internals

    def _send(self, peer: int, packet: wire.Packet) -> None:
        data = wire.encode(packet)
        self.stats.packets_sent += 1
        self.stats.bytes_sent += len(data)
        self.transport.send(peer, data)

    def _save_request(self, frame: int) -> SaveState:
        cell = self._ring[frame % len(self._ring)]
        cell.frame = frame
        cell.hash = None
        end = self.end_frame
        want = frame % self.config.hash_interval == 0 or (end is not None and frame == end)
        return SaveState(frame, cell, want)

    def _remote_confirmed(self) -> int:
        local = self.local
        return min(q.last_confirmed for p, q in enumerate(self.queues) if p != local)

    def _inputs_for(self, frame: int) -> tuple[tuple[PeerInput, ...], bool]:
        inputs = []
        all_confirmed = True
        for q in self.queues:
            value, confirmed = q.input_for(frame)
            inputs.append(value)
            if not confirmed:
                all_confirmed = False
        result = tuple(inputs)
        if all_confirmed:
            self._used.pop(frame, None)
        else:
            self._used[frame] = result
        return result, all_confirmed

    def _check_input_packet(self, packet: wire.InputPacket) -> None:
        cfg = self.config
        sender = packet.sender
        if packet.seats != cfg.seats_per_peer[sender]:
            raise wire.WireError(
                f"peer {sender} sent {packet.seats} actions per input; it owns "
                f"{cfg.seats_per_peer[sender]} seats"
            )
        last = packet.start_frame + len(packet.inputs) - 1
        if last > self.current_frame + FUTURE_LIMIT:
            raise wire.WireError(f"input for frame {last} is implausibly far in the future")
        if packet.ack_frame > self.queues[self.local].last_confirmed and not self._rejoining:
            raise wire.WireError(
                f"peer {sender} acknowledges input {packet.ack_frame} that was never sent"
            )
        limit = cfg.action_count
        if limit is not None:
            for item in packet.inputs:
                for a in item[0]:
                    if a >= limit:
                        raise wire.WireError(f"action {a} is not below action_count {limit}")

    def _on_input(self, remote: RemotePeer, packet: wire.InputPacket) -> None:
        sender = packet.sender
        if packet.ack_frame > remote.acked_by_remote:
            remote.acked_by_remote = packet.ack_frame
        if packet.hash_ack > remote.hash_acked_by_remote:
            remote.hash_acked_by_remote = packet.hash_ack
            self._drop_acked_hashes()
        if packet.frame >= remote.remote_frame:
            remote.remote_frame = packet.frame
            remote.remote_advantage = packet.advantage
            remote.frame_heard_ms = self._now_ms
        last = packet.start_frame + len(packet.inputs) - 1
        if last > remote.inputs_sent:
            remote.inputs_sent = last
        if packet.inputs and last > remote.advertised_last:
            remote.advertised_last = last
        queue = self.queues[sender]
        frame = packet.start_frame
        for value in packet.inputs:
            if frame <= queue.last_confirmed:
                self.stats.duplicate_inputs += 1
                frame += 1
                continue
            self._confirm(sender, frame, value)
            frame += 1

    def _confirm(self, sender: int, frame: int, value: PeerInput) -> None:
        """Record a remote peer's confirmed input, marking the first frame simulated with a
        wrong prediction for a rollback."""
        queue = self.queues[sender]
        used = self._used
        current = self.current_frame
        for f in queue.add(frame, value):
            if f < current:
                was = used.get(f)
                if was is not None and was[sender] != queue.get(f):
                    if self._first_wrong is None or f < self._first_wrong:
                        self._first_wrong = f

    def _on_hashes(self, remote: RemotePeer, packet: wire.HashPacket) -> None:
        if packet.reports and packet.reports[-1][0] > self.current_frame + FUTURE_LIMIT:
            raise wire.WireError("hash report for a frame implausibly far in the future")
        for frame, digest in packet.reports:
            if frame <= remote.hash_received:
                continue
            remote.hashes[frame] = digest
        if packet.reports and packet.reports[-1][0] > remote.hash_received:
            remote.hash_received = packet.reports[-1][0]
        self._compare_hashes()

    def _drop_acked_hashes(self) -> None:
        lowest = min(r.hash_acked_by_remote for r in self.remotes.values())
        if self._hash_reports and self._hash_reports[0][0] <= lowest:
            self._hash_reports = [r for r in self._hash_reports if r[0] > lowest]

    def _collect_hashes(self) -> None:
        """Record the hashes of newly settled states and queue them for the peers."""
        interval = self.config.hash_interval
        settled = self.settled_frame
        ring = self._ring
        end = self.end_frame
        while self._next_hash_frame <= settled + 1:
            frame = self._next_hash_frame
            if end is not None and frame > end:
                break
            cell = ring[frame % len(ring)]
            if cell.frame != frame or cell.hash is None:
                break  # the host has not executed the save yet
            self.local_hashes[frame] = cell.hash
            self._hash_reports.append((frame, cell.hash))
            if end is not None and frame == end:
                self.final_hash = cell.hash
            self._next_hash_frame = frame + interval
            if end is not None and frame < end < self._next_hash_frame:
                self._next_hash_frame = end
        if self.final_hash is None and end is not None and settled >= end - 1:
            cell = ring[end % len(ring)]
            if cell.frame == end and cell.hash is not None:
                self.final_hash = cell.hash
                self.local_hashes[end] = cell.hash
                if not self._hash_reports or self._hash_reports[-1][0] != end:
                    self._hash_reports.append((end, cell.hash))
        self._compare_hashes()
        self._check_end()

    def _compare_hashes(self) -> None:
        local_hashes = self.local_hashes
        for peer, remote in self.remotes.items():
            if not remote.hashes:
                continue
            for frame in sorted(remote.hashes):
                mine = local_hashes.get(frame)
                if mine is None:
                    continue
                theirs = remote.hashes.pop(frame)
                self.stats.hash_checks += 1
                if mine == theirs:
                    if frame > self._last_agreed_hash and not self.desyncs:
                        self._last_agreed_hash = frame
                    continue
                self.stats.desyncs += 1
                if not any(d.peer == peer for d in self.desyncs):
                    self._events.append(
                        DesyncDetected(frame, peer, mine, theirs, self._last_agreed_hash)
                    )
                self.desyncs.append(Desync(frame, peer, mine.hex(), theirs.hex()))

    def _check_end(self) -> None:
        if self.agreed or self.final_hash is None or self.end_frame is None:
            return
        for peer, remote in self.remotes.items():
            end = remote.end
            if end is None:
                return
            if end.end_frame != self.end_frame or end.hash != self.final_hash:
                if not any(d.peer == peer and d.frame == end.end_frame for d in self.desyncs):
                    self.stats.desyncs += 1
                    self.desyncs.append(
                        Desync(end.end_frame, peer, self.final_hash.hex(), end.hash.hex())
                    )
                    self._events.append(
                        DesyncDetected(
                            min(end.end_frame, self.end_frame),
                            peer,
                            self.final_hash,
                            end.hash,
                            self._last_agreed_hash,
                        )
                    )
                return
        self.agreed = True
        self._events.append(EpisodeAgreed(self.end_frame, self.final_hash))

    def _check_liveness(self, now_ms: float) -> None:
        cfg = self.config
        for peer, remote in self.remotes.items():
            if remote.last_heard_ms is None or self.leased(peer):  # a leased tab may be frozen
                remote.last_heard_ms = now_ms
                continue
            silent = now_ms - remote.last_heard_ms
            if silent >= cfg.interrupt_after_ms and not remote.interrupted:
                remote.interrupted = True
                self._events.append(NetworkInterrupted(peer, silent))

    def _local_advantage_raw(self) -> dict[int, int]:
        """Per remote: how many frames the remote is ahead of us (negative: we are ahead)."""
        out = {}
        frame_ms = self.config.frame_ms
        for peer, remote in self.remotes.items():
            if remote.remote_frame < 0:
                out[peer] = 0
                continue
            half_rtt_frames = ((remote.rtt_ms or 0.0) / 2.0) / frame_ms
            out[peer] = round(remote.remote_frame + half_rtt_frames - self.current_frame)
        return out

    def _time_sync(self) -> None:
        """GGPO's frame-advantage sync: if we are ahead of the slowest peer by more than
        ``time_sync_min_frames`` on average, recommend waiting half the difference."""
        cfg = self.config
        advantages = {
            p: a for p, a in self._local_advantage_raw().items() if not self.leased(p)
        }  # a leased peer plays idle wherever its clock is: it sets nobody's pace
        if not advantages:
            return
        # our advantage is positive when the remote is ahead; take the peer we lead most
        worst_peer = min(advantages, key=lambda p: (advantages[p], p))
        sample = advantages[worst_peer] - self.remotes[worst_peer].remote_advantage
        self._local_advantages.append(sample)
        self._sync_counter += 1
        if (
            self._sync_counter < cfg.time_sync_interval
            or self.current_frame < self._wait_until_frame
        ):
            return
        self._sync_counter = 0
        samples = self._local_advantages
        if len(samples) < max(1, cfg.time_sync_window // 2):
            return
        mean = sum(samples) / len(samples)
        # mean = (remote ahead of me) - (me ahead of remote as the remote sees it) = -2 x lead
        lead = -mean / 2.0
        if lead >= cfg.time_sync_min_frames:
            frames = min(cfg.max_wait_frames, int(lead + 0.5))
            self.stats.wait_recommendations += 1
            self.stats.wait_frames += frames
            self._wait_until_frame = self.current_frame + frames + cfg.time_sync_interval
            self._local_advantages.clear()
            self._events.append(WaitRecommendation(frames))
