"""The store on a real PostgreSQL server: one schema per experiment in a shared database, locks
waited out with a deadline, a lost connection reconnected without losing a write, and several
processes opening one study at once."""

from __future__ import annotations

import multiprocessing
import threading
import time

import psycopg
import pytest

from igym_core.settings import Settings
from igym_core.storage.backends import BackendError, backend_for
from igym_core.storage.store import Store, StoreError
from igym_core.storage.writer import StoreBusy


def test_experiments_share_a_database_each_in_its_own_schema(postgres_url, tmp_path):
    settings = Settings(data_dir=tmp_path, database=postgres_url)
    a = Store(settings.store_target("study-a"), "study-a")
    b = Store(settings.store_target("study-b"), "study-b")
    try:
        a.create_participant("p1", "h", {}, 1.0).result()
        assert b.participant("p1") is None
        assert "schema=igym_study_a" in a.location and "@" in a.location
        assert Store.open_existing(a.location_for_readers).experiment_id == "study-a"
    finally:
        a.close()
        b.close()
    with psycopg.connect(postgres_url) as db:
        schemas = {r[0] for r in db.execute("SELECT schema_name FROM information_schema.schemata")}
    assert {"igym_study_a", "igym_study_b"} <= schemas


def test_a_bad_url_is_refused_in_one_line(postgres_server):
    with pytest.raises(BackendError, match="a schema name is letters"):
        backend_for(postgres_server.url() + "?schema=x;drop")
    closed = f"postgresql://nobody@127.0.0.1:{postgres_server.port + 1 or 1}/x"
    with pytest.raises(StoreError, match="cannot reach the database") as caught:
        Store(closed, "study").create_participant("p", "h", {}, 1.0).result()
    assert "\n" not in str(caught.value)
    assert "password" not in str(caught.value)


def test_a_lock_held_by_another_program_is_waited_out_then_reported(postgres_url):
    store = Store(postgres_url, "study", write_timeout_s=0.6)
    try:
        store.create_participant("p1", "h", {}, 1.0).result()
        other = psycopg.connect(postgres_url)
        other.execute("LOCK TABLE events IN ACCESS EXCLUSIVE MODE")  # a transaction, held
        started = time.monotonic()
        waited = store.add_event("p1", "e", {}, 1.0)
        background = store.add_event("p1", "bg", {}, 1.0, background=True)
        with pytest.raises(StoreBusy, match="locked by another program"):
            waited.result(timeout=5)
        assert 0.5 < time.monotonic() - started < 3
        assert not background.done()
        other.rollback()
        other.close()
        assert background.result(timeout=5) is True
        assert store.lock_waits > 0
        assert [e["kind"] for e in store.reader().events()] == ["bg"]
    finally:
        store.close()


def test_a_lost_connection_is_made_again_and_nothing_is_lost(postgres_url):
    store = Store(postgres_url, "study")
    try:
        store.create_participant("p1", "h", {}, 1.0).result()
        admin = psycopg.connect(postgres_url, autocommit=True)
        pendings = []
        for i in range(400):
            pendings.append(store.add_event("p1", "e", {"i": i}, 1.0, background=True))
            if i % 100 == 50:  # the server ends the writer's session in the middle of it all
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
        assert all(p.result(timeout=20) for p in pendings)
        assert store.event_count("p1") == 400
        data = sorted(e["data"]["i"] for e in store.reader().events())
        assert data == list(range(400)), "every write once, none twice"
        admin.close()
    finally:
        store.close()


def _open_and_write(url: str, n: int) -> None:
    store = Store(url + "?schema=igym_shared", "shared")
    try:
        for i in range(20):
            store.create_participant(f"p{n}-{i}", "h", {}, 1.0).result(timeout=20)
    finally:
        store.close()


def test_several_processes_open_one_study_at_once(postgres_url):
    context = multiprocessing.get_context("spawn")
    procs = [context.Process(target=_open_and_write, args=(postgres_url, n)) for n in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    store = Store.open_existing(postgres_url + "?schema=igym_shared")
    try:
        assert len(list(store.reader().participants())) == 80
    finally:
        store.close()


def test_processes_that_create_a_study_schema_at_once_all_open_it(postgres_url):
    # CREATE SCHEMA IF NOT EXISTS, run at the same moment, fails one of them on the catalog's
    # unique index (3 rounds in 10 here without the lock): the study's first processes start
    # together when a researcher launches them together
    def open_writer(backend, start: threading.Barrier, errors: list[Exception]) -> None:
        start.wait()
        try:
            backend.connect_writer().close()
        except Exception as exc:
            errors.append(exc)

    for round_ in range(10):
        backend = backend_for(f"{postgres_url}?schema=together{round_}")
        start = threading.Barrier(8)
        errors: list[Exception] = []
        threads = [
            threading.Thread(target=open_writer, args=(backend, start, errors)) for _ in range(8)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert errors == [], f"round {round_}: {errors[0]}"
