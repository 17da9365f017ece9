"""The embedded store: SQLite in WAL mode, the system of record.

Every write is one transaction committed with ``synchronous=FULL`` before the caller returns, so
a write that was acknowledged to a browser survives ``kill -9`` of the server. The store is used
from the server's event loop through :func:`asyncio.to_thread`; a lock serialises writers.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from igym_core.storage.reader import StoreReader

SCHEMA_VERSION = 1

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
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS scene_progress (
    participant_id TEXT NOT NULL REFERENCES participants(participant_id),
    scene_id TEXT NOT NULL,
    scene_index INTEGER NOT NULL,
    started_at REAL NOT NULL,
    finished_at REAL,
    PRIMARY KEY (participant_id, scene_id)
);
CREATE TABLE IF NOT EXISTS responses (
    participant_id TEXT NOT NULL REFERENCES participants(participant_id),
    scene_id TEXT NOT NULL,
    field TEXT NOT NULL,
    value TEXT NOT NULL,
    submitted_at REAL NOT NULL,
    PRIMARY KEY (participant_id, scene_id, field)
);
CREATE TABLE IF NOT EXISTS events (
    event_id INTEGER PRIMARY KEY AUTOINCREMENT,
    participant_id TEXT,
    kind TEXT NOT NULL,
    data TEXT NOT NULL,
    at REAL NOT NULL,
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
    started_at REAL NOT NULL,
    ended_at REAL,
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
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS matches (
    match_id TEXT PRIMARY KEY,
    scene_id TEXT NOT NULL,
    members TEXT NOT NULL,
    matchmaker TEXT NOT NULL,
    status TEXT NOT NULL,
    end_reason TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS parity (
    match_id TEXT NOT NULL,
    scene_id TEXT NOT NULL,
    episode INTEGER NOT NULL,
    status TEXT NOT NULL,
    hashes TEXT NOT NULL,
    first_difference TEXT,
    checked_at REAL NOT NULL,
    PRIMARY KEY (match_id, episode)
);
CREATE TABLE IF NOT EXISTS validations (
    match_id TEXT NOT NULL,
    episode INTEGER NOT NULL,
    document TEXT NOT NULL,
    PRIMARY KEY (match_id, episode)
);
CREATE INDEX IF NOT EXISTS events_by_participant ON events (participant_id, event_id);
"""


class StoreError(Exception):
    """The store cannot be used (wrong file, newer schema, another experiment's data)."""


