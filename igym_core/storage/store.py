"""The embedded store: SQLite in WAL mode, the system of record.

Writes go through one writer thread (:mod:`igym_core.storage.writer`): each write method queues a
job and returns a :class:`~igym_core.storage.writer.Pending` — ``await`` it on the event loop,
call ``.result()`` elsewhere, or leave it for a background write. Jobs are committed in groups
with ``synchronous=FULL``; a result is set only after its commit, so a write that was
acknowledged to a browser survives ``kill -9`` of the server. Nothing waits forever on another
program's lock: a write that cannot get the lock in time fails with
:class:`~igym_core.storage.writer.StoreBusy`, and the store goes on the moment the lock goes.

Reads use their own connection per thread (WAL readers never wait for the writer); the server
runs them through :func:`asyncio.to_thread`, never on the event loop.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from igym_core.jsontext import parse, sorted_text
from igym_core.storage.backends import Backend, BackendError, SqliteBackend, backend_for
from igym_core.storage.reader import StoreReader
from igym_core.storage.writer import Pending, StoreBusy, StoreError, Writer

__all__ = ["Participant", "Pending", "Store", "StoreBusy", "StoreError"]

SCHEMA_VERSION = 5  # 3: provenance; 4: exclusions and focus periods; 5: telemetry, disconnections
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS participants (
    participant_id TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL,
    params TEXT NOT NULL,
    scene_index INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT 'active',
    created_at {REAL} NOT NULL,
    updated_at {REAL} NOT NULL
);
CREATE TABLE IF NOT EXISTS scene_progress (
    participant_id TEXT NOT NULL REFERENCES participants(participant_id),
    scene_id TEXT NOT NULL,
    scene_index INTEGER NOT NULL,
    started_at {REAL} NOT NULL,
    finished_at {REAL},
    status TEXT,
    PRIMARY KEY (participant_id, scene_id)
);
CREATE TABLE IF NOT EXISTS responses (
    participant_id TEXT NOT NULL REFERENCES participants(participant_id),
    scene_id TEXT NOT NULL,
    field TEXT NOT NULL,
    value TEXT NOT NULL,
    submitted_at {REAL} NOT NULL,
    PRIMARY KEY (participant_id, scene_id, field)
);
CREATE TABLE IF NOT EXISTS events (
    event_id {AUTO_ID},
    participant_id TEXT,
    kind TEXT NOT NULL,
    data TEXT NOT NULL,
    at {REAL} NOT NULL,
    client_seq INTEGER
);
CREATE UNIQUE INDEX IF NOT EXISTS events_once
    ON events (participant_id, client_seq) WHERE client_seq IS NOT NULL;
CREATE TABLE IF NOT EXISTS episodes (
    participant_id TEXT NOT NULL REFERENCES participants(participant_id),
    scene_id TEXT NOT NULL,
    episode INTEGER NOT NULL,
    seed INTEGER NOT NULL,
    status TEXT NOT NULL DEFAULT 'playing',
    frames INTEGER NOT NULL DEFAULT 0,
    summary TEXT NOT NULL DEFAULT '{}',
    started_at {REAL} NOT NULL,
    ended_at {REAL},
    reason TEXT,
    PRIMARY KEY (participant_id, scene_id, episode)
);
CREATE TABLE IF NOT EXISTS frames (
    participant_id TEXT NOT NULL,
    scene_id TEXT NOT NULL,
    episode INTEGER NOT NULL,
    frame INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (participant_id, scene_id, episode, frame),
    FOREIGN KEY (participant_id, scene_id, episode)
        REFERENCES episodes(participant_id, scene_id, episode)
) {WITHOUT_ROWID};
CREATE TABLE IF NOT EXISTS matches (
    match_id TEXT PRIMARY KEY,
    scene_id TEXT NOT NULL,
    members TEXT NOT NULL,
    matchmaker TEXT NOT NULL,
    status TEXT NOT NULL,
    end_reason TEXT,
    created_at {REAL} NOT NULL,
    updated_at {REAL} NOT NULL
);
CREATE TABLE IF NOT EXISTS parity (
    match_id TEXT NOT NULL,
    scene_id TEXT NOT NULL,
    episode INTEGER NOT NULL,
    status TEXT NOT NULL,
    hashes TEXT NOT NULL,
    first_difference TEXT,
    checked_at {REAL} NOT NULL,
    PRIMARY KEY (match_id, episode)
);
CREATE TABLE IF NOT EXISTS validations (
    match_id TEXT NOT NULL,
    episode INTEGER NOT NULL,
    document TEXT NOT NULL,
    PRIMARY KEY (match_id, episode)
);
CREATE INDEX IF NOT EXISTS events_by_participant ON events (participant_id, event_id);
CREATE TABLE IF NOT EXISTS provenance (
    provenance_id {AUTO_ID},
    recorded_at {REAL} NOT NULL,
    record TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS exclusions (
    participant_id TEXT PRIMARY KEY REFERENCES participants(participant_id),
    rule TEXT NOT NULL,
    phase TEXT NOT NULL,
    reason TEXT NOT NULL,
    message TEXT NOT NULL,
    scene_id TEXT,
    episode INTEGER,
    frame INTEGER,
    redirect_url TEXT,
    completion_code TEXT,
    at {REAL} NOT NULL
);
CREATE TABLE IF NOT EXISTS focus_periods (
    participant_id TEXT NOT NULL REFERENCES participants(participant_id),
    scene_id TEXT NOT NULL,
    period INTEGER NOT NULL,
    episode INTEGER,
    start_frame INTEGER,
    end_frame INTEGER,
    start_ms {REAL},
    end_ms {REAL},
    duration_ms {REAL},
    started_at {REAL} NOT NULL,
    ended_at {REAL},
    PRIMARY KEY (participant_id, scene_id, period)
);
CREATE TABLE IF NOT EXISTS telemetry (
    participant_id TEXT NOT NULL,
    scene_id TEXT NOT NULL,
    episode INTEGER NOT NULL,
    t {REAL} NOT NULL,
    metric TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (participant_id, scene_id, episode, metric, t)
) {WITHOUT_ROWID};
CREATE TABLE IF NOT EXISTS disconnections (
    record_id TEXT PRIMARY KEY,
    match_id TEXT NOT NULL,
    scene_id TEXT NOT NULL,
    participant_id TEXT NOT NULL,
    episode INTEGER,
    kind TEXT NOT NULL,
    started_at {REAL} NOT NULL,
    frame INTEGER,
    ended_at {REAL},
    outcome TEXT,
    pause_ms {REAL}
);
CREATE INDEX IF NOT EXISTS disconnections_by_match ON disconnections (match_id, started_at);
"""


