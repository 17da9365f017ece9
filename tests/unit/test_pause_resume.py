"""Pause, resume, reconnect timeout and rebuild after a reload, over the simulated network.

A peer that goes silent pauses the game for everyone; when it is back within the reconnect
timeout, play resumes from the last confirmed frame with exact parity; past the timeout every
peer ends with :class:`Disconnected`. A reloaded page rebuilds the episode from its records and
the inputs its partners echo, and the match ends as if nothing happened.
"""

from __future__ import annotations

import random

import pytest

from igym_core.runtime import toygame
from igym_core.runtime.host import GameHost, SeatPlan
from igym_core.runtime.netsim import LinkConditions, SimNetwork
from igym_core.runtime.record import RecordError
from igym_core.runtime.rollback import (
    Disconnected,
    Paused,
    Resumed,
    RollbackSession,
    SessionConfig,
    SessionError,
)
from igym_core.runtime.simmatch import MatchResult, MatchSetup, PeerSetup, run_match

FRAMES = 300
FRAME_MS = 1000 / 30
LINK = LinkConditions(latency_ms=30, jitter_ms=5, loss=0.05)


def play(*peers: PeerSetup, seed: int = 1, **fields: object) -> MatchResult:
    n = len(peers)
    setup = MatchSetup(
        peers=peers,
        links=tuple((a, b, LINK) for a in range(n) for b in range(n) if a != b),
        seed=seed,
        max_frames=FRAMES,
        **fields,  # type: ignore[arg-type]
    )
    return run_match(
        setup, lambda s: toygame.make(n, seed=s, max_steps=FRAMES), SeatPlan.one_seat_each(n)
    )


def pauses(result: MatchResult, peer: int) -> list[tuple[float, object]]:
    return result.pause_log[peer]


def assert_parity(result: MatchResult) -> None:
    blobs = {log.canonical_bytes() for log in result.logs.values()}
    assert len(blobs) == 1 and result.parity, (result.first_difference, result.setup.describe())
    assert all(len(log) == FRAMES for log in result.logs.values())


def test_one_peer_silent_2_s_pauses_both_and_both_resume_from_the_same_confirmed_frame() -> None:
    result = play(PeerSetup(), PeerSetup(offline=((3000.0, 5000.0),)))
    assert_parity(result)
    for peer in (0, 1):
        (t0, paused), (t1, resumed) = pauses(result, peer)
        assert isinstance(paused, Paused) and paused.waiting_for == (1 - peer,)
        assert isinstance(resumed, Resumed)
        assert 3000 <= t0 <= 3700  # within the pause threshold of the outage (and a RTT)
        assert 5000 <= t1 <= 5600
        assert 1300 <= resumed.paused_ms <= 2600
    resumes = [pauses(result, p)[1][1] for p in (0, 1)]
    # both stood still at most the prediction window apart, and went on from the same inputs
    assert abs(resumes[0].frame - resumes[1].frame) <= 8 + 1
    assert resumes[0].confirmed == resumes[1].confirmed
    # no fast-forward through the pause: the game ends about 2 s late, not on time
    assert result.virtual_ms >= FRAMES * FRAME_MS + 1500


def test_both_peers_silent_at_once_pause_and_resume() -> None:
    both = ((4000.0, 6500.0),)
    result = play(PeerSetup(offline=both), PeerSetup(offline=both))
    assert_parity(result)
    assert [len(pauses(result, p)) for p in (0, 1)] == [2, 2]
    assert all(isinstance(pauses(result, p)[1][1], Resumed) for p in (0, 1))


def test_a_one_way_outage_pauses_both_sides() -> None:
    """Only 1 -> 0 is cut: 0 hears nothing, 1 hears 0 but gets no more inputs from it."""
    one_way = LinkConditions(latency_ms=30, outages=((3000.0, 5000.0),))
    setup = MatchSetup(
        peers=(PeerSetup(), PeerSetup()),
        links=((0, 1, LinkConditions(latency_ms=30)), (1, 0, one_way)),
        seed=2,
        max_frames=FRAMES,
    )
    result = run_match(
        setup, lambda s: toygame.make(2, seed=s, max_steps=FRAMES), SeatPlan.one_seat_each(2)
    )
    assert_parity(result)
    kinds = {p: [type(e).__name__ for _, e in pauses(result, p)] for p in (0, 1)}
    assert kinds == {0: ["Paused", "Resumed"], 1: ["Paused", "Resumed"]}


