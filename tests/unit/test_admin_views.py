"""The console's views over a store: states, and records that later work adds (exclusions,
rule errors, reconnect timeouts, telemetry rows) showing up without changes to the console."""

from __future__ import annotations

import pytest

from igym_core.server.admin import views
from igym_core.server.admin.classify import classify
from igym_core.server.admin.digest import AssignmentLog, EventDigest
from igym_core.server.admin.queries import ReadDB
from igym_core.storage.store import Store
from tests.conftest import small_experiment


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "s.sqlite3", "study")
    yield s
    s.close()


def context(store: Store, tmp_path, now: float, live=frozenset()) -> views.Context:
    store.flush()  # the writes above are queued: the console reads what is committed
    db = ReadDB(store.path)
    events = EventDigest()
    events.read(db)
    log = AssignmentLog(tmp_path / "study.assignments.jsonl")
    log.read()
    return views.Context(db, events, log, small_experiment(), views.LiveView(now, frozenset(live)))


def test_states_follow_status_connection_and_time(store, tmp_path):
    for pid, at in (("done", 1.0), ("here", 2.0), ("gone", 3.0), ("idle", 50.0)):
        store.create_participant(pid, "h", {"PROLIFIC_PID": pid.upper()}, at)
    store.finish_scene("done", "consent", 0, {"agree": True}, 2, "completed", 5.0)
    ctx = context(store, tmp_path, now=160.0, live={"here"})
    states = {p["participant_id"]: p["state"] for p in views.participant_list(ctx)}
    # "gone" has been offline for more than DROPPED_AFTER_S; "idle" for less
    assert states == {"done": "completed", "here": "active", "gone": "dropped", "idle": "active"}
    rows = {p["participant_id"]: p for p in views.participant_list(ctx)}
    assert rows["here"]["last_seen"] == 160.0 and rows["gone"]["platform"] == {
        "PROLIFIC_PID": "GONE"
    }
    dash = views.dashboard(ctx)
    assert dash["counts"] == {
        "total": 4, "active": 2, "waiting": 0, "playing": 0, "completed": 1, "excluded": 0, "dropped": 1,
    }  # fmt: skip
    assert dash["completion_rate"] == 0.25


def test_records_of_later_work_show_up_generically(store, tmp_path):
    for pid in ("p1", "p2", "p3"):
        store.create_participant(pid, "h", {}, 1.0)
    store.add_event("p1", "rule_error", {"rule": "max_ping", "error": "ZeroDivisionError"}, 2.0)
    store.add_event(
        "p1", "reconnect_timeout", {"match_id": "m1", "message": "partner gone 5 s"}, 4.0
    )
    store.add_event("p1", "client:worker_crash", {"message": "out of memory"}, 4.5)
    store.add_event("p2", "excluded", {"rule": "tab_hidden", "reason": "hidden for 31 s"}, 3.0)
    record = {"rule": "tab_hidden", "phase": "continuous", "reason": "hidden for 31 s"}
    store.exclude("p2", {**record, "message": "Bye.", "scene_id": "g"}, 3.0)
    store.add_event("p3", "client:telemetry", {"metric": "rtt_ms", "value": 42.0}, 6.0)

    store.add_telemetry(  # the long-format telemetry table (issue 12), read generically
        "p1",
        "g",
        0,
        [(10.0 + i, "rtt_ms", 20.0 + i) for i in range(3)]
        + [(11.0, "rollbacks", 2.0), (11.0, "candidate_type", "host")],
    )

    ctx = context(store, tmp_path, now=10.0)
    dash = views.dashboard(ctx)
    assert dash["counts"]["excluded"] == 1
    assert dash["exclusions"]["by_rule"] == {"tab_hidden": 1}
    labels = {p["kind"]: (p["label"], p["participant_id"]) for p in dash["problems"]}
    assert labels == {
        "rule_error": ("exclusion rule raised an error", "p1"),
        "reconnect_timeout": ("reconnect timeout", "p1"),
        "client:worker_crash": ("worker crash", "p1"),
    }
    one = views.participant_detail(ctx, "p1")
    assert one["series"]["rtt_ms"]["p1"] == [[10.0, 20.0], [11.0, 21.0], [12.0, 22.0]]
    assert one["series"]["rollbacks"]["p1"] == [[11.0, 2.0]]
    assert one["flags"] == {"rule_error": 1, "disconnected": 1, "worker_crash": 1}
    assert [p["kind"] for p in one["problems"]] == [
        "rule_error",
        "reconnect_timeout",
        "client:worker_crash",
    ]
    two = views.participant_detail(ctx, "p2")
    assert two["state"] == "excluded"
    assert [(x["rule"], x["reason"]) for x in two["exclusions"]] == [
        ("tab_hidden", "hidden for 31 s")  # the row (its event is the same exclusion)
    ]
    assert views.participant_detail(ctx, "p3")["series"] == {"rtt_ms": {"p3": [[6.0, 42.0]]}}


