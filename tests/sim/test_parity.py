"""Full matches over hostile simulated networks: every peer ends with the same canonical log.

Property-based (hypothesis) over network conditions, input delays, clock drift, focus loss and
freezes, for 2 and 3 peers, on Overcooked (cramped_room and the three-chef kitchen) when the
pack is installed and on the coin-grid toy game otherwise. Bounded: a few dozen matches.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from igym_core.runtime import toygame
from igym_core.runtime.game import Policy, RollbackGame
from igym_core.runtime.host import SeatPlan
from igym_core.runtime.netsim import LinkConditions
from igym_core.runtime.simmatch import MatchResult, MatchSetup, PeerSetup, run_match

FRAMES = 450


def overcooked(layout: str) -> tuple[Callable[[int], RollbackGame], Callable[[int, int], Policy]]:
    try:
        from igym_core.commands.check_env import resolve_env

        env = resolve_env(f"overcooked.{layout}")
    except Exception:
        n = 3 if layout == "three_chefs" else 2
        return (
            lambda seed: toygame.make(n, seed=seed, max_steps=FRAMES),
            lambda i, seed: toygame.make_policy(f"agent_{i}", seed),
        )
    assert env.scripted is not None
    return (lambda seed: env.make_game(seed, max_steps=FRAMES)), env.scripted


windows = st.lists(
    st.tuples(st.floats(0, FRAMES * 33.0), st.floats(30, 3000)).map(lambda w: (w[0], w[0] + w[1])),
    max_size=2,
).map(lambda ws: tuple(sorted(ws)))

links = st.builds(
    LinkConditions,
    latency_ms=st.floats(0, 200),
    jitter_ms=st.floats(0, 40),
    loss=st.floats(0, 0.3),
    duplicate=st.floats(0, 0.1),
    reorder=st.floats(0, 0.2),
    corrupt=st.floats(0, 0.05),
    outages=st.lists(
        st.tuples(st.floats(0, FRAMES * 33.0), st.floats(50, 2000)).map(
            lambda w: (w[0], w[0] + w[1])
        ),
        max_size=1,
    ).map(tuple),
)

peer = st.builds(
    PeerSetup,
    input_delay=st.integers(0, 4),
    clock_rate=st.floats(0.97, 1.03),
    start_ms=st.floats(0, 300),
    inputs=st.sampled_from(["random", "scripted", "idle"]),
    focus_loss=windows,
    freezes=windows.map(lambda ws: tuple((a, min(b, a + 700)) for a, b in ws)),
)


def setups(n: int) -> st.SearchStrategy[MatchSetup]:
    pairs = [(a, b) for a in range(n) for b in range(n) if a != b]
    return st.builds(
        MatchSetup,
        peers=st.tuples(*[peer] * n),
        links=st.tuples(*[links] * len(pairs)).map(
            lambda ls: tuple((a, b, c) for (a, b), c in zip(pairs, ls, strict=True))
        ),
        seed=st.integers(0, 2**31),
        max_frames=st.just(FRAMES),
        max_prediction=st.integers(4, 10),
        hash_interval=st.sampled_from([1, 10, 30]),
    )


def assert_parity(result: MatchResult) -> None:
    logs = list(result.logs.values())
    blobs = [log.canonical_bytes() for log in logs]
    assert not result.timed_out, result.setup.describe()
    assert all(b == blobs[0] for b in blobs), (result.first_difference, result.setup.describe())
    assert all(len(log) == FRAMES and log.is_final for log in logs)
    assert result.desyncs == 0
    assert result.hash_checks > 0
    assert result.parity


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(setups(2))
def test_two_peers_keep_parity_under_any_network(setup: MatchSetup) -> None:
    make_game, policy = overcooked("cramped_room")
    result = run_match(setup, make_game, SeatPlan.one_seat_each(2), scripted_policy=policy)
    assert_parity(result)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(setups(3))
def test_three_peers_keep_parity_under_any_network(setup: MatchSetup) -> None:
    make_game, policy = overcooked("three_chefs")
    result = run_match(setup, make_game, SeatPlan.one_seat_each(3), scripted_policy=policy)
    assert_parity(result)


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(setups(2))
def test_ai_seats_are_computed_identically_by_every_peer(setup: MatchSetup) -> None:
    make_game, policy = overcooked("three_chefs")
    seats = SeatPlan((0, None, 1))
    result = run_match(setup, make_game, seats, ai_policy=policy, scripted_policy=policy)
    assert_parity(result)
    assert all(r.focused[1] is None for r in result.logs[0].rows)


def steady(latency: float, delay: int, n: int = 2) -> MatchSetup:
    link = LinkConditions(latency_ms=latency, jitter_ms=5)
    return MatchSetup(
        peers=tuple(PeerSetup(input_delay=delay) for _ in range(n)),
        links=tuple((a, b, link) for a in range(n) for b in range(n) if a != b),
        seed=11,
        max_frames=FRAMES,
    )


@pytest.mark.parametrize("n", [2, 3])
def test_under_latency_the_engine_predicts_and_rolls_back_instead_of_waiting(n: int) -> None:
    make_game, _ = overcooked("three_chefs" if n == 3 else "cramped_room")
    result = run_match(steady(100.0, 1, n), make_game, SeatPlan.one_seat_each(n))
    assert_parity(result)
    assert result.rollbacks >= 50
    assert result.max_rollback_depth >= 3
    # it ran ahead on predictions: far fewer stalled ticks than frames
    assert result.stalls < FRAMES // 10


def test_with_enough_input_delay_predictions_are_rarely_needed() -> None:
    make_game, _ = overcooked("cramped_room")
    result = run_match(steady(20.0, 3), make_game, SeatPlan.one_seat_each(2))
    assert_parity(result)
    assert result.rollbacks <= 5


def test_focus_loss_is_recorded_per_frame_identically() -> None:
    make_game, _ = overcooked("cramped_room")
    setup = MatchSetup(
        peers=(PeerSetup(focus_loss=((3000.0, 6000.0),)), PeerSetup()),
        links=((0, 1, LinkConditions(60)), (1, 0, LinkConditions(90))),
        seed=5,
    )
    result = run_match(setup, make_game, SeatPlan.one_seat_each(2))
    assert_parity(result)
    unfocused = [r.frame for r in result.logs[1].rows if r.focused[0] is False]
    assert 60 <= len(unfocused) <= 120
    assert all(result.logs[1].rows[f].actions[0] == 6 for f in unfocused)


def test_the_simulator_catches_an_unseeded_game() -> None:
    from tests.sim import badgames

    result = run_match(
        steady(50.0, 1),
        lambda seed: badgames.make_unseeded(seed=seed, max_steps=FRAMES),
        SeatPlan.one_seat_each(2),
    )
    assert not result.parity
    assert result.desyncs > 0
    assert not result.identical


def test_the_simulator_catches_hidden_state_under_rollback() -> None:
    from tests.sim import badgames

    result = run_match(
        steady(80.0, 0),
        lambda seed: badgames.make_hidden(seed=seed, max_steps=FRAMES),
        SeatPlan.one_seat_each(2),
    )
    assert result.rollbacks > 0
    assert not result.parity
    assert result.desyncs > 0


def test_an_outage_interrupts_both_peers_and_play_recovers() -> None:
    make_game, _ = overcooked("cramped_room")
    link = LinkConditions(latency_ms=40, outages=((5000.0, 7000.0),))
    setup = MatchSetup(peers=(PeerSetup(), PeerSetup()), links=((0, 1, link), (1, 0, link)), seed=3)
    result = run_match(setup, make_game, SeatPlan.one_seat_each(2))
    assert_parity(result)
    assert result.interruptions == 2
    assert result.stalls > 0  # nobody ran more than max_prediction frames blind


def test_a_peer_whose_clock_runs_fast_is_told_to_wait() -> None:
    make_game, _ = overcooked("cramped_room")
    link = LinkConditions(latency_ms=30)
    setup = MatchSetup(
        peers=(PeerSetup(clock_rate=1.04), PeerSetup(clock_rate=0.96)),
        links=((0, 1, link), (1, 0, link)),
        seed=4,
    )
    result = run_match(setup, make_game, SeatPlan.one_seat_each(2))
    assert_parity(result)
    assert result.wait_recommendations > 0
    assert result.telemetry[0]["session"]["wait_recommendations"] > 0
    assert result.telemetry[1]["session"]["wait_recommendations"] == 0


def test_four_peers_and_a_peer_with_two_seats() -> None:
    lossy = LinkConditions(latency_ms=70, jitter_ms=20, loss=0.1, reorder=0.05)
    four = MatchSetup(
        peers=tuple(PeerSetup(input_delay=1) for _ in range(4)),
        links=tuple((a, b, lossy) for a in range(4) for b in range(4) if a != b),
        seed=8,
    )
    result = run_match(
        four, lambda s: toygame.make(4, seed=s, max_steps=FRAMES), SeatPlan.one_seat_each(4)
    )
    assert_parity(result)
    two_seats = MatchSetup(
        peers=(PeerSetup(input_delay=1), PeerSetup(input_delay=2)),
        links=((0, 1, lossy), (1, 0, lossy)),
        seed=9,
    )
    result = run_match(
        two_seats, lambda s: toygame.make(3, seed=s, max_steps=FRAMES), SeatPlan((0, 1, 0))
    )
    assert_parity(result)
    assert result.rollbacks > 0