def test_one_peer_silent_10_s_ends_the_game_for_both_after_the_reconnect_timeout() -> None:
    result = play(PeerSetup(), PeerSetup(offline=((3000.0, 13000.0),)))
    assert not result.parity and not result.finished
    for peer in (0, 1):
        (t0, paused), (t1, gone) = pauses(result, peer)
        assert isinstance(paused, Paused) and isinstance(gone, Disconnected)
        assert gone.peer == 1 - peer
        assert 4900 <= t1 - t0 <= 5200  # the default reconnect timeout, 5 s
    # what both settled before the outage is the same
    a, b = (result.logs[p].rows for p in (0, 1))
    common = min(len(a), len(b))
    assert common > 60 and a[:common] == b[:common]


def test_the_reconnect_timeout_is_configurable() -> None:
    result = play(PeerSetup(), PeerSetup(offline=((3000.0, 13000.0),)), reconnect_timeout_ms=2000.0)
    (t0, _), (t1, gone) = pauses(result, 0)
    assert isinstance(gone, Disconnected) and 1900 <= t1 - t0 <= 2200


@pytest.mark.parametrize("lost", [0, 20])
def test_a_reloaded_page_rebuilds_the_episode_and_the_match_keeps_parity(lost: int) -> None:
    result = play(PeerSetup(), PeerSetup(reloads=((4000.0, 6500.0),), lost_records=lost))
    assert_parity(result)
    assert result.reloads == 1
    partner = [type(e).__name__ for _, e in pauses(result, 0)]
    assert partner == ["Paused", "Resumed"]  # waited for the rebuilt page, then went on


def test_a_reload_longer_than_the_reconnect_timeout_is_waited_for() -> None:
    """The server told the partner the page is coming back: it holds on past the timeout."""
    result = play(PeerSetup(reloads=((3000.0, 11000.0),)), PeerSetup(), seed=4)
    assert_parity(result)
    (_, paused), (_, resumed) = pauses(result, 1)
    assert isinstance(paused, Paused) and paused.waiting_for == (0,)
    assert isinstance(resumed, Resumed) and resumed.paused_ms > 5000


def test_three_peers_one_reloads_and_one_goes_offline() -> None:
    result = play(
        PeerSetup(),
        PeerSetup(reloads=((3000.0, 5000.0),), lost_records=12),
        PeerSetup(offline=((7000.0, 9000.0),)),
        seed=5,
    )
    assert_parity(result)


def match_host(result: MatchResult, local: int = 0) -> GameHost:
    """A fresh host with the match's game (the simulator draws the game seed after the
    network's from the match seed)."""
    rng = random.Random(result.setup.seed)
    rng.getrandbits(32)
    config = SessionConfig(
        num_peers=2,
        local_peer=local,
        seats_per_peer=(1, 1),
        default_actions=((toygame.NOOP,), (toygame.NOOP,)),
        max_frames=FRAMES,
        action_count=toygame.N_ACTIONS,
    )
    game = toygame.make(2, seed=rng.getrandbits(31), max_steps=FRAMES)
    session = RollbackSession(config, SimNetwork(2).endpoint(local))
    return GameHost(session, game, SeatPlan.one_seat_each(2))


def test_a_rebuild_from_confirmed_inputs_reaches_the_live_state() -> None:
    """Replaying the settled records (hashes stripped, so nothing is checked on the way) gives
    the state whose hash the live game recorded at that frame."""
    result = play(PeerSetup(), PeerSetup(), seed=6)
    rows = result.logs[0].rows
    for k in (30, 150, 240):
        assert rows[k - 1].state_hash is not None
        host = match_host(result)
        host.restore([r._replace(state_hash=None) for r in rows[:k]])
        assert host.game.state_hash().hex() == rows[k - 1].state_hash, k
        assert host.session.current_frame == k and host.session.rejoining
        assert len(host.canonical) == k


def test_records_that_do_not_replay_are_refused() -> None:
    result = play(PeerSetup(), PeerSetup(), seed=6)
    rows = result.logs[0].rows[:60]
    tampered = [r._replace(rewards=(r.rewards[0] + 1.0, r.rewards[1])) for r in rows]
    with pytest.raises(RecordError, match="not what was recorded"):
        match_host(result).restore(tampered)
    with pytest.raises(RecordError, match="frames 0, 1"):
        match_host(result).restore(rows[1:])


def test_restore_is_only_for_a_fresh_session() -> None:
    host = match_host(play(PeerSetup(), PeerSetup(), seed=6))
    host.tick(0.0, (toygame.NOOP,))
    with pytest.raises(SessionError, match="before the first"):
        host.session.restore([[], []])
