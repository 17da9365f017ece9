"""Canonical log, speculative metadata, and the cross-peer comparison."""

from __future__ import annotations

import json

import pytest

from igym_core.runtime.record import (
    CanonicalLog,
    FrameRecord,
    RecordError,
    SpeculativeMeta,
    first_difference,
    validation_export,
)

AGENTS = ("agent_0", "agent_1")


def row(frame: int, a: int = 6, focused: bool = True, h: str | None = None) -> FrameRecord:
    return FrameRecord(frame, (a, 6), (focused, None), (0.0, 1.0), False, False, None, h)


def log_of(n: int, changes: dict[int, dict[str, object]] | None = None) -> CanonicalLog:
    log = CanonicalLog(AGENTS, episode=1)
    for f in range(n):
        log.append(row(f, **(changes or {}).get(f, {})))  # type: ignore[arg-type]
    return log


def test_rows_go_in_order_and_are_never_rewritten() -> None:
    log = log_of(3)
    with pytest.raises(RecordError, match="expected frame 3"):
        log.append(row(1))
    with pytest.raises(RecordError, match="expected frame 3"):
        log.append(row(4))
    with pytest.raises(RecordError, match="actions"):
        log.append(FrameRecord(3, (1,), (True,), (0.0,), False, False, None, None))
    assert [r.frame for r in log.rows] == [0, 1, 2]


def test_an_episode_is_final_only_when_it_ends_with_every_row() -> None:
    log = log_of(3)
    assert not log.is_final
    with pytest.raises(RecordError, match="cannot end"):
        log.finish(4, "ff")
    log.finish(3, "ab")
    assert log.is_final
    with pytest.raises(RecordError, match="ended"):
        log.append(row(3))


def test_canonical_bytes_are_json_lines_with_every_agent() -> None:
    log = log_of(2)
    log.initial_hash = "00"
    log.finish(2, "ff")
    lines = log.canonical_bytes().decode().splitlines()
    assert json.loads(lines[0]) == {
        "agent_ids": list(AGENTS),
        "end_frame": 2,
        "episode": 1,
        "final_hash": "ff",
        "initial_hash": "00",
    }
    first = json.loads(lines[1])
    assert first["actions"] == {"agent_0": 6, "agent_1": 6}
    assert first["focused"] == {"agent_0": True, "agent_1": None}
    assert first["rewards"] == {"agent_0": 0.0, "agent_1": 1.0}
    assert len(lines) == 3


def test_first_difference_finds_the_frame() -> None:
    same = {0: log_of(5), 1: log_of(5)}
    assert first_difference(same) is None
    assert first_difference({0: log_of(5), 1: log_of(5, {3: {"a": 1}})}) == 3
    assert first_difference({0: log_of(5), 1: log_of(5, {2: {"focused": False}})}) == 2
    assert first_difference({0: log_of(5), 1: log_of(4)}) == 4
    a, b = log_of(2), log_of(2)
    a.finish(2, "aa")
    b.finish(2, "bb")
    assert first_difference({0: a, 1: b}) == 2


def test_validation_export_lists_each_peer_and_the_verdict() -> None:
    doc = validation_export({0: log_of(2, {1: {"h": "12"}}), 1: log_of(2, {1: {"a": 3}})})
    assert set(doc["peers"]) == {"0", "1"}
    assert doc["peers"]["0"]["frames"][1] == {
        "frame": 1,
        "actions": [6, 6],
        "focused": [True, None],
        "state_hash": "12",
    }
    assert doc["identical"] is False and doc["first_difference"] == 1
    json.dumps(doc)


def test_speculative_meta_summarises_rollbacks() -> None:
    meta = SpeculativeMeta()
    meta.rollbacks += [(10, 7), (20, 12), (30, 27)]
    d = meta.as_dict()
    assert d["rollbacks"] == 3 and d["max_rollback_depth"] == 8
    assert d["rollback_depths"] == {"3": 2, "8": 1}
