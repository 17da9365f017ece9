"""The store: atomic progress, no double writes, one experiment per store; on both backends
(an SQLite file, a PostgreSQL database started for the tests)."""

from __future__ import annotations

import sqlite3

import pytest

from igym_core.storage.store import Store, StoreError


@pytest.fixture
def store(store_target):
    s = Store(store_target, "study")
    yield s
    s.close()


def test_wal_mode_and_full_sync(tmp_path):
    store = Store(tmp_path / "s.sqlite3", "study")
    db = sqlite3.connect(store.path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.pragma("synchronous") == 2  # FULL
    store.close()


def test_participant_lifecycle(store):
    assert store.create_participant("p1", "h", {"STUDY_ID": "s"}, 1.0).result()
    assert not store.create_participant("p1", "other", {}, 2.0).result()
    p = store.participant("p1")
    assert p.token_hash == "h" and p.params == {"STUDY_ID": "s"} and p.scene_index == 0
    assert store.start_scene("p1", "consent", 0, 1.5).result()
    assert not store.start_scene("p1", "consent", 0, 1.6).result()
    assert store.finish_scene("p1", "consent", 0, {"agree": True}, 1, "active", 2.0).result()
    # a retry of the same submission changes nothing
    assert not store.finish_scene("p1", "consent", 0, {"agree": False}, 1, "active", 3.0).result()
    assert store.responses_for("p1", "consent") == {"agree": True}
    assert store.participant("p1").scene_index == 1


def test_a_failed_transaction_leaves_nothing(store):
    store.create_participant("p1", "h", {}, 1.0).result()
    store.finish_scene("p1", "consent", 0, {"agree": True}, 1, "active", 2.0).result()

    def broken(db):
        db.execute("UPDATE participants SET scene_index = 5 WHERE participant_id = 'p1'")
        # a response for a participant that does not exist violates the foreign key
        db.execute("INSERT INTO responses VALUES ('ghost','s','f','1',1)")

    with pytest.raises(store.backend.errors, match=r"(?i)foreign key"):
        store.transaction(broken).result()
    assert store.participant("p1").scene_index == 1
    assert store.integrity_ok()


def test_a_store_belongs_to_one_experiment(store_target):
    Store(store_target, "study").close()
    with pytest.raises(StoreError, match="holds experiment 'study', not 'other'"):
        Store(store_target, "other")


def test_reader_rows_are_sorted_and_decoded(store):
    store.create_participant("b", "h", {"x": "1"}, 2.0).result()
    store.create_participant("a", "h", {}, 1.0).result()
    store.finish_scene("a", "s1", 0, {"z": 1, "y": [1, 2]}, 1, "active", 3.0).result()
    store.add_event("a", "joined", {"k": "v"}, 4.0).result()
    reader = store.reader()
    assert [p["participant_id"] for p in reader.participants()] == ["a", "b"]
    assert [(r["field"], r["value"]) for r in reader.responses()] == [("y", [1, 2]), ("z", 1)]
    assert [e["data"] for e in reader.events()] == [{"k": "v"}]


def test_a_frame_sent_again_with_other_contents_is_kept_and_flagged(store):
    store.create_participant("p1", "h", {}, 1.0).result()
    store.start_episode("p1", "g", 0, 7, 1.0).result()
    record = {"actions": {"a": 1}, "rewards": {"a": 0.0}, "t": {"tick": 1.0}}
    assert store.add_frames("p1", "g", 0, [(0, record), (1, record)]).result() == 2
    again = {**record, "t": {"tick": 2.0}}  # a re-sent chunk: other timestamps only
    assert store.add_frames("p1", "g", 0, [(1, again)]).result() == 0
    assert [e["kind"] for e in store.reader().events()] == []
    other = {**record, "actions": {"a": 2}}  # played twice: not the same frame
    assert store.add_frames("p1", "g", 0, [(1, other), (2, record)]).result() == 1
    [event] = list(store.reader().events())
    assert event["kind"] == "frame_conflict"
    assert event["data"] == {"scene_id": "g", "episode": 0, "frame": 1, "column": "actions"}
    assert store.frame_rows("p1", "g", 0)[1]["actions"] == {"a": 1}, "the stored frame stays"


def test_exclusion_and_same_person_on_either_backend(store):
    """An exclusion is stored once; earlier visits are found by an identifying URL parameter
    (exactly: no prefix, case or LIKE-wildcard matches)."""
    store.create_participant("a", "h", {"PROLIFIC_PID": "P_1%"}, 1.0).result()
    store.create_participant("b", "h", {"PROLIFIC_PID": "P_1%", "x": "1"}, 2.0).result()
    store.create_participant("c", "h", {"PROLIFIC_PID": "p_1%"}, 3.0).result()
    store.create_participant("d", "h", {"PROLIFIC_PID": "PX1%9"}, 4.0).result()
    record = {"rule": "device", "phase": "entry", "reason": "device is mobile", "message": "No."}
    assert store.exclude("a", record, 5.0).result()
    assert not store.exclude("a", record, 6.0).result()
    assert store.participant("a").status == "excluded"
    assert store.exclusion("a")["reason"] == "device is mobile"
    found = store.same_person("b", {"PROLIFIC_PID": "P_1%"}, ("PROLIFIC_PID",), 20)
    assert found == [{"participant_id": "a", "param": "PROLIFIC_PID", "status": "excluded"}]
    assert store.same_person("b", {}, ("PROLIFIC_PID",), 20) == []
