"""The store's writer thread: group commits, a job's error kept to itself, locks waited out,
bounded waiting and a bounded queue."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest

from igym_core.storage.store import SCHEMA_VERSION, Store
from igym_core.storage.writer import Pending, StoreBusy, StoreError


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "s.sqlite3", "study", write_timeout_s=0.6)
    yield s
    s.close()


def test_a_pending_write_has_no_truth_value(store):
    pending = store.create_participant("p1", "h", {}, 1.0)
    assert isinstance(pending, Pending)
    with pytest.raises(TypeError, match=r"await it or call \.result"):
        bool(pending)
    assert pending.result() is True


def test_one_failing_job_does_not_undo_the_others_in_its_batch(store_target):
    store = Store(store_target, "study")
    store.create_participant("p1", "h", {}, 1.0).result()
    pendings = [store.add_event("p1", "e", {"i": i}, 2.0) for i in range(50)]
    bad = store.add_frames("p1", "nope", 0, [(0, {})])  # never started: StoreError
    more = [store.add_event("p1", "e", {"i": i}, 3.0) for i in range(50, 100)]
    with pytest.raises(StoreError, match="never started"):
        bad.result()
    assert all(p.result() for p in pendings + more)
    assert store.event_count("p1") == 100
    assert store._writer.batches < 100, "the writes were committed in groups"
    store.close()


def test_a_lock_held_by_another_program_is_waited_out_then_reported(store):
    store.create_participant("p1", "h", {}, 1.0).result()
    other = sqlite3.connect(store.path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    started = time.monotonic()
    waited = store.add_event("p1", "e", {}, 1.0)
    background = store.add_event("p1", "bg", {}, 1.0, background=True)
    with pytest.raises(StoreBusy, match="locked by another program"):
        waited.result(timeout=5)
    assert 0.5 < time.monotonic() - started < 3
    assert not background.done(), "nobody waits for a background write: it keeps its place"
    other.execute("ROLLBACK")
    assert background.result(timeout=5) is True
    assert store.add_event("p1", "after", {}, 2.0).result(timeout=5) is True
    assert store.lock_waits > 0
    kinds = [e["kind"] for e in store.reader().events()]
    assert kinds == ["bg", "after"], "the refused write left nothing behind"


def test_a_failed_commit_runs_the_batch_again(tmp_path):
    """COMMIT may fail with SQLITE_BUSY; the batch is rolled back and run again, once."""
    fails = {"left": 1, "commits": 0}

    class Flaky(sqlite3.Connection):
        def execute(self, sql, *args):  # type: ignore[override]
            if sql == "COMMIT" and threading.current_thread().name.startswith("igym-store"):
                fails["commits"] += 1
                if fails["commits"] > 1 and fails["left"]:  # the first one sets the store up
                    fails["left"] -= 1
                    raise sqlite3.OperationalError("database is locked")
            return super().execute(sql, *args)

    real = sqlite3.connect

    try:
        sqlite3.connect = lambda *a, **k: real(*a, **{**k, "factory": Flaky})  # type: ignore
        flaky = Store(tmp_path / "g.sqlite3", "study")
    finally:
        sqlite3.connect = real  # type: ignore[assignment]
    try:
        assert flaky.create_participant("p1", "h", {}, 1.0).result(timeout=5) is True
        assert fails["left"] == 0
        assert flaky.participant("p1") is not None
        assert flaky.create_participant("p1", "h", {}, 1.0).result() is False, "stored once"
    finally:
        flaky.close()


def test_a_full_queue_refuses_at_once(tmp_path):
    store = Store(tmp_path / "q.sqlite3", "study", max_pending_writes=10)
    other = sqlite3.connect(store.path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        held = [store.add_event(None, "e", {}, 1.0, background=True) for _ in range(30)]
        refused = [p for p in held if p.done() and isinstance(p.exception(), StoreBusy)]
        assert len(refused) >= 19, "beyond the bound a write fails before any work is done"
    finally:
        other.execute("ROLLBACK")
        store.close()


def test_close_commits_what_is_queued(store_target):
    store = Store(store_target, "study")
    store.create_participant("p1", "h", {}, 1.0)
    for i in range(200):
        store.add_event("p1", "e", {"i": i}, 1.0, background=True)
    store.close()
    again = Store(store_target, "study")
    assert again.event_count("p1") == 200
    again.close()
    with pytest.raises(StoreError, match="closed"):
        store.add_event("p1", "late", {}, 2.0).result()


def test_a_corrupt_or_foreign_file_is_refused_in_one_line(tmp_path):
    junk = tmp_path / "junk.sqlite3"
    junk.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="is not an SQLite database") as caught:
        Store(junk, "study")
    assert "\n" not in str(caught.value)
    foreign = tmp_path / "foreign.sqlite3"
    db = sqlite3.connect(foreign)
    db.execute("CREATE TABLE customers (id INTEGER)")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="another program, not an igym store"):
        Store(foreign, "study")
    torn = tmp_path / "torn.sqlite3"
    good = Store(torn, "study")
    good.close()
    data = bytearray(torn.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)  # wreck the schema page
    torn.write_bytes(bytes(data))
    with pytest.raises(StoreError, match="damaged or not an igym store"):
        Store(torn, "study")


def test_a_schema_1_store_is_migrated(tmp_path):
    path = tmp_path / "old.sqlite3"
    db = sqlite3.connect(path)
    db.executescript(
        """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        INSERT INTO meta VALUES ('schema_version', '1'), ('experiment_id', 'study');
        CREATE TABLE scene_progress (participant_id TEXT NOT NULL, scene_id TEXT NOT NULL,
            scene_index INTEGER NOT NULL, started_at REAL NOT NULL, finished_at REAL,
            PRIMARY KEY (participant_id, scene_id));
        INSERT INTO scene_progress VALUES ('p1', 's', 0, 1.0, 2.0), ('p1', 't', 1, 2.0, NULL);
        CREATE TABLE episodes (participant_id TEXT NOT NULL, scene_id TEXT NOT NULL,
            episode INTEGER NOT NULL, seed INTEGER NOT NULL, status TEXT NOT NULL DEFAULT
            'playing', frames INTEGER NOT NULL DEFAULT 0, summary TEXT NOT NULL DEFAULT '{}',
            started_at REAL NOT NULL, ended_at REAL,
            PRIMARY KEY (participant_id, scene_id, episode));
        """
    )
    db.commit()
    db.close()
    store = Store(path, "study")
    rows = {r["scene_id"]: r["status"] for r in store.reader().scene_progress()}
    assert rows == {"s": "completed", "t": None}
    assert store.episodes_for("p1", "s") == []  # the new column is there
    store.close()


def test_a_schema_3_store_gains_the_telemetry_and_disconnection_tables(tmp_path):
    path = tmp_path / "three.sqlite3"
    store = Store(path, "study")
    store.create_participant("p1", "h", {}, 1.0).result()
    store.close()
    db = sqlite3.connect(path)  # what a schema-3 store looked like: neither table
    db.executescript(
        "DROP TABLE telemetry; DROP TABLE disconnections; "
        "UPDATE meta SET value = '3' WHERE key = 'schema_version';"
    )
    db.close()
    store = Store(path, "study")
    assert store.pragma("user_version") == 0  # (versions live in meta)
    store.add_telemetry("p1", "g", 0, [(1.0, "ws_rtt_ms", 3.0)]).result()
    assert store.telemetry_count("p1", "g", 0) == 1
    assert store.participant("p1") is not None
    store.close()
    version = sqlite3.connect(path).execute("SELECT value FROM meta WHERE key = 'schema_version'")
    assert version.fetchone()[0] == str(SCHEMA_VERSION)


async def test_a_caller_that_stops_waiting_neither_cancels_the_write_nor_stops_the_writer(
    store,
):
    """A page that disconnects while its frames are stored: its handler is cancelled, the
    write still happens, and the writer goes on with the next."""
    import asyncio

    store.create_participant("p1", "h", {}, 1.0).result()
    other = sqlite3.connect(store.path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # hold the writer so that the wait can be cancelled
    waiting = asyncio.ensure_future(store.add_event("p1", "cancelled", {}, 1.0))
    await asyncio.sleep(0.05)
    waiting.cancel()
    await asyncio.sleep(0)
    other.execute("ROLLBACK")
    assert await store.add_event("p1", "next", {}, 2.0) is True
    assert [e["kind"] for e in store.reader().events()] == ["cancelled", "next"]
