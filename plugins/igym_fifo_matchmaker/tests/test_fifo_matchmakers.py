"""FIFO and RTT-aware FIFO matchmakers."""

from __future__ import annotations

import pytest
from igym_fifo_matchmaker.fifo import FifoMatchmaker
from igym_fifo_matchmaker.rtt import RttFifoMatchmaker

from igym_core import MatchContext, WaitingParticipant


def w(pid: str, since: float, rtt: float | None = None, p2p: dict | None = None):
    return WaitingParticipant(pid, since, {}, rtt, p2p or {})


def ctx(group_size: int = 2, max_p2p_rtt_ms: float | None = None) -> MatchContext:
    return MatchContext("play", group_size, now=100.0, max_p2p_rtt_ms=max_p2p_rtt_ms)


def test_fifo_groups_in_arrival_order_and_leaves_the_rest_waiting():
    waiting = [w("c", 3), w("a", 1), w("e", 5), w("b", 2), w("d", 4)]
    assert FifoMatchmaker().match(waiting, ctx(2)) == [("a", "b"), ("c", "d")]
    assert FifoMatchmaker().match(waiting, ctx(3)) == [("a", "b", "c")]
    assert FifoMatchmaker().match(waiting[:1], ctx(2)) == []


def test_fifo_ties_are_broken_by_id():
    assert FifoMatchmaker().match([w("z", 1), w("y", 1)], ctx()) == [("y", "z")]


def test_fifo_rejects_a_bad_group_size():
    with pytest.raises(ValueError, match="group_size"):
        FifoMatchmaker().match([w("a", 1)], ctx(0))


def test_rtt_fifo_skips_a_measured_slow_pair():
    waiting = [w("a", 1, p2p={"b": 300.0}), w("b", 2, p2p={"a": 300.0}), w("c", 3)]
    assert RttFifoMatchmaker().match(waiting, ctx(max_p2p_rtt_ms=150)) == [("a", "c")]


def test_rtt_fifo_estimates_from_server_rtts():
    waiting = [w("far", 1, rtt=140), w("near1", 2, rtt=20), w("near2", 3, rtt=30)]
    assert RttFifoMatchmaker().match(waiting, ctx(max_p2p_rtt_ms=100)) == [("near1", "near2")]
    # without a limit it is plain FIFO
    assert RttFifoMatchmaker().match(waiting, ctx()) == [("far", "near1")]


def test_rtt_fifo_server_limit_and_groups_of_three():
    waiting = [w("a", 1, rtt=10), w("slow", 2, rtt=500), w("b", 3, rtt=10), w("c", 4, rtt=10)]
    mm = RttFifoMatchmaker(max_server_rtt_ms=200)
    assert mm.match(waiting, ctx(3, max_p2p_rtt_ms=100)) == [("a", "b", "c")]


def test_rtt_fifo_refuses_a_non_positive_limit():
    with pytest.raises(ValueError, match="max_server_rtt_ms must be positive"):
        RttFifoMatchmaker(max_server_rtt_ms=0)


def test_both_respect_pairs_to_avoid():
    a = WaitingParticipant("a", 1, avoid={"b"})
    b = WaitingParticipant("b", 2, avoid={"a"})
    c = WaitingParticipant("c", 3)
    assert FifoMatchmaker().match([a, b, c], ctx()) == [("a", "c")]
    assert RttFifoMatchmaker().match([a, b, c], ctx(max_p2p_rtt_ms=100)) == [("a", "c")]