@attrs.frozen
class Participant:
    participant_id: str
    token_hash: str
    params: Mapping[str, str]
    scene_index: int
    status: str
    created_at: float
    updated_at: float


@attrs.frozen
class EpisodeClosed:
    """What :meth:`Store.end_episode` decided: the episode's status, why it is partial (if it
    is), how many frames are stored, and the ranges of frames that are missing."""

    status: str
    reason: str | None
    frames: int
    missing: tuple[tuple[int, int], ...] = ()


@attrs.frozen
class SceneFinish:
    """What :meth:`Store.finish_game_scene` decided: ``stored`` (moved on), ``stale`` (the
    participant is no longer at that scene: a retry) or ``incomplete`` with the ``problem``."""

    outcome: str
    status: str | None = None
    problem: str | None = None


#: how many missing-frame ranges an episode's summary lists (the count is always exact)
MAX_MISSING_RANGES = 100
_OUR_TABLES = frozenset(
    {
        "meta",
        "participants",
        "scene_progress",
        "responses",
        "events",
        "episodes",
        "frames",
        "matches",
        "parity",
        "validations",
        "telemetry",
        "disconnections",
        "provenance",
        "exclusions",
        "focus_periods",
        "sqlite_sequence",
    }
)


_dumps = sorted_text


def missing_ranges(frames: list[int], count: int) -> list[tuple[int, int]]:
    """The ranges ``(first, last)`` of ``0..count-1`` that are not in sorted ``frames``."""
    gaps = []
    expected = 0
    for frame in frames:
        if frame >= count:
            break
        if frame > expected:
            gaps.append((expected, frame - 1))
        expected = frame + 1
    if expected < count:
        gaps.append((expected, count - 1))
    return gaps


