"""The server's parity check: members agree when their canonical frames are the same text."""

from __future__ import annotations

import asyncio
import logging

from igym_core.jsontext import parse, sorted_text
from igym_core.server.background import Background
from igym_core.server.lobby.parity import canonical_digest, compare_logs
from igym_core.server.lobby.sessions import Match

MATCH = Match("m1", "cook", ("p-a", "p-b"), {"p-a": ("agent_0",), "p-b": ("agent_1",)}, "fifo", 0.0)


def texts(peer: str, frames: int = 30, **changed: object) -> list[tuple[int, str]]:
    """An episode as the store holds it: (frame, JSON text of the record without its frame)."""
    out = []
    for frame in range(frames):
        record = {
            "actions": {"agent_0": frame % 6, "agent_1": 4},
            "rewards": {"agent_0": 0.0, "agent_1": 1.0 if frame == 20 else 0.0},
            "terminated": False,
            "truncated": frame == frames - 1,
            "focused": {"agent_0": True, "agent_1": True},
            "state_hash": f"{frame * 7919:016x}",
            "t": {"tick": float(frame), "peer": peer},  # each page's own: never compared
        }
        if frame == changed.get("at"):
            record[str(changed["column"])] = changed["value"]
        out.append((frame, sorted_text(record)))
    return out


def check(a, b, statuses=("complete", "complete")):
    return compare_logs(
        MATCH, "cook", 0, dict(zip(MATCH.members, statuses, strict=True)), {"p-a": a, "p-b": b}
    )


def test_the_same_frames_but_their_timestamps_are_identical():
    status, summary, difference, validation = check(texts("a"), texts("b"))
    assert status == "identical" and difference is None
    assert summary["p-a"]["sha256"] == summary["p-b"]["sha256"]
    assert summary["p-a"]["frames"] == 30
    assert [f["frame"] for f in validation["peers"]["p-b"]["frames"]] == list(range(30))
    assert validation["peers"]["p-a"]["frames"][3]["actions"] == {"agent_0": 3, "agent_1": 4}


def test_the_digest_is_the_hash_of_the_canonical_rows():
    episode = texts("a")
    rows = [{"frame": f, **parse(data)} for f, data in episode]
    for row in rows:
        del row["t"]
    _, summary, _, _ = check(episode, texts("b"))
    assert summary["p-a"]["sha256"] == canonical_digest(rows)


def test_a_partial_episode_is_identical_partial():
    status, *_ = check(texts("a", 12), texts("b", 12), ("partial", "complete"))
    assert status == "identical_partial"


def test_the_first_differing_frame_and_column_are_named():
    changed = texts("b", at=17, column="state_hash", value="ffff")
    status, summary, difference, _ = check(texts("a"), changed)
    assert status == "mismatch"
    assert difference["frame"] == 17 and difference["column"] == "state_hash"
    assert difference["values"] == {"p-a": f"{17 * 7919:016x}", "p-b": "ffff"}
    assert summary["p-a"]["sha256"] != summary["p-b"]["sha256"]


def test_a_shorter_log_is_a_mismatch():
    status, _, difference, _ = check(texts("a"), texts("b")[:29])
    assert status == "mismatch" and difference["reason"] == "one log is shorter"
    assert difference["index"] == 29


def test_equal_values_written_differently_are_a_mismatch():
    # 1 and 1.0 are equal in Python, not in the stored data a researcher loads
    status, _, difference, _ = check(
        texts("a", at=5, column="terminated", value=1),
        texts("b", at=5, column="terminated", value=1.0),
    )
    assert status == "mismatch"
    assert difference["frame"] == 5 and difference["column"] is None
    assert "written differently" in difference["reason"]


async def test_background_work_is_finished_and_its_failures_logged(caplog):
    done = []

    async def work(n: int) -> None:
        await asyncio.sleep(0.01 * n)
        done.append(n)

    async def broken() -> None:
        raise ValueError("no such episode")

    background = Background("the parity check")
    for n in range(3):
        background.start(work(n))
    with caplog.at_level(logging.ERROR, "igym.server"):
        background.start(broken())
        await background.finish(5)
    assert sorted(done) == [0, 1, 2] and len(background) == 0
    assert "the parity check failed" in caplog.text and "no such episode" in caplog.text


async def test_background_work_past_its_time_is_cancelled(caplog):
    background = Background("the parity check")
    background.start(asyncio.sleep(60))
    with caplog.at_level(logging.WARNING, "igym.server"):
        await background.finish(0.05)
    assert len(background) == 0
    assert "the parity check: 1 cancelled, unfinished after 0.05 s" in caplog.text
