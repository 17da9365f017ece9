"""The console's read-only SQL over the store, on a connection of its own.

:class:`ReadDB` opens the store read-only (an SQLite file, or a PostgreSQL database). SQLite
readers in WAL mode never wait for the writer nor hold it up, so the console does not take the
lock that participants' writes queue on. It is used from the console's single worker thread
only (never the event loop). ``data_version`` tells cheaply whether anyone wrote since the last
look (SQLite's ``PRAGMA data_version``, PostgreSQL's WAL position).

Tables that later work adds (``exclusions``, ``telemetry``) are read when present, with the
columns they have, so the console shows them without changes here.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from igym_core.storage.backends import backend_for

MAX_TIMELINE = 500
MAX_FRAMES_FOR_SERIES = 5000


class ReadDB:
    """A read-only connection to one store (an SQLite file or a PostgreSQL database)."""

    def __init__(self, target: Path | str) -> None:
        self.backend = backend_for(target)
        self._db = self.backend.connect_reader()
        self._columns: dict[str, frozenset[str]] = {}

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return self._db.execute(sql, params).fetchall()

    def one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self._db.execute(sql, params).fetchone()

    def data_version(self) -> int:
        """Changes whenever another connection (the store) commits."""
        if self.backend.dialect == "sqlite":
            return int(self._db.execute("PRAGMA data_version").fetchone()[0])
        lsn = str(self._db.execute("SELECT pg_current_wal_lsn()").fetchone()[0])
        high, _, low = lsn.partition("/")
        return (int(high, 16) << 32) | int(low or "0", 16)

    def columns(self, table: str) -> frozenset[str]:
        """The columns of ``table`` (empty when there is no such table); looked up once it
        exists."""
        found = self._columns.get(table)
        if found is None:
            found = frozenset(self.backend.columns(self._db, table))
            if found:
                self._columns[table] = found
        return found

    def close(self) -> None:
        self._db.close()


def _json(text: str | None, default: Any = None) -> Any:
    if text is None:
        return default
    try:
        return json.loads(text)
    except ValueError:
        return default


def _placeholders(values: Sequence[Any]) -> str:
    return ",".join("?" * len(values))


# -- the dashboard ------------------------------------------------------------------------------


def participants(db: ReadDB, params: bool = True) -> list[dict[str, Any]]:
    """Every participant, oldest first; ``params`` (the URL parameters) only when asked for."""
    if not params:
        return [
            dict(r)
            for r in db.rows(
                "SELECT participant_id, scene_index, status, created_at, updated_at "
                "FROM participants ORDER BY created_at, participant_id"
            )
        ]
    return [
        {**dict(r), "params": _json(r["params"], {})}
        for r in db.rows(
            "SELECT participant_id, params, scene_index, status, created_at, updated_at "
            "FROM participants ORDER BY created_at, participant_id"
        )
    ]


def scene_times(db: ReadDB) -> list[tuple[str, float, float | None]]:
    """(scene id, started at, finished at) of every scene anyone was shown."""
    return [
        (r["scene_id"], r["started_at"], r["finished_at"])
        for r in db.rows("SELECT scene_id, started_at, finished_at FROM scene_progress")
    ]


def events_after(db: ReadDB, event_id: int, limit: int) -> list[dict[str, Any]]:
    return [
        {**dict(r), "data": _json(r["data"], {})}
        for r in db.rows(
            "SELECT event_id, participant_id, kind, data, at FROM events WHERE event_id > ? "
            "ORDER BY event_id LIMIT ?",
            (event_id, limit),
        )
    ]


def count_by(db: ReadDB, table: str, column: str) -> dict[str, int]:
    return {
        str(r[0]): r[1]
        for r in db.rows(f"SELECT {column}, COUNT(*) FROM {table} GROUP BY {column}")
    }


def parity_rows(db: ReadDB, match_ids: Iterable[str] | None = None) -> list[dict[str, Any]]:
    where, params = "", ()
    if match_ids is not None:
        params = tuple(match_ids)
        where = f"WHERE match_id IN ({_placeholders(params)})"
    return [
        {
            **dict(r),
            "hashes": _json(r["hashes"], {}),
            "first_difference": _json(r["first_difference"]),
        }
        for r in db.rows(
            "SELECT match_id, scene_id, episode, status, hashes, first_difference, checked_at "
            f"FROM parity {where} ORDER BY match_id, episode",
            params,
        )
    ]


def mismatches(db: ReadDB, limit: int) -> list[dict[str, Any]]:
    """The newest parity mismatches (match, episode, first difference, when)."""
    return [
        {**dict(r), "first_difference": _json(r["first_difference"])}
        for r in db.rows(
            "SELECT match_id, episode, first_difference, checked_at FROM parity "
            "WHERE status = 'mismatch' ORDER BY checked_at DESC LIMIT ?",
            (limit,),
        )
    ]


def exclusion_rows(db: ReadDB, participant_id: str | None = None) -> list[dict[str, Any]]:
    """Rows of an ``exclusions`` table, if the store has one (any columns it has)."""
    columns = db.columns("exclusions")
    if "participant_id" not in columns:
        return []
    where, params = ("WHERE participant_id = ?", (participant_id,)) if participant_id else ("", ())
    return [dict(r) for r in db.rows(f"SELECT * FROM exclusions {where}", params)]


# -- lists --------------------------------------------------------------------------------------


def matches(db: ReadDB, match_id: str | None = None) -> list[dict[str, Any]]:
    where, params = ("WHERE match_id = ?", (match_id,)) if match_id else ("", ())
    return [
        {**dict(r), "members": _json(r["members"], [])}
        for r in db.rows(
            "SELECT match_id, scene_id, members, matchmaker, status, end_reason, created_at, "
            f"updated_at FROM matches {where} ORDER BY created_at, match_id",
            params,
        )
    ]


def episodes(
    db: ReadDB, scene_ids: Sequence[str] | None = None, participant_ids: Sequence[str] | None = None
) -> list[dict[str, Any]]:
    clauses, params = [], []
    if scene_ids is not None:
        clauses.append(f"scene_id IN ({_placeholders(scene_ids)})")
        params.extend(scene_ids)
    if participant_ids is not None:
        clauses.append(f"participant_id IN ({_placeholders(participant_ids)})")
        params.extend(participant_ids)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    return [
        {**dict(r), "summary": _json(r["summary"], {})}
        for r in db.rows(
            "SELECT participant_id, scene_id, episode, seed, status, frames, summary, "
            f"started_at, ended_at FROM episodes {where} ORDER BY participant_id, scene_id, "
            "episode",
            params,
        )
    ]


# -- one participant ----------------------------------------------------------------------------


def participant(db: ReadDB, participant_id: str) -> dict[str, Any] | None:
    row = db.one(
        "SELECT participant_id, params, scene_index, status, created_at, updated_at "
        "FROM participants WHERE participant_id = ?",
        (participant_id,),
    )
    return None if row is None else {**dict(row), "params": _json(row["params"], {})}


def progress_of(db: ReadDB, participant_id: str) -> list[dict[str, Any]]:
    return [
        dict(r)
        for r in db.rows(
            "SELECT scene_id, scene_index, started_at, finished_at FROM scene_progress "
            "WHERE participant_id = ? ORDER BY scene_index, scene_id",
            (participant_id,),
        )
    ]


def responses_of(db: ReadDB, participant_id: str) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for r in db.rows(
        "SELECT scene_id, field, value FROM responses WHERE participant_id = ? "
        "ORDER BY scene_id, field",
        (participant_id,),
    ):
        out.setdefault(r["scene_id"], {})[r["field"]] = _json(r["value"])
    return out


def events_of(
    db: ReadDB, participant_ids: Sequence[str], limit: int = MAX_TIMELINE
) -> tuple[list[dict[str, Any]], int]:
    """The newest ``limit`` events of the participants, oldest first, and how many there are."""
    if not participant_ids:
        return [], 0
    marks = _placeholders(participant_ids)
    total = db.one(
        f"SELECT COUNT(*) FROM events WHERE participant_id IN ({marks})", participant_ids
    )
    rows = db.rows(
        "SELECT event_id, participant_id, kind, data, at FROM events "
        f"WHERE participant_id IN ({marks}) ORDER BY event_id DESC LIMIT ?",
        (*participant_ids, limit),
    )
    events = [{**dict(r), "data": _json(r["data"], {})} for r in reversed(rows)]
    return events, int(total[0]) if total else 0


def events_of_kinds(db: ReadDB, kinds: Sequence[str], limit: int = 200) -> list[dict[str, Any]]:
    rows = db.rows(
        "SELECT event_id, participant_id, kind, data, at FROM events "
        f"WHERE kind IN ({_placeholders(kinds)}) ORDER BY event_id DESC LIMIT ?",
        (*kinds, limit),
    )
    return [{**dict(r), "data": _json(r["data"], {})} for r in rows]


def matches_of(db: ReadDB, participant_id: str) -> list[dict[str, Any]]:
    """Matches a participant was a member of (the members column holds a JSON list)."""
    pattern = f'%"{participant_id}"%'
    return [
        m
        for m in (
            {**dict(r), "members": _json(r["members"], [])}
            for r in db.rows(
                "SELECT match_id, scene_id, members, matchmaker, status, end_reason, created_at, "
                "updated_at FROM matches WHERE members LIKE ? ORDER BY created_at",
                (pattern,),
            )
        )
        if participant_id in m["members"]
    ]


def telemetry_rows(db: ReadDB, participant_ids: Sequence[str]) -> list[dict[str, Any]]:
    """Rows of a long-format ``telemetry`` table (participant, time, metric, value), if any."""
    columns = db.columns("telemetry")
    time_column = next((c for c in ("t", "at", "time") if c in columns), None)
    if not participant_ids or time_column is None or not {"metric", "value"} <= columns:
        return []
    rows = db.rows(
        f"SELECT participant_id, {time_column} AS t, metric, value FROM telemetry "
        f"WHERE participant_id IN ({_placeholders(participant_ids)}) ORDER BY {time_column} "
        "LIMIT 20000",
        participant_ids,
    )
    return [dict(r) for r in rows]


def frame_timings(
    db: ReadDB, participant_id: str, scene_id: str, episode: int
) -> list[tuple[int, dict[str, Any]]]:
    """(frame, t) of an episode's frames: the page's timestamps."""
    rows = db.rows(
        "SELECT frame, data FROM frames WHERE participant_id = ? AND scene_id = ? "
        "AND episode = ? ORDER BY frame LIMIT ?",
        (participant_id, scene_id, episode, MAX_FRAMES_FOR_SERIES),
    )
    return [(r["frame"], (_json(r["data"], {}) or {}).get("t") or {}) for r in rows]


def episode_frames(
    db: ReadDB, participant_id: str, scene_id: str, episode: int
) -> list[dict[str, Any]]:
    """Every stored frame of an episode (actions, rewards, flags, state hashes), in order."""
    out = []
    for r in db.rows(
        "SELECT frame, data FROM frames WHERE participant_id = ? AND scene_id = ? "
        "AND episode = ? ORDER BY frame",
        (participant_id, scene_id, episode),
    ):
        data = _json(r["data"], {})
        out.append(
            {
                "frame": r["frame"],
                "actions": data.get("actions", {}),
                "rewards": data.get("rewards", {}),
                "terminated": bool(data.get("terminated")),
                "truncated": bool(data.get("truncated")),
                **({"state_hash": data["state_hash"]} if data.get("state_hash") else {}),
            }
        )
    return out
