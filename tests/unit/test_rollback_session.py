"""RollbackSession: requests, prediction, rollback, stalls, sync, events, hostile packets."""

from __future__ import annotations

import pytest

from igym_core.runtime import toygame, wire
from igym_core.runtime.host import GameHost, SeatPlan
from igym_core.runtime.input_queue import PeerInput
from igym_core.runtime.rollback import (
    AdvanceFrame,
    DesyncDetected,
    Disconnected,
    EpisodeAgreed,
    LoadState,
    NetworkInterrupted,
    NetworkResumed,
    Paused,
    Resumed,
    RollbackSession,
    SaveState,
    SessionConfig,
    SessionError,
    StateCell,
    WaitRecommendation,
)

NOOP = toygame.NOOP


class Mailbox:
    """A transport whose packets move only when the test says so."""

    def __init__(self) -> None:
        self.outbox: list[tuple[int, bytes]] = []
        self.inbox: list[tuple[int, bytes]] = []

    def send(self, peer: int, data: bytes) -> None:
        self.outbox.append((peer, data))

    def receive(self) -> list[tuple[int, bytes]]:
        out, self.inbox = self.inbox, []
        return out


def config(local: int, n: int = 2, **kw: object) -> SessionConfig:
    fields: dict[str, object] = {
        "num_peers": n,
        "local_peer": local,
        "seats_per_peer": (1,) * n,
        "default_actions": ((NOOP,),) * n,
        "input_delay": 0,
        "max_prediction": 8,
        "action_count": toygame.N_ACTIONS,
    }
    fields.update(kw)
    return SessionConfig(**fields)  # type: ignore[arg-type]


class Peers:
    """n hosts over mailboxes; ``deliver`` moves every queued packet to its destination."""

    def __init__(self, n: int = 2, **kw: object) -> None:
        self.boxes = [Mailbox() for _ in range(n)]
        self.hosts = [
            GameHost(
                RollbackSession(config(p, n, **kw), self.boxes[p]),
                toygame.make(n, seed=5),
                SeatPlan.one_seat_each(n),
            )
            for p in range(n)
        ]
        self.now = 0.0

    def deliver(self, src: int | None = None) -> None:
        for s, box in enumerate(self.boxes):
            if src is not None and s != src:
                box.outbox.clear()
                continue
            for dst, data in box.outbox:
                self.boxes[dst].inbox.append((s, data))
            box.outbox.clear()

    def tick(self, p: int, action: int, focused: bool = True) -> list[object]:
        self.now += 33.0
        return self.hosts[p].tick(self.now, (action,), focused)


def test_config_is_validated() -> None:
    with pytest.raises(ValueError, match="num_peers"):
        config(0, n=1)
    with pytest.raises(ValueError, match="local_peer"):
        config(2)
    with pytest.raises(ValueError, match="default_actions"):
        config(0, default_actions=((NOOP,),))
    with pytest.raises(ValueError, match="input_delay"):
        config(0, input_delay=-1)


def test_first_advance_saves_steps_and_saves() -> None:
    session = RollbackSession(config(0, input_delay=2), Mailbox())
    session.add_local_input((3,))
    reqs = session.advance_frame()
    assert [type(r) for r in reqs] == [SaveState, AdvanceFrame, SaveState]
    assert [r.frame for r in reqs] == [0, 0, 1]
    step = reqs[1]
    assert isinstance(step, AdvanceFrame)
    # the input given now is for frame 2 (delay 2); frames 0-1 use the default
    assert step.inputs == (PeerInput((NOOP,), True), PeerInput((NOOP,), True))
    assert not step.confirmed and not step.replay
    assert session.queues[0].get(2) == PeerInput((3,), True)
    assert session.current_frame == 1


def test_host_errors_are_session_errors() -> None:
    session = RollbackSession(config(0), Mailbox())
    with pytest.raises(SessionError, match="add_local_input"):
        session.advance_frame()
    with pytest.raises(SessionError, match="seats"):
        session.add_local_input((1, 2))
    with pytest.raises(SessionError, match="valid action"):
        session.add_local_input((7,))


def test_correct_predictions_cause_no_rollback() -> None:
    peers = Peers()
    for _ in range(5):
        peers.tick(0, NOOP)
    for _ in range(5):
        peers.tick(1, NOOP)  # peer 1 presses nothing: exactly what peer 0 predicted
    peers.deliver()
    peers.tick(0, NOOP)
    stats = peers.hosts[0].session.stats
    assert stats.rollbacks == 0
    assert peers.hosts[0].session.settled_frame == 4