@attrs.frozen
class Participant:
    participant_id: str
    token_hash: str
    params: Mapping[str, str]
    scene_index: int
    status: str
    created_at: float
    updated_at: float


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class Store:
    """One experiment's records in one SQLite file."""

    def __init__(self, path: Path | str, experiment_id: str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)  # idempotent; runs in its own transaction
        with self._tx():
            self._claim(experiment_id)
        self.experiment_id = experiment_id

    def _claim(self, experiment_id: str) -> None:
        rows = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        version = int(rows.get("schema_version", SCHEMA_VERSION))
        if version > SCHEMA_VERSION:
            raise StoreError(f"{self.path} was written by a newer igym (schema {version})")
        owner = rows.get("experiment_id")
        if owner is not None and owner != experiment_id:
            raise StoreError(f"{self.path} holds experiment {owner!r}, not {experiment_id!r}")
        self._db.execute(
            "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?), ('experiment_id', ?)",
            (str(SCHEMA_VERSION), experiment_id),
        )

    class _Tx:
        def __init__(self, store: Store) -> None:
            self.store = store

        def __enter__(self) -> sqlite3.Connection:
            self.store._lock.acquire()
            self.store._db.execute("BEGIN IMMEDIATE")
            return self.store._db

        def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
            try:
                self.store._db.execute("ROLLBACK" if exc_type else "COMMIT")
            finally:
                self.store._lock.release()

    def _tx(self) -> Store._Tx:
        return Store._Tx(self)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- participants ---------------------------------------------------------------------------

    def participant(self, participant_id: str) -> Participant | None:
        with self._lock:
            row = self._db.execute(
                "SELECT * FROM participants WHERE participant_id = ?", (participant_id,)
            ).fetchone()
        if row is None:
            return None
        return Participant(**{**dict(row), "params": json.loads(row["params"])})

    def create_participant(
        self, participant_id: str, token_hash: str, params: Mapping[str, str], now: float
    ) -> bool:
        """Add a participant; False when the id is already taken (nothing changes then)."""
        with self._tx() as db:
            cur = db.execute(
                "INSERT OR IGNORE INTO participants "
                "(participant_id, token_hash, params, created_at, updated_at) VALUES (?,?,?,?,?)",
                (participant_id, token_hash, _dumps(dict(params)), now, now),
            )
            return cur.rowcount == 1

    def start_scene(self, participant_id: str, scene_id: str, scene_index: int, now: float) -> bool:
        """Record that a scene was shown; True the first time only."""
        with self._tx() as db:
            cur = db.execute(
                "INSERT OR IGNORE INTO scene_progress (participant_id, scene_id, scene_index, "
                "started_at) VALUES (?,?,?,?)",
                (participant_id, scene_id, scene_index, now),
            )
            return cur.rowcount == 1

    def finish_scene(
        self,
        participant_id: str,
        scene_id: str,
        scene_index: int,
        responses: Mapping[str, Any],
        next_index: int,
        status: str,
        now: float,
    ) -> bool:
        """Store a scene's answers and move the participant on, atomically.

        Returns False (and changes nothing) when the participant is no longer at
        ``scene_index``: a duplicate or stale submission.
        """
        with self._tx() as db:
            cur = db.execute(
                "UPDATE participants SET scene_index = ?, status = ?, updated_at = ? "
                "WHERE participant_id = ? AND scene_index = ?",
                (next_index, status, now, participant_id, scene_index),
            )
            if cur.rowcount != 1:
                return False
            db.executemany(
                "INSERT OR REPLACE INTO responses VALUES (?,?,?,?,?)",
                [(participant_id, scene_id, k, _dumps(v), now) for k, v in responses.items()],
            )
            db.execute(
                "INSERT OR IGNORE INTO scene_progress (participant_id, scene_id, scene_index, "
                "started_at) VALUES (?,?,?,?)",
                (participant_id, scene_id, scene_index, now),
            )
            db.execute(
                "UPDATE scene_progress SET finished_at = ? WHERE participant_id = ? AND scene_id = ?",
                (now, participant_id, scene_id),
            )
            return True

    def set_status(self, participant_id: str, status: str, now: float) -> bool:
        """Set a participant's status (e.g. ``excluded``); False when there is no such one."""
        with self._tx() as db:
            cur = db.execute(
                "UPDATE participants SET status = ?, updated_at = ? WHERE participant_id = ?",
                (status, now, participant_id),
            )
            return cur.rowcount == 1

    def responses_for(self, participant_id: str, scene_id: str) -> dict[str, Any]:
        with self._lock:
            rows = self._db.execute(
                "SELECT field, value FROM responses WHERE participant_id = ? AND scene_id = ?",
                (participant_id, scene_id),
            ).fetchall()
        return {row["field"]: json.loads(row["value"]) for row in rows}

    def add_event(
        self,
        participant_id: str | None,
        kind: str,
        data: Mapping[str, Any],
        now: float,
        client_seq: int | None = None,
    ) -> bool:
        """Append an event; one the page sent again (same participant and ``client_seq``) is
        stored once: False then."""
        with self._tx() as db:
            cur = db.execute(
                "INSERT OR IGNORE INTO events (participant_id, kind, data, at, client_seq) "
                "VALUES (?,?,?,?,?)",
                (participant_id, kind, _dumps(dict(data)), now, client_seq),
            )
            return cur.rowcount == 1

    # -- episodes and frames ---------------------------------------------------------------------

    def start_episode(
        self, participant_id: str, scene_id: str, episode: int, seed: int, now: float
    ) -> bool:
        """Open an episode; True the first time. Any earlier episode of the scene still open
        (``playing`` or ``interrupted``) was cut short: it is closed as ``partial``.

        An episode's status is ``playing``, ``interrupted`` (the page went away; it may come
        back and go on), ``complete`` or ``partial`` (closed with frames missing)."""
        with self._tx() as db:
            db.execute(
                "UPDATE episodes SET status = 'partial', ended_at = ? WHERE participant_id = ? "
                "AND scene_id = ? AND episode < ? AND status IN ('playing', 'interrupted')",
                (now, participant_id, scene_id, episode),
            )
            cur = db.execute(
                "INSERT OR IGNORE INTO episodes (participant_id, scene_id, episode, seed, "
                "started_at) VALUES (?,?,?,?,?)",
                (participant_id, scene_id, episode, seed, now),
            )
            return cur.rowcount == 1

    def add_frames(
        self,
        participant_id: str,
        scene_id: str,
        episode: int,
        records: list[tuple[int, Mapping[str, Any]]],
    ) -> int:
        """Store ``(frame, record)`` pairs; frames already stored are kept as they were.

        Returns how many were new. Raises :class:`StoreError` when the episode is not open.
        """
        with self._tx() as db:
            row = db.execute(
                "SELECT status FROM episodes WHERE participant_id = ? AND scene_id = ? "
                "AND episode = ?",
                (participant_id, scene_id, episode),
            ).fetchone()
            if row is None:
                raise StoreError(f"episode {episode} of scene {scene_id!r} was never started")
            if row["status"] not in ("playing", "interrupted"):
                raise StoreError(
                    f"episode {episode} of scene {scene_id!r} is already {row['status']}"
                )
            db.execute(
                "UPDATE episodes SET status = 'playing', ended_at = NULL WHERE participant_id = ? "
                "AND scene_id = ? AND episode = ?",
                (participant_id, scene_id, episode),
            )
            before = db.total_changes
            db.executemany(
                "INSERT OR IGNORE INTO frames VALUES (?,?,?,?,?)",
                [(participant_id, scene_id, episode, f, _dumps(dict(r))) for f, r in records],
            )
            added = db.total_changes - before
            db.execute(
                "UPDATE episodes SET frames = (SELECT COUNT(*) FROM frames WHERE participant_id = ?"
                " AND scene_id = ? AND episode = ?) WHERE participant_id = ? AND scene_id = ? "
                "AND episode = ?",
                (participant_id, scene_id, episode) * 2,
            )
            return added

    def end_episode(
        self,
        participant_id: str,
        scene_id: str,
        episode: int,
        status: str,
        summary: Mapping[str, Any],
        now: float,
    ) -> int:
        """Close an episode as ``complete`` or ``partial``; returns its stored frame count.

        Closing an already closed episode changes nothing (a retried message)."""
        with self._tx() as db:
            db.execute(
                "UPDATE episodes SET status = ?, summary = ?, ended_at = ? WHERE participant_id = ?"
                " AND scene_id = ? AND episode = ? AND status IN ('playing', 'interrupted')",
                (status, _dumps(dict(summary)), now, participant_id, scene_id, episode),
            )
            row = db.execute(
                "SELECT frames FROM episodes WHERE participant_id = ? AND scene_id = ? "
                "AND episode = ?",
                (participant_id, scene_id, episode),
            ).fetchone()
            if row is None:
                raise StoreError(f"episode {episode} of scene {scene_id!r} was never started")
            return int(row["frames"])

    def interrupt_episodes(self, participant_id: str, now: float) -> None:
        """The participant's page went away: their playing episodes become ``interrupted``."""
        with self._tx() as db:
            db.execute(
                "UPDATE episodes SET status = 'interrupted', ended_at = ? WHERE participant_id = ?"
                " AND status = 'playing'",
                (now, participant_id),
            )

    def close_interrupted(self, participant_id: str, scene_id: str, now: float) -> None:
        """The participant moved on: open episodes of ``scene_id`` are closed as ``partial``."""
        with self._tx() as db:
            db.execute(
                "UPDATE episodes SET status = 'partial', ended_at = COALESCE(ended_at, ?) "
                "WHERE participant_id = ? AND scene_id = ? AND status IN ('playing', 'interrupted')",
                (now, participant_id, scene_id),
            )

    def episodes_for(self, participant_id: str, scene_id: str) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT episode, seed, status, frames FROM episodes WHERE participant_id = ? "
                "AND scene_id = ? ORDER BY episode",
                (participant_id, scene_id),
            ).fetchall()
        return [dict(r) for r in rows]

    def max_frame(self, participant_id: str, scene_id: str, episode: int) -> int | None:
        with self._lock:
            row = self._db.execute(
                "SELECT MAX(frame) FROM frames WHERE participant_id = ? AND scene_id = ? "
                "AND episode = ?",
                (participant_id, scene_id, episode),
            ).fetchone()
        return row[0]

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
    ) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO matches VALUES (?,?,?,?,?,?,?,?) ON CONFLICT(match_id) DO UPDATE "
                "SET status = excluded.status, end_reason = excluded.end_reason, "
                "updated_at = excluded.updated_at",
                (
                    match_id,
                    scene_id,
                    _dumps(members),
                    matchmaker,
                    status,
                    end_reason,
                    created_at,
                    now,
                ),
            )

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
    ) -> None:
        """Store a parity verdict, with the validation document (every member's confirmed
        actions, focus and hashes per frame) when given; both in one transaction."""
        with self._tx() as db:
            if validation is not None:
                db.execute(
                    "INSERT OR REPLACE INTO validations VALUES (?,?,?)",
                    (match_id, episode, _dumps(dict(validation))),
                )
            db.execute(
                "INSERT OR REPLACE INTO parity VALUES (?,?,?,?,?,?,?)",
                (
                    match_id,
                    scene_id,
                    episode,
                    status,
                    _dumps(dict(hashes)),
                    None if first_difference is None else _dumps(dict(first_difference)),
                    now,
                ),
            )

    def frame_rows(self, participant_id: str, scene_id: str, episode: int) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT frame, data FROM frames WHERE participant_id = ? AND scene_id = ? "
                "AND episode = ? ORDER BY frame",
                (participant_id, scene_id, episode),
            ).fetchall()
        return [{"frame": r["frame"], **json.loads(r["data"])} for r in rows]

    def integrity_ok(self) -> bool:
        with self._lock:
            return self._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    def reader(self) -> StoreReader:
        return StoreReader(self)

    def rows(self, sql: str) -> list[sqlite3.Row]:
        """Run a read-only query under the store's lock (for :class:`StoreReader`)."""
        with self._lock:
            return self._db.execute(sql).fetchall()