def test_events_are_read_incrementally_and_problems_grouped(store, tmp_path):
    store.create_participant("p1", "h", {}, 1.0)
    ctx = context(store, tmp_path, now=5.0)
    for i in range(3):
        store.add_event("p1", "client:game_error", {"message": "the worker died"}, 2.0 + i)
    store.add_event("p1", "client:game_error", {"message": "another error"}, 9.0)
    store.flush()
    assert ctx.events.read(ctx.db) == 4 and ctx.events.read(ctx.db) == 0
    problems = ctx.events.newest_problems(10)
    assert [(p["message"], p["count"]) for p in problems] == [
        ("another error", 1),
        ("the worker died", 3),
    ]
    assert ctx.events.people["p1"].last_seen == 9.0


@pytest.mark.parametrize(
    ("kind", "data", "flag", "problem"),
    [
        ("joined", {}, None, None),
        ("session_phase", {"phase": "ended", "reason": "disconnected"}, "disconnected", "left a game: offline past the grace time"),
        ("session_phase", {"phase": "ended", "reason": "waiting_timeout"}, "waiting_timeout", None),
        ("session_phase", {"phase": "ended", "reason": "partner_left:x"}, "partner_left", None),
        ("bad_message", {"code": "invalid"}, "refused_messages", None),
        ("client:p2p_desync", {}, "desync", "desync detected by the peers"),
        ("client:visibility", {"state": "hidden"}, None, None),
        ("client:something_failed", {}, "something_failed", "something failed"),
        ("admin:close", {}, None, None),
        ("session_phase", {"phase": "ended", "reason": "left"}, "left", None),
        ("session_phase", {"phase": "ended", "reason": "reconnect_timeout:x"}, "disconnected", "reconnect timeout: a member did not come back"),
        ("client:p2p_paused", {"frame": 40, "waiting_for": [1]}, "paused", None),
        ("client:p2p_repair_failed", {}, "p2p_failed", "peer connection could not be repaired"),
        ("client:p2p_rejoined", {}, "reloaded", None),
    ],
)  # fmt: skip
def test_what_an_event_means(kind, data, flag, problem):
    meaning = classify(kind, data)
    assert (meaning.flag, meaning.problem) == (flag, problem)


def test_parity_mismatches_are_problems_linked_to_their_match(store, tmp_path):
    store.save_match("m1", "g", ["a", "b"], "fifo", "ended", "completed", 1.0, 2.0)
    store.save_parity("m1", "g", 0, "identical", {}, None, 3.0)
    store.save_parity("m1", "g", 1, "mismatch", {}, {"frame": 17, "field": "actions"}, 4.0)
    ctx = context(store, tmp_path, now=10.0)
    dash = views.dashboard(ctx)
    assert dash["parity"] == {"identical": 1, "mismatch": 1}
    assert dash["matches"] == {"running": 0, "finished": 1, "requeued": 0, "total": 1}
    (problem,) = dash["problems"]
    assert problem["match_id"] == "m1" and problem["kind"] == "parity_mismatch"
    assert problem["message"] == "episode 1: the members' logs differ from frame 17"
    (match,) = views.match_list(ctx)
    assert match["health"]["parity"] == {"identical": 1, "mismatch": 1}
