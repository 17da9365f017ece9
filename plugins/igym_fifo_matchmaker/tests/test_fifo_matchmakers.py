"""FIFO and RTT-aware FIFO matchmakers."""

from __future__ import annotations

import pytest
from igym_fifo_matchmaker.fifo import FifoMatchmaker
from igym_fifo_matchmaker.rtt import RttFifoMatchmaker

from igym_core import WaitingParticipant


def w(pid: str, since: float, rtt: float | None = None, p2p: dict | None = None):
    return WaitingParticipant(pid, since, {}, rtt, p2p or {})


def test_fifo_groups_in_arrival_order_and_leaves_the_rest_waiting():
    waiting = [w("c", 3), w("a", 1), w("e", 5), w("b", 2), w("d", 4)]
    assert FifoMatchmaker().match(waiting, 2) == [("a", "b"), ("c", "d")]
    assert FifoMatchmaker().match(waiting, 3) == [("a", "b", "c")]
    assert FifoMatchmaker().match(waiting[:1], 2) == []


def test_fifo_ties_are_broken_by_id():
    assert FifoMatchmaker().match([w("z", 1), w("y", 1)], 2) == [("y", "z")]


def test_fifo_rejects_a_bad_group_size():
    with pytest.raises(ValueError, match="group_size"):
        FifoMatchmaker().match([w("a", 1)], 0)


def test_rtt_fifo_skips_a_measured_slow_pair():
    waiting = [w("a", 1, p2p={"b": 300.0}), w("b", 2, p2p={"a": 300.0}), w("c", 3)]
    mm = RttFifoMatchmaker(max_p2p_rtt_ms=150)
    assert mm.match(waiting, 2) == [("a", "c")]


def test_rtt_fifo_estimates_from_server_rtts():
    waiting = [w("far", 1, rtt=140), w("near1", 2, rtt=20), w("near2", 3, rtt=30)]
    assert RttFifoMatchmaker(max_p2p_rtt_ms=100).match(waiting, 2) == [("near1", "near2")]
    # without a limit it is plain FIFO
    assert RttFifoMatchmaker().match(waiting, 2) == [("far", "near1")]


def test_rtt_fifo_server_limit_and_groups_of_three():
    waiting = [w("a", 1, rtt=10), w("slow", 2, rtt=500), w("b", 3, rtt=10), w("c", 4, rtt=10)]
    mm = RttFifoMatchmaker(max_p2p_rtt_ms=100, max_server_rtt_ms=200)
    assert mm.match(waiting, 3) == [("a", "b", "c")]


def test_both_respect_pairs_to_avoid():
    a = WaitingParticipant("a", 1, avoid={"b"})
    b = WaitingParticipant("b", 2, avoid={"a"})
    c = WaitingParticipant("c", 3)
    assert FifoMatchmaker().match([a, b, c], 2) == [("a", "c")]
    assert RttFifoMatchmaker(max_p2p_rtt_ms=100).match([a, b, c], 2) == [("a", "c")]