class Store:
    """One experiment's records in one SQLite file."""

    def __init__(
        self,
        path: Path | str,
        experiment_id: str,
        *,
        write_timeout_s: float = 5.0,
        max_pending_writes: int = 20_000,
    ) -> None:
        """``path`` is an SQLite file, or a ``postgresql://`` URL (one database per
        experiment)."""
        try:
            self.backend: Backend = backend_for(path)
            self.backend.check()
        except BackendError as exc:
            raise StoreError(str(exc)) from None
        #: the SQLite file (None for PostgreSQL)
        self.path: Path | None = getattr(self.backend, "path", None)
        self.location = self.backend.location
        #: what another reader (the admin console) opens: the file, or the URL
        self.location_for_readers: Path | str = self.path or str(path)
        self.experiment_id = experiment_id
        self._local = threading.local()
        self._readers: list[Any] = []
        self._readers_lock = threading.Lock()
        self._closed = False
        self._writer = Writer(
            self._open_for_writing,
            self.backend,
            name=f"igym-store-{experiment_id}",
            timeout_s=write_timeout_s,
            max_pending=max_pending_writes,
        )

    @classmethod
    def open_existing(cls, path: Path | str, experiment_id: str | None = None) -> Store:
        """Open a store that exists, for reading a study (its experiment read from the store
        when not given)."""
        try:
            backend = backend_for(path)
        except BackendError as exc:
            raise StoreError(str(exc)) from None
        if isinstance(backend, SqliteBackend) and not backend.path.is_file():
            raise StoreError(f"{backend.path} does not exist")
        if experiment_id is None or not isinstance(backend, SqliteBackend):
            # a database is asked first: opening it for writing would make an empty study
            try:
                db = backend.connect_reader()
                try:
                    if "meta" not in backend.tables(db):
                        raise StoreError(f"{backend.location} does not exist (no igym store)")
                    row = db.execute(
                        "SELECT value FROM meta WHERE key = 'experiment_id'"
                    ).fetchone()
                finally:
                    db.close()
            except BackendError as exc:
                raise StoreError(str(exc)) from None
            except backend.errors as exc:
                raise StoreError(f"{backend.location} is not an igym store: {exc}") from None
            if row is None:
                raise StoreError(f"{backend.location} is not an igym store")
            experiment_id = experiment_id or str(row[0])
        return cls(path, experiment_id)

    # -- opening --------------------------------------------------------------------------------

    def _open_for_writing(self) -> Any:
        """The writer thread's connection: schema, migrations, the experiment's claim."""
        try:
            db = self.backend.connect_writer()
        except BackendError as exc:
            raise StoreError(str(exc)) from None
        except self.backend.errors as exc:
            raise self._refusal(exc) from None
        try:
            db.execute(self.backend.begin)
            try:
                self._setup(db)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
            self.backend.after_setup(db)
        except self.backend.errors as exc:
            db.close()
            raise self._refusal(exc) from None
        except BaseException:
            db.close()
            raise
        return db

    def _refusal(self, exc: BaseException) -> StoreError:
        """One line saying why the store cannot be opened."""
        where = self.location
        if self.backend.retryable(exc):
            return StoreError(f"{where} is locked by another program; close it and start again")
        if isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError):
            return StoreError(f"{where} is damaged or not an igym store: {exc}")
        return StoreError(f"{where} cannot be used: {exc}")

    def _setup(self, db: Any) -> None:
        self.backend.lock_setup(db)
        tables = self.backend.tables(db)
        meta = (
            dict(db.execute("SELECT key, value FROM meta").fetchall()) if "meta" in tables else {}
        )
        if tables and ("experiment_id" not in meta or not tables <= _OUR_TABLES):
            raise StoreError(f"{self.location} is a database of another program, not an igym store")
        version = int(meta.get("schema_version", SCHEMA_VERSION))
        if version > SCHEMA_VERSION:
            raise StoreError(f"{self.location} was written by a newer igym (schema {version})")
        owner = meta.get("experiment_id")
        if owner is not None and owner != self.experiment_id:
            raise StoreError(
                f"{self.location} holds experiment {owner!r}, not {self.experiment_id!r}"
            )
        for statement in self.backend.ddl(_SCHEMA):
            db.execute(statement)
        if tables and version < 2:
            _migrate_to_2(db, self.backend)
        db.execute(
            "INSERT INTO meta VALUES ('schema_version', ?), ('experiment_id', ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (str(SCHEMA_VERSION), self.experiment_id),
        )

    def close(self) -> None:
        """Commit what is queued (waiting a few seconds at most), then close every connection."""
        if self._closed:
            return
        self._closed = True
        self._writer.close()
        with self._readers_lock:
            readers, self._readers = self._readers, []
        for db in readers:
            db.close()

    @property
    def writes_waiting(self) -> int:
        return self._writer.pending

    @property
    def lock_waits(self) -> int:
        """How often the writer found the database locked by another program."""
        return self._writer.lock_waits

    # -- plumbing -------------------------------------------------------------------------------

    def _write(self, function: Any, *args: Any, background: bool = False) -> Pending:
        return self._writer.submit(function, *args, background=background)

    def _reader(self) -> Any:
        db = getattr(self._local, "db", None)
        if db is None:
            if self._closed:
                raise StoreError("the store is closed")
            try:
                db = self.backend.connect_reader()
            except BackendError as exc:
                raise StoreError(str(exc)) from None
            self._local.db = db
            with self._readers_lock:
                self._readers.append(db)
        return db

    def _one(self, sql: str, args: tuple[Any, ...] = ()) -> Any:
        return self._reader().execute(sql, args).fetchone()

    def _all(self, sql: str, args: tuple[Any, ...] = ()) -> list[Any]:
        return self._reader().execute(sql, args).fetchall()

    def flush(self) -> None:
        """Wait until every write queued so far is committed (or failed)."""
        self._write(lambda db: None).result()

    def pragma(self, name: str) -> Any:
        """An SQLite pragma's value as the writer's connection sees it (for tests)."""
        return self._write(lambda db: db.execute(f"PRAGMA {name}").fetchone()[0]).result()

    def transaction(self, function: Any, *args: Any) -> Pending:
        """Run ``function(db, *args)`` as one write job (for tests and maintenance)."""
        return self._write(function, *args)

    # -- participants ---------------------------------------------------------------------------

    def participant(self, participant_id: str) -> Participant | None:
        row = self._one("SELECT * FROM participants WHERE participant_id = ?", (participant_id,))
        if row is None:
            return None
        return Participant(**{**dict(row), "params": json.loads(row["params"])})

    def create_participant(
        self, participant_id: str, token_hash: str, params: Mapping[str, str], now: float
    ) -> Pending:
        """Add a participant; False when the id is already taken (nothing changes then)."""

        def job(db: Any) -> bool:
            cur = db.execute(
                "INSERT INTO participants (participant_id, token_hash, params, created_at, "
                "updated_at) VALUES (?,?,?,?,?) ON CONFLICT DO NOTHING",
                (participant_id, token_hash, _dumps(dict(params)), now, now),
            )
            return cur.rowcount == 1

        return self._write(job)

    def start_scene(
        self, participant_id: str, scene_id: str, scene_index: int, now: float
    ) -> Pending:
        """Record that a scene was shown; True the first time only. Only while the participant
        is at ``scene_index``: queued right behind the write that moves them there, it commits
        with it, and does nothing should that write not move them."""

        def job(db: Any) -> bool:
            cur = db.execute(
                "INSERT INTO scene_progress (participant_id, scene_id, scene_index, started_at) "
                "SELECT ?,?,?,? WHERE EXISTS (SELECT 1 FROM participants WHERE participant_id = ? "
                "AND scene_index = ?) ON CONFLICT DO NOTHING",
                (participant_id, scene_id, scene_index, now, participant_id, scene_index),
            )
            return cur.rowcount == 1

        return self._write(job)

    def finish_scene(
        self,
        participant_id: str,
        scene_id: str,
        scene_index: int,
        responses: Mapping[str, Any],
        next_index: int,
        status: str,
        now: float,
        scene_status: str = "completed",
    ) -> Pending:
        """Store a scene's answers and move the participant on, atomically.

        Resolves to False (and changes nothing) when the participant is no longer at
        ``scene_index``: a duplicate or stale submission.
        """

        def job(db: Any) -> bool:
            return _move_on(
                db, participant_id, scene_id, scene_index, responses, next_index, status, now,
                scene_status,
            )  # fmt: skip

        return self._write(job)

    def finish_game_scene(
        self,
        participant_id: str,
        scene_id: str,
        scene_index: int,
        episodes: int,
        ended_by: str | None,
        next_index: int,
        status: str,
        now: float,
    ) -> Pending:
        """Move a participant past a game scene, if the scene is done; atomically.

        Done means every one of its ``episodes`` is ``complete``, or the game was ended by a
        reason the server recorded (``ended_by``: the partner left, a timeout...). Then every
        episode still open or partial is closed with that reason, and the scene's status is
        ``completed`` or the reason. Resolves to a :class:`SceneFinish`.
        """

        def job(db: Any) -> SceneFinish:
            row = db.execute(
                "SELECT scene_index FROM participants WHERE participant_id = ?", (participant_id,)
            ).fetchone()
            if row is None or row["scene_index"] != scene_index:
                return SceneFinish("stale")
            played = {
                r["episode"]: (r["status"], r["reason"])
                for r in db.execute(
                    "SELECT episode, status, reason FROM episodes WHERE participant_id = ? "
                    "AND scene_id = ?",
                    (participant_id, scene_id),
                )
            }
            incomplete = [e for e in range(episodes) if played.get(e, ("",))[0] != "complete"]
            if incomplete and ended_by is None:
                return SceneFinish("incomplete", problem=_incomplete(scene_id, incomplete, played))
            if ended_by is not None:
                db.execute(
                    "UPDATE episodes SET status = 'partial', reason = ?, "
                    "ended_at = COALESCE(ended_at, ?) WHERE participant_id = ? AND scene_id = ? "
                    "AND status != 'complete'",
                    (ended_by, now, participant_id, scene_id),
                )
            scene_status = "completed" if not incomplete else ended_by
            _move_on(
                db, participant_id, scene_id, scene_index, {}, next_index, status, now,
                scene_status or "completed",
            )  # fmt: skip
            return SceneFinish("stored", scene_status)

        return self._write(job)

    def set_status(self, participant_id: str, status: str, now: float) -> Pending:
        """Set a participant's status (e.g. ``excluded``); False when there is no such one."""

        def job(db: Any) -> bool:
            cur = db.execute(
                "UPDATE participants SET status = ?, updated_at = ? WHERE participant_id = ?",
                (status, now, participant_id),
            )
            return cur.rowcount == 1

        return self._write(job)

    def exclude(self, participant_id: str, record: Mapping[str, Any], now: float) -> Pending:
        """Exclude a participant, atomically: the ``exclusions`` row (``rule``, ``phase``,
        ``reason``, ``message`` and, when known, ``scene_id``, ``episode``, ``frame``,
        ``redirect_url``, ``completion_code``) and the status ``excluded``. False (and nothing
        changes) when they are already excluded or unknown."""
        keys = ("rule", "phase", "reason", "message", "scene_id", "episode", "frame")
        values = [record.get(k) for k in keys]
        values += [record.get("redirect_url"), record.get("completion_code")]

        def job(db: Any) -> bool:
            known = db.execute(
                "SELECT status FROM participants WHERE participant_id = ?", (participant_id,)
            ).fetchone()
            if known is None or known["status"] == "excluded":
                return False
            cur = db.execute(
                "INSERT INTO exclusions VALUES (?,?,?,?,?,?,?,?,?,?,?) "
                "ON CONFLICT (participant_id) DO NOTHING",
                (participant_id, *values, now),
            )
            if cur.rowcount != 1:
                return False
            db.execute(
                "UPDATE participants SET status = 'excluded', updated_at = ? "
                "WHERE participant_id = ?",
                (now, participant_id),
            )
            return True

        return self._write(job)

    def exclusion(self, participant_id: str) -> dict[str, Any] | None:
        """A participant's exclusion (the ``exclusions`` row), or None."""
        row = self._one("SELECT * FROM exclusions WHERE participant_id = ?", (participant_id,))
        return None if row is None else dict(row)

    def same_person(
        self, participant_id: str, params: Mapping[str, str], names: tuple[str, ...], limit: int
    ) -> list[dict[str, str]]:
        """Other participants who arrived with the same value of one of the URL parameters
        ``names`` as ``params`` has: ``{"participant_id", "param", "status"}``, at most
        ``limit``."""
        out: list[dict[str, str]] = []
        for name in names:
            value = params.get(name)
            if not value:
                continue
            # params are stored as _dumps() text: find the pair in it (portable SQL), then
            # check the parsed value (the text match is only a filter)
            needle = f"{_dumps(name)}:{_dumps(value)}"
            pattern = "%" + re.sub(r"([\\%_])", r"\\\1", needle) + "%"
            for row in self._all(
                "SELECT participant_id, status, params FROM participants "
                "WHERE participant_id != ? AND params LIKE ? ESCAPE '\\' ORDER BY created_at",
                (participant_id, pattern),
            ):
                if json.loads(row["params"]).get(name) != value:
                    continue
                out.append({"participant_id": row[0], "param": name, "status": row[1]})
                if len(out) >= limit:
                    return out
        return out

    def save_focus_period(
        self,
        participant_id: str,
        scene_id: str,
        period: int,
        values: Mapping[str, Any],
        now: float,
    ) -> Pending:
        """Record focus-loss period number ``period`` of a scene (``episode``, ``start_frame``,
        ``end_frame``, ``start_ms``, ``end_ms``, ``duration_ms``; the page's clock), or its
        end: a period sent again updates what it did not know yet (the end)."""
        keys = ("episode", "start_frame", "end_frame", "start_ms", "end_ms", "duration_ms")
        row = [values.get(k) for k in keys]
        ended = now if values.get("end_frame") is not None else None

        def job(db: Any) -> None:
            db.execute(
                "INSERT INTO focus_periods VALUES (?,?,?,?,?,?,?,?,?,?,?) "
                "ON CONFLICT (participant_id, scene_id, period) DO UPDATE SET "
                "end_frame = COALESCE(focus_periods.end_frame, excluded.end_frame), "
                "end_ms = COALESCE(focus_periods.end_ms, excluded.end_ms), "
                "duration_ms = COALESCE(focus_periods.duration_ms, excluded.duration_ms), "
                "ended_at = COALESCE(focus_periods.ended_at, excluded.ended_at)",
                (participant_id, scene_id, period, *row, now, ended),
            )

        return self._write(job)

    def focus_period_count(self, participant_id: str, scene_id: str) -> int:
        row = self._one(
            "SELECT COUNT(*) FROM focus_periods WHERE participant_id = ? AND scene_id = ?",
            (participant_id, scene_id),
        )
        return int(row[0]) if row else 0

    def responses_for(self, participant_id: str, scene_id: str) -> dict[str, Any]:
        rows = self._all(
            "SELECT field, value FROM responses WHERE participant_id = ? AND scene_id = ?",
            (participant_id, scene_id),
        )
        return {row["field"]: json.loads(row["value"]) for row in rows}

    def responses_before(self, participant_id: str, scene_index: int) -> dict[str, Any]:
        """Answers of the scenes before ``scene_index``, as ``{"<scene id>.<field>": value}``."""
        rows = self._all(
            "SELECT r.scene_id, r.field, r.value FROM responses r JOIN scene_progress p "
            "ON p.participant_id = r.participant_id AND p.scene_id = r.scene_id "
            "WHERE r.participant_id = ? AND p.scene_index < ? ORDER BY p.scene_index, r.field",
            (participant_id, scene_index),
        )
        return {f"{r['scene_id']}.{r['field']}": json.loads(r["value"]) for r in rows}

    def add_event(
        self,
        participant_id: str | None,
        kind: str,
        data: Mapping[str, Any],
        now: float,
        client_seq: int | None = None,
        *,
        background: bool = False,
    ) -> Pending:
        """Append an event; one the page sent again (same participant and ``client_seq``) is
        stored once: False then."""
        text = _dumps(dict(data))

        def job(db: Any) -> bool:
            cur = db.execute(
                "INSERT INTO events (participant_id, kind, data, at, client_seq) "
                "VALUES (?,?,?,?,?) ON CONFLICT DO NOTHING",
                (participant_id, kind, text, now, client_seq),
            )
            return cur.rowcount == 1

        return self._write(job, background=background)

    def add_provenance(self, record: Mapping[str, Any], now: float) -> Pending:
        """Append what produced the data from ``now`` on (:mod:`igym_core.provenance`), unless
        the last record appended is the same: True when it was appended."""
        text = _dumps(dict(record))

        def job(db: Any) -> bool:
            last = db.execute(
                "SELECT record FROM provenance ORDER BY provenance_id DESC LIMIT 1"
            ).fetchone()
            if last is not None and last["record"] == text:
                return False
            db.execute("INSERT INTO provenance (recorded_at, record) VALUES (?, ?)", (now, text))
            return True

        return self._write(job)

    def has_event(self, participant_id: str, kind: str) -> bool:
        """Whether an event of ``kind`` is stored for the participant."""
        row = self._one(
            "SELECT 1 FROM events WHERE participant_id = ? AND kind = ? LIMIT 1",
            (participant_id, kind),
        )
        return row is not None

    def event_count(self, participant_id: str) -> int:
        """How many events are stored for a participant (for the per-participant budget)."""
        row = self._one("SELECT COUNT(*) FROM events WHERE participant_id = ?", (participant_id,))
        return int(row[0]) if row else 0

    # -- episodes and frames ---------------------------------------------------------------------

    def start_episode(
        self, participant_id: str, scene_id: str, episode: int, seed: int, now: float
    ) -> Pending:
        """Open an episode; True the first time. Any earlier episode of the scene still open
        (``playing`` or ``interrupted``) was cut short: it is closed as ``partial``
        (reason ``superseded``).

        An episode's status is ``playing``, ``interrupted`` (the page went away; it may come
        back and go on), ``complete`` or ``partial`` (closed with frames missing; ``reason``
        says why)."""

        def job(db: Any) -> bool:
            db.execute(
                "UPDATE episodes SET status = 'partial', reason = 'superseded', ended_at = ? "
                "WHERE participant_id = ? AND scene_id = ? AND episode < ? "
                "AND status IN ('playing', 'interrupted')",
                (now, participant_id, scene_id, episode),
            )
            cur = db.execute(
                "INSERT INTO episodes (participant_id, scene_id, episode, seed, started_at) "
                "VALUES (?,?,?,?,?) ON CONFLICT DO NOTHING",
                (participant_id, scene_id, episode, seed, now),
            )
            return cur.rowcount == 1

        return self._write(job)

    def add_frames(
        self,
        participant_id: str,
        scene_id: str,
        episode: int,
        records: list[tuple[int, Mapping[str, Any]]],
    ) -> Pending:
        """Store ``(frame, record)`` pairs; frames already stored are kept as they were.

        Resolves to how many were new; fails with :class:`StoreError` when the episode is not
        open. A frame sent again with other contents than the stored one (but for its
        timestamps ``t``) is not overwritten: it is recorded as a ``frame_conflict`` event,
        since the page played that frame twice.
        """
        rows = [(participant_id, scene_id, episode, f, _dumps(dict(r))) for f, r in records]
        sent = {f: dict(r) for f, r in records}

        key = (participant_id, scene_id, episode)
        # one statement for the whole chunk, taken only while the episode is open (two round
        # trips to a database server per chunk, not one per frame)
        insert = (
            "INSERT INTO frames SELECT * FROM (VALUES "
            + ",".join(["(?,?,?,?,?)"] * len(rows))
            + ") AS chunk WHERE EXISTS (SELECT 1 FROM episodes WHERE participant_id = ? "
            "AND scene_id = ? AND episode = ? AND status IN ('playing', 'interrupted')) "
            "ON CONFLICT DO NOTHING"
        )
        params = (*(value for row in rows for value in row), *key)

        def job(db: Any) -> int:
            added = db.execute(insert, params).rowcount if rows else 0
            opened = db.execute(
                "UPDATE episodes SET status = 'playing', ended_at = NULL, frames = frames + ? "
                "WHERE participant_id = ? AND scene_id = ? AND episode = ? "
                "AND status IN ('playing', 'interrupted')",
                (added, *key),
            ).rowcount
            if opened != 1:
                row = db.execute(
                    "SELECT status FROM episodes WHERE participant_id = ? AND scene_id = ? "
                    "AND episode = ?",
                    key,
                ).fetchone()
                if row is None:
                    raise StoreError(f"episode {episode} of scene {scene_id!r} was never started")
                raise StoreError(
                    f"episode {episode} of scene {scene_id!r} is already {row['status']}"
                )
            if added < len(rows):
                _check_resent(db, participant_id, scene_id, episode, sent)
            return added

        return self._write(job)

    def end_episode(
        self,
        participant_id: str,
        scene_id: str,
        episode: int,
        reported: int,
        max_steps: int,
        summary: Mapping[str, Any],
        now: float,
        *,
        partial: bool = False,
        reason: str = "ended_by_page",
    ) -> Pending:
        """Close an episode the page says it played for ``reported`` frames (``partial``: it
        was cut short, for ``reason``).

        It is ``complete`` when frames ``0..reported-1`` are all stored, none beyond, and the
        last one ends the episode (terminated, truncated, or frame ``max_steps - 1``); else
        ``partial`` with a reason and the missing ranges in the summary. Counting is done on
        what is stored, never on what the page claims. Closing an already closed episode
        changes nothing (a retried message). Resolves to an :class:`EpisodeClosed`.
        """

        def job(db: Any) -> EpisodeClosed:
            row = db.execute(
                "SELECT status, reason, frames FROM episodes WHERE participant_id = ? "
                "AND scene_id = ? AND episode = ?",
                (participant_id, scene_id, episode),
            ).fetchone()
            if row is None:
                raise StoreError(f"episode {episode} of scene {scene_id!r} was never started")
            if row["status"] not in ("playing", "interrupted"):
                return EpisodeClosed(row["status"], row["reason"], row["frames"])
            key = (participant_id, scene_id, episode)
            frames = [
                r[0]
                for r in db.execute(
                    "SELECT frame FROM frames WHERE participant_id = ? AND scene_id = ? "
                    "AND episode = ? ORDER BY frame",
                    key,
                )
            ]
            gaps = missing_ranges(frames, reported)
            beyond = sum(1 for f in frames if f >= reported)
            last = db.execute(
                "SELECT data FROM frames WHERE participant_id = ? AND scene_id = ? "
                "AND episode = ? AND frame = ?",
                (*key, reported - 1),
            ).fetchone()
            last_ends = last is not None and (
                reported == max_steps
                or bool(json.loads(last[0]).get("terminated"))
                or bool(json.loads(last[0]).get("truncated"))
            )
            if partial:
                why: str | None = reason
            elif reported == 0 or gaps:
                why = "missing_frames"
            elif beyond:
                why = "frames_beyond_end"
            elif not last_ends:
                why = "not_finished"
            else:
                why = None
            status = "partial" if why else "complete"
            missing_count = sum(b - a + 1 for a, b in gaps)
            full = {
                **summary,
                "frames_reported": reported,
                "frames_stored": len(frames),
                "frames_missing": missing_count,
                "missing_ranges": [list(g) for g in gaps[:MAX_MISSING_RANGES]],
            }
            db.execute(
                "UPDATE episodes SET status = ?, reason = ?, summary = ?, ended_at = ? "
                "WHERE participant_id = ? AND scene_id = ? AND episode = ?",
                (status, why, _dumps(full), now, *key),
            )
            return EpisodeClosed(status, why, len(frames), tuple(gaps))

        return self._write(job)

    def interrupt_episodes(self, participant_id: str, now: float) -> Pending:
        """The participant's page went away: their playing episodes become ``interrupted``."""

        def job(db: Any) -> None:
            db.execute(
                "UPDATE episodes SET status = 'interrupted', ended_at = ? WHERE participant_id = ?"
                " AND status = 'playing'",
                (now, participant_id),
            )

        return self._write(job, background=True)

    def close_episodes(
        self, participant_id: str, scene_id: str, reason: str, now: float
    ) -> Pending:
        """Close a scene's open episodes (``playing`` or ``interrupted``) as ``partial`` with
        ``reason``: the game was ended for the participant (excluded, ended by hand)."""

        def job(db: Any) -> None:
            db.execute(
                "UPDATE episodes SET status = 'partial', reason = ?, "
                "ended_at = COALESCE(ended_at, ?) WHERE participant_id = ? AND scene_id = ? "
                "AND status IN ('playing', 'interrupted')",
                (reason, now, participant_id, scene_id),
            )

        return self._write(job)

    def episodes_for(self, participant_id: str, scene_id: str) -> list[dict[str, Any]]:
        rows = self._all(
            "SELECT episode, seed, status, reason, frames FROM episodes WHERE participant_id = ? "
            "AND scene_id = ? ORDER BY episode",
            (participant_id, scene_id),
        )
        return [dict(r) for r in rows]

    def frame_rows(self, participant_id: str, scene_id: str, episode: int) -> list[dict[str, Any]]:
        texts = self.frame_texts(participant_id, scene_id, episode)
        return [{"frame": frame, **parse(data)} for frame, data in texts]

    def frame_texts(
        self, participant_id: str, scene_id: str, episode: int
    ) -> list[tuple[int, str]]:
        """An episode's frames as stored: ``(frame, JSON text)``, in order."""
        rows = self._all(
            "SELECT frame, data FROM frames WHERE participant_id = ? AND scene_id = ? "
            "AND episode = ? ORDER BY frame",
            (participant_id, scene_id, episode),
        )
        return [(r["frame"], r["data"]) for r in rows]

    # -- telemetry -------------------------------------------------------------------------------

    def add_telemetry(
        self,
        participant_id: str,
        scene_id: str,
        episode: int,
        samples: list[tuple[float, str, float | str | None]],
    ) -> Pending:
        """Store ``(t, metric, value)`` samples of one episode; a sample sent again (same metric
        and time) is kept once. Resolves to how many were new."""
        rows = [(participant_id, scene_id, episode, t, m, _dumps(v)) for t, m, v in samples]

        def job(db: Any) -> int:
            return db.executemany(
                "INSERT INTO telemetry VALUES (?,?,?,?,?,?) ON CONFLICT DO NOTHING", rows
            ).rowcount

        return self._write(job)

    def telemetry_count(self, participant_id: str, scene_id: str, episode: int) -> int:
        """How many telemetry samples one episode has (for the per-episode budget)."""
        row = self._one(
            "SELECT COUNT(*) FROM telemetry WHERE participant_id = ? AND scene_id = ? "
            "AND episode = ?",
            (participant_id, scene_id, episode),
        )
        return int(row[0]) if row else 0

    def telemetry_known(
        self,
        participant_id: str,
        scene_id: str,
        episode: int,
        samples: list[tuple[float, str, float | str | None]],
    ) -> int:
        """How many of ``samples`` (same metric and time) are stored already."""
        known = 0
        for t, metric, _ in samples:
            row = self._one(
                "SELECT 1 FROM telemetry WHERE participant_id = ? AND scene_id = ? AND episode = ? "
                "AND metric = ? AND t = ?",
                (participant_id, scene_id, episode, metric, t),
            )
            known += row is not None
        return known

    def save_disconnection(self, record: Mapping[str, Any]) -> Pending:
        """Create or update one disconnection record (a background write): who went away in
        which match, how (``closed``, ``reload``, ``network``, ``p2p``), when, at which frame,
        and how it ended (``resumed``, ``reload_resumed``, ``left``, ``reconnect_timeout``...)."""
        columns = (
            "record_id", "match_id", "scene_id", "participant_id", "episode", "kind",
            "started_at", "frame", "ended_at", "outcome", "pause_ms",
        )  # fmt: skip
        values = tuple(record.get(c) for c in columns)

        updates = ", ".join(f"{c} = excluded.{c}" for c in columns[1:])

        def job(db: Any) -> None:
            db.execute(
                f"INSERT INTO disconnections VALUES ({','.join('?' * 11)}) "
                f"ON CONFLICT (record_id) DO UPDATE SET {updates}",
                values,
            )

        return self._write(job, background=True)

    # -- matches ---------------------------------------------------------------------------------

    def save_match(
        self,
        match_id: str,
        scene_id: str,
        members: list[str],
        matchmaker: str,
        status: str,
        end_reason: str | None,
        created_at: float,
        now: float,
    ) -> Pending:
        """Create or update a match's row (a background write: nobody waits for it)."""
        values = (
            match_id,
            scene_id,
            _dumps(members),
            matchmaker,
            status,
            end_reason,
            created_at,
            now,
        )

        def job(db: Any) -> None:
            db.execute(
                "INSERT INTO matches VALUES (?,?,?,?,?,?,?,?) ON CONFLICT(match_id) DO UPDATE "
                "SET status = excluded.status, end_reason = excluded.end_reason, "
                "updated_at = excluded.updated_at",
                values,
            )

        return self._write(job, background=True)

    def save_parity(
        self,
        match_id: str,
        scene_id: str,
        episode: int,
        status: str,
        hashes: Mapping[str, Any],
        first_difference: Mapping[str, Any] | None,
        now: float,
        validation: Mapping[str, Any] | None = None,
    ) -> Pending:
        """Store a parity verdict, with the validation document (every member's confirmed
        actions, focus and hashes per frame) when given; both in one transaction."""
        document = None if validation is None else _dumps(dict(validation))
        difference = None if first_difference is None else _dumps(dict(first_difference))
        values = (match_id, scene_id, episode, status, _dumps(dict(hashes)), difference, now)

        def job(db: Any) -> None:
            if document is not None:
                db.execute(
                    "INSERT INTO validations VALUES (?,?,?) ON CONFLICT (match_id, episode) "
                    "DO UPDATE SET document = excluded.document",
                    (match_id, episode, document),
                )
            db.execute(
                "INSERT INTO parity VALUES (?,?,?,?,?,?,?) ON CONFLICT (match_id, episode) DO "
                "UPDATE SET scene_id = excluded.scene_id, status = excluded.status, hashes = "
                "excluded.hashes, first_difference = excluded.first_difference, checked_at = "
                "excluded.checked_at",
                values,
            )

        return self._write(job, background=True)

    def integrity_ok(self) -> bool:
        """SQLite's integrity check (PostgreSQL checks its own pages: always True)."""
        if self.backend.dialect != "sqlite":
            return True
        return self._one("PRAGMA integrity_check")[0] == "ok"

    def reader(self) -> StoreReader:
        return StoreReader(self)

    def rows_where(self, sql: str, args: tuple[Any, ...]) -> list[Any]:
        """A read-only query with parameters (for :class:`StoreReader`)."""
        return self._all(sql, args)

    def rows(self, sql: str) -> Any:
        """Run a read-only query on this thread's read connection (for :class:`StoreReader`);
        rows come as they are read, so a large table is never all in memory."""
        return self._reader().execute(sql)