def test_a_wrong_prediction_rolls_back_to_the_first_wrong_frame() -> None:
    peers = Peers()
    for _ in range(6):
        peers.tick(0, NOOP)
    peers.tick(1, NOOP)
    peers.tick(1, NOOP)
    peers.tick(1, 3)  # frame 2: peer 0 predicted NOOP
    peers.deliver(src=1)
    events = peers.hosts[0].session
    reqs_before = events.stats.rollbacks
    session = peers.hosts[0].session
    session.receive(peers.now)
    session.add_local_input((NOOP,))
    reqs = session.advance_frame()
    assert session.stats.rollbacks == reqs_before + 1
    assert isinstance(reqs[0], LoadState) and reqs[0].frame == 2
    replays = [r for r in reqs if isinstance(r, AdvanceFrame) and r.replay]
    assert [r.frame for r in replays] == [2, 3, 4, 5]
    assert replays[0].inputs[1] == PeerInput((3,), True)
    # after frame 2 the prediction is the last confirmed input: 3 again
    assert replays[1].inputs[1] == PeerInput((3,), True)
    assert session.stats.max_rollback_depth == 4
    assert session.stats.rollback_depths == {4: 1}
    peers.hosts[0].execute(reqs)


def test_rollback_replays_reach_the_same_state_as_knowing_all_along() -> None:
    peers = Peers(max_prediction=12)
    script1 = [3, 3, 1, 4, 2, 2, 0, 6, 6, 1]
    for i in range(10):
        peers.tick(0, i % 4)
    for a in script1:
        peers.tick(1, a)
    peers.deliver()
    for _ in range(3):
        peers.tick(0, NOOP)
        peers.tick(1, NOOP)
        peers.deliver()
    a, b = peers.hosts
    assert a.session.stats.rollbacks >= 1
    assert a.canonical.rows[:10] == b.canonical.rows[:10]
    assert [r.actions[1] for r in a.canonical.rows[:10]] == script1


def test_the_session_stalls_past_the_prediction_window() -> None:
    peers = Peers(max_prediction=3)
    advanced = []
    for _ in range(6):
        peers.tick(0, 1)
        advanced.append(peers.hosts[0].session.current_frame)
    # three frames past the last confirmed one (none yet), then no further
    assert advanced == [1, 2, 3, 3, 3, 3]
    assert peers.hosts[0].session.stats.stalls == 3
    peers.tick(1, NOOP)
    peers.deliver(src=1)
    peers.tick(0, 1)
    assert peers.hosts[0].session.current_frame == 4


def test_snapshot_ring_detects_an_overwritten_slot() -> None:
    cell = StateCell()
    cell.save(3, {"x": 1})
    assert cell.load(3) == {"x": 1}
    cell.save(13, {"x": 2})
    with pytest.raises(SessionError, match="overwritten"):
        cell.load(3)


def test_full_episode_over_a_clean_link_is_identical_and_agreed() -> None:
    peers = Peers(max_frames=40, hash_interval=10)
    for frame in range(60):
        for p in (0, 1):
            peers.tick(p, (frame * (p + 2)) % 7)
        peers.deliver()
    a, b = peers.hosts
    assert a.canonical.is_final and b.canonical.is_final
    assert len(a.canonical) == 40
    assert a.canonical.canonical_bytes() == b.canonical.canonical_bytes()
    assert a.session.agreed and b.session.agreed
    assert any(isinstance(e, EpisodeAgreed) and e.end_frame == 40 for e in a.events_seen)
    assert a.session.stats.hash_checks >= 4
    hashed = [r.frame for r in a.canonical.rows if r.state_hash]
    assert hashed == [9, 19, 29, 39]
    assert a.canonical.initial_hash == b.canonical.initial_hash is not None


def test_a_diverging_peer_is_reported_with_the_first_checked_frame() -> None:
    peers = Peers(max_frames=60, hash_interval=10)
    a, b = peers.hosts
    step = b.game.step

    def drifting_step(actions: tuple[int, ...]) -> object:
        outcome = step(actions)
        if b.game._t > 25:  # peer 1's game goes its own way after frame 25
            b.game._scores[1] += 1
        return outcome

    b.game.step = drifting_step  # type: ignore[method-assign]
    for frame in range(80):
        for p in (0, 1):
            peers.tick(p, frame % 5)
        peers.deliver()
    desyncs = [e for e in a.events_seen if isinstance(e, DesyncDetected)]
    assert len(desyncs) == 1
    assert desyncs[0].peer == 1
    assert desyncs[0].frame == 30
    assert desyncs[0].last_agreed_frame == 20
    assert not a.session.agreed


def test_time_sync_asks_the_peer_that_runs_ahead_to_wait() -> None:
    peers = Peers(max_prediction=12, time_sync_interval=10, time_sync_window=10)
    waits = []
    for i in range(200):
        waits += [e for e in peers.tick(0, NOOP) if isinstance(e, WaitRecommendation)]
        if i % 2 == 0:  # peer 1 runs at two-thirds of peer 0's rate
            waits1 = peers.tick(1, NOOP)
            assert not any(isinstance(e, WaitRecommendation) for e in waits1)
        peers.tick(0, NOOP) if i % 3 == 0 else None
        peers.deliver()
    assert waits and all(w.frames >= 1 for w in waits)


