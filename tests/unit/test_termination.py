"""How an episode and a match ended, read from the server's records (the exported
``termination.*`` columns of ``episodes`` and the outcome columns of ``matches``)."""

from __future__ import annotations

from igym_core.storage.termination import match_outcome, quantiles, termination


def record(pid: str, kind: str, outcome: str | None, **fields) -> dict:
    return {"participant_id": pid, "kind": kind, "outcome": outcome, "episode": 0, **fields}


def test_the_member_named_by_the_end_reason_left_and_every_other_member_was_left():
    records = [record("a", "closed", "left", started_at=10.0, frame=77)]
    episode = {"episode": 0, "status": "partial", "reason": "ended_by_page", "summary": {}}
    mine = termination("a", episode, "partner_left:a", records)
    theirs = termination("b", episode, "partner_left:a", records)
    assert (mine["reason"], theirs["reason"]) == ("left", "partner_left")
    for row in (mine, theirs):  # whoever clicked first, both name the same member
        assert (row["disconnected"], row["at"], row["frame"]) == ("a", 10.0, 77)
        assert row["disconnections"] == 1


def test_reconnect_timeout_exclusion_and_a_lost_connection():
    episode = {"episode": 0, "status": "partial", "summary": {"p2p_repairs": 2, "paused_ms": 5000}}
    gone = [record("b", "network", "reconnect_timeout", started_at=3.0, frame=90)]
    back = record("b", "network", "resumed", started_at=1.0, frame=40)  # an outage before
    row = termination("a", episode, "reconnect_timeout:b", [back, *gone])
    assert (row["reason"], row["disconnected"], row["frame"]) == ("reconnect_timeout", "b", 90)
    assert (row["reconnection_attempts"], row["pause_ms"]) == (2.0, 5000.0)
    assert row["disconnections"] == 2
    assert termination("b", episode, "excluded:b", [])["reason"] == "excluded"
    assert termination("a", episode, "excluded:b", [])["reason"] == "partner_excluded"
    lost = termination("a", episode, "connection_lost", [])
    assert (lost["reason"], lost["disconnected"]) == ("connection_lost", None)


def test_a_complete_episode_after_a_reload_says_so_for_the_member_who_reloaded():
    records = [record("b", "reload", "reload_resumed", started_at=5.0, frame=400)]
    episode = {"episode": 0, "status": "complete", "summary": {}}
    assert termination("b", episode, None, records)["reason"] == "reload_resumed"
    assert termination("a", episode, None, records)["reason"] == "completed"
    later = {"episode": 1, "status": "complete", "summary": {}}
    assert termination("b", later, None, records)["disconnections"] == 0  # another episode's


def test_a_match_outcome_counts_disconnections_reloads_and_pause_time():
    records = [
        record("b", "reload", "reload_resumed", pause_ms=3000.0),
        record("b", "network", "reconnect_timeout", pause_ms=5000.5, episode=1, frame=12),
    ]
    match = {"end_reason": "reconnect_timeout:b"}
    assert match_outcome(match, records) == {
        "left": "b",
        "disconnections": 2,
        "reloads": 1,
        "pause_ms": 8000.5,
        "ended_episode": 1,  # where it went away for good, not the earlier reload
        "ended_frame": 12,
    }
    assert match_outcome({"end_reason": None}, [])["left"] is None


def test_quantiles_are_nearest_rank():
    assert quantiles([]) is None
    assert quantiles([3.0]) == {"p50": 3.0, "p95": 3.0, "max": 3.0}
    assert quantiles(float(v) for v in range(1, 101)) == {"p50": 50.0, "p95": 95.0, "max": 100.0}