def _move_on(
    db: Any,
    participant_id: str,
    scene_id: str,
    scene_index: int,
    responses: Mapping[str, Any],
    next_index: int,
    status: str,
    now: float,
    scene_status: str,
) -> bool:
    cur = db.execute(
        "UPDATE participants SET scene_index = ?, status = ?, updated_at = ? "
        "WHERE participant_id = ? AND scene_index = ?",
        (next_index, status, now, participant_id, scene_index),
    )
    if cur.rowcount != 1:
        return False
    db.executemany(
        "INSERT INTO responses VALUES (?,?,?,?,?) ON CONFLICT (participant_id, scene_id, "
        "field) DO UPDATE SET value = excluded.value, submitted_at = excluded.submitted_at",
        [(participant_id, scene_id, k, _dumps(v), now) for k, v in responses.items()],
    )
    db.execute(
        "INSERT INTO scene_progress (participant_id, scene_id, scene_index, started_at) "
        "VALUES (?,?,?,?) ON CONFLICT DO NOTHING",
        (participant_id, scene_id, scene_index, now),
    )
    db.execute(
        "UPDATE scene_progress SET finished_at = ?, status = ? WHERE participant_id = ? "
        "AND scene_id = ?",
        (now, scene_status, participant_id, scene_id),
    )
    return True