def test_silence_pauses_resumes_then_times_out_as_disconnected() -> None:
    session = RollbackSession(
        config(0, interrupt_after_ms=100, pause_after_ms=100, reconnect_timeout_ms=1000),
        box := Mailbox(),
    )
    peer = RollbackSession(config(1), other := Mailbox())
    session.receive(0.0)
    session.receive(150.0)
    assert session.events() == [NetworkInterrupted(1, 150.0), Paused(0, (1,))]
    assert session.paused
    peer.send(160.0)
    box.inbox = [(1, d) for _, d in other.outbox]
    session.receive(170.0)
    assert session.events() == [NetworkResumed(1), Resumed(0, -1, 20.0)]
    session.receive(1200.0)  # silent again: paused, but not for long enough yet
    assert session.events()[-1] == Paused(0, (1,))
    session.receive(2199.0)
    assert session.events() == []
    session.receive(2200.0)
    assert session.events() == [Disconnected(1, -1)]
    assert session.disconnected_peer == 1
    session.receive(9000.0)  # said once
    assert session.events() == []


def snapshot(session: RollbackSession) -> tuple[object, ...]:
    return (
        [q.last_confirmed for q in session.queues],
        [len(q._parked) for q in session.queues],
        {
            p: (r.acked_by_remote, r.hash_received, dict(r.hashes), r.end)
            for p, r in session.remotes.items()
        },
        session._first_wrong,
        session.current_frame,
    )


def good_input(sender: int = 1, **kw: object) -> wire.InputPacket:
    fields: dict[str, object] = {
        "sender": sender,
        "episode": 0,
        "frame": 3,
        "advantage": 0,
        "ack_frame": -1,
        "hash_ack": -1,
        "start_frame": 0,
        "seats": 1,
        "inputs": (PeerInput((1,), True),),
    }
    fields.update(kw)
    return wire.InputPacket(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("sender", "data", "match"),
    [
        (1, b"junk", "shorter"),
        (1, wire.encode(good_input(sender=0)), "claims sender"),
        (0, wire.encode(good_input(sender=0)), "not a remote peer"),
        (5, wire.encode(good_input(sender=5)), "not a remote peer"),
        (1, wire.encode(good_input(seats=2, inputs=(PeerInput((1, 1), True),))), "seats"),
        (1, wire.encode(good_input(inputs=(PeerInput((9,), True),))), "action_count"),
        (1, wire.encode(good_input(ack_frame=50)), "never sent"),
        (1, wire.encode(good_input(start_frame=10**6)), "future"),
        (1, wire.encode(wire.HashPacket(1, 0, ((10**7, bytes(16)),))), "future"),
    ],
)
def test_hostile_packets_raise_and_change_nothing(sender: int, data: bytes, match: str) -> None:
    session = RollbackSession(config(0), Mailbox())
    before = snapshot(session)
    with pytest.raises(wire.WireError, match=match):
        session.handle_packet(sender, data, 0.0)
    assert snapshot(session) == before


def test_receive_counts_bad_packets_and_keeps_going() -> None:
    box = Mailbox()
    session = RollbackSession(config(0), box)
    box.inbox = [(1, b"\x00garbage"), (1, wire.encode(good_input()))]
    session.receive(0.0)
    assert session.stats.malformed_packets == 1
    assert session.queues[1].last_confirmed == 0


def test_packets_of_another_episode_are_ignored() -> None:
    session = RollbackSession(config(0, episode=2), Mailbox())
    session.handle_packet(1, wire.encode(good_input()), 0.0)
    assert session.stats.stale_packets == 1
    assert session.queues[1].last_confirmed == -1


def test_inputs_are_resent_until_acknowledged() -> None:
    box = Mailbox()
    session = RollbackSession(config(0, input_delay=1), box)
    for _ in range(3):
        session.add_local_input((2,))
        session.advance_frame()
    session.send(0.0)
    first = wire.decode(next(d for _, d in box.outbox if d[3] == wire.KIND_INPUT))
    assert isinstance(first, wire.InputPacket)
    assert first.start_frame == 0 and len(first.inputs) == 4
    box.outbox.clear()
    session.handle_packet(1, wire.encode(good_input(ack_frame=2, inputs=())), 1.0)
    session.send(2.0)
    second = wire.decode(next(d for _, d in box.outbox if d[3] == wire.KIND_INPUT))
    assert isinstance(second, wire.InputPacket)
    assert second.start_frame == 3 and len(second.inputs) == 1


def test_finish_at_ends_the_episode_early_for_everyone() -> None:
    peers = Peers(max_frames=100, hash_interval=10)
    a, b = peers.hosts
    for _frame in range(30):
        for p in (0, 1):
            peers.tick(p, NOOP)
        peers.deliver()
    final = bytes(16)
    for host in (a, b):
        session = host.session
        with pytest.raises(SessionError, match="not settled"):
            session.finish_at(session.settled_frame + 5, final)
        session.finish_at(20, final)
        assert session.end_frame == 20
    for _ in range(3):
        for p in (0, 1):
            peers.hosts[p].idle(peers.now)
        peers.deliver()
    assert a.session.agreed and b.session.agreed
