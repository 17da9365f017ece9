"""Canonical state hashing."""

from __future__ import annotations

import enum

import pytest

from igym_core.runtime.hashing import (
    HASH_SIZE,
    StateHashError,
    canonical_bytes,
    state_hash,
    state_hash_hex,
)


def test_key_order_and_tuples_do_not_matter() -> None:
    a = {"b": [1, 2, (3, 4)], "a": {"y": 1.5, "x": None}}
    b = {"a": {"x": None, "y": 1.5}, "b": [1, 2, [3, 4]]}
    assert canonical_bytes(a) == canonical_bytes(b)
    assert state_hash(a) == state_hash(b)
    assert len(state_hash(a)) == HASH_SIZE
    assert state_hash_hex(a) == state_hash(a).hex()


def test_any_change_changes_the_hash() -> None:
    base = {"pos": [1, 2], "score": 0.5, "done": False}
    changed = [
        {"pos": [2, 1], "score": 0.5, "done": False},
        {"pos": [1, 2], "score": 0.50001, "done": False},
        {"pos": [1, 2], "score": 0.5, "done": True},
        {"pos": [1, 2], "score": 0.5},
    ]
    assert len({state_hash(base), *(state_hash(c) for c in changed)}) == 5


def test_canonical_bytes_are_fixed() -> None:
    assert canonical_bytes({"b": 1, "a": [True, None, 0.1, "é"]}) == (
        b'{"a":[true,null,0.1,"\\u00e9"],"b":1}'
    )


def test_int_keys_become_strings_but_may_not_collide() -> None:
    assert canonical_bytes({1: "x"}) == b'{"1":"x"}'
    with pytest.raises(StateHashError, match="both"):
        canonical_bytes({1: "x", "1": "y"})


def test_int_subclasses_hash_like_ints() -> None:
    class Color(enum.IntEnum):
        RED = 3

    assert state_hash({"c": Color.RED}) == state_hash({"c": 3})


@pytest.mark.parametrize(
    ("value", "where"),
    [
        ({"grid": [1, {2, 3}]}, "state['grid'][1]"),
        ({"x": float("nan")}, "state['x']"),
        ({"x": b"raw"}, "state['x']"),
        ({(1, 2): 3}, "key"),
        (object(), "state"),
    ],
)
def test_non_plain_values_are_refused_with_their_place(value: object, where: str) -> None:
    with pytest.raises(StateHashError) as info:
        state_hash(value)
    assert where in str(info.value)
