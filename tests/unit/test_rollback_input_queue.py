"""InputQueue: contiguous confirmation, out-of-order arrival, duplicates, prediction."""

from __future__ import annotations

from igym_core.runtime.input_queue import InputQueue, PeerInput

DEFAULT = PeerInput((6,), True)


def inp(action: int, focused: bool = True) -> PeerInput:
    return PeerInput((action,), focused)


def test_empty_queue_predicts_the_default() -> None:
    q = InputQueue(DEFAULT)
    assert q.last_confirmed == -1
    assert q.get(0) is None
    assert q.predict() == DEFAULT
    assert q.input_for(3) == (DEFAULT, False)


def test_in_order_inputs_confirm_one_by_one_and_prediction_repeats_the_last() -> None:
    q = InputQueue(DEFAULT)
    assert q.add(0, inp(1)) == [0]
    assert q.add(1, inp(2, focused=False)) == [1]
    assert q.last_confirmed == 1
    assert q.input_for(1) == (inp(2, False), True)
    assert q.input_for(5) == (inp(2, False), False)


def test_early_inputs_wait_for_the_gap_then_confirm_together() -> None:
    q = InputQueue(DEFAULT)
    assert q.add(2, inp(3)) == []
    assert q.add(1, inp(2)) == []
    assert q.last_confirmed == -1
    assert q.add(0, inp(1)) == [0, 1, 2]
    assert [q.get(f) for f in range(3)] == [inp(1), inp(2), inp(3)]


def test_duplicates_and_repeated_early_arrivals_change_nothing() -> None:
    q = InputQueue(DEFAULT)
    q.add(0, inp(1))
    assert q.add(0, inp(5)) == []
    assert q.get(0) == inp(1)
    q.add(3, inp(4))
    q.add(3, inp(0))
    q.add(1, inp(2))
    assert q.add(2, inp(3)) == [2, 3]
    assert q.get(3) == inp(4)


def test_parked_inputs_are_bounded() -> None:
    q = InputQueue(DEFAULT, max_parked=2)
    for f in range(10, 20):
        q.add(f, inp(1))
    assert len(q._parked) == 2


def test_confirmed_range_clips() -> None:
    q = InputQueue(DEFAULT)
    for f in range(4):
        q.add(f, inp(f))
    assert q.confirmed_range(2, 10) == [inp(2), inp(3)]
    assert q.confirmed_range(5, 9) == []