def _check_resent(
    db: Any,
    participant_id: str,
    scene_id: str,
    episode: int,
    sent: Mapping[int, Mapping[str, Any]],
) -> None:
    """Frames sent again must be what is stored (timestamps aside); a difference is kept as a
    ``frame_conflict`` event (the stored frame stays)."""
    marks = ",".join("?" * len(sent))
    stored = db.execute(
        f"SELECT frame, data FROM frames WHERE participant_id = ? AND scene_id = ? "
        f"AND episode = ? AND frame IN ({marks})",
        (participant_id, scene_id, episode, *sent),
    ).fetchall()
    for frame, data in stored:
        old = {k: v for k, v in json.loads(data).items() if k != "t"}
        new = {k: v for k, v in json.loads(_dumps(dict(sent[frame]))).items() if k != "t"}
        if old != new:
            column = next(k for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k))
            where = {"scene_id": scene_id, "episode": episode, "frame": frame, "column": column}
            db.execute(
                "INSERT INTO events (participant_id, kind, data, at) VALUES (?,?,?,?)",
                (participant_id, "frame_conflict", _dumps(where), time.time()),
            )
            return


def _incomplete(
    scene_id: str, episodes: list[int], played: Mapping[int, tuple[str, str | None]]
) -> str:
    parts = []
    for episode in episodes[:5]:
        status, reason = played.get(episode, ("not played", None))
        parts.append(f"episode {episode} is {status}" + (f" ({reason})" if reason else ""))
    more = f" and {len(episodes) - 5} more" if len(episodes) > 5 else ""
    return f"scene {scene_id!r} is not done: {', '.join(parts)}{more}"


def _migrate_to_2(db: Any, backend: Backend) -> None:
    """Schema 1 → 2: a scene's status and why an episode is partial."""
    columns = backend.columns(db, "scene_progress")
    if "status" not in columns:
        db.execute("ALTER TABLE scene_progress ADD COLUMN status TEXT")
        db.execute("UPDATE scene_progress SET status = 'completed' WHERE finished_at IS NOT NULL")
    columns = backend.columns(db, "episodes")
    if "reason" not in columns:
        db.execute("ALTER TABLE episodes ADD COLUMN reason TEXT")
