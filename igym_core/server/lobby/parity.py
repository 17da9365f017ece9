"""Checking that every member of a match uploaded the same canonical data for an episode.

The canonical columns of a frame record are everything but ``t`` (each page's own latency
timestamps). The server hashes what each member uploaded, itself, rather than trusting a hash
the page reports.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from igym_core.jsontext import parse, sorted_bytes

if TYPE_CHECKING:
    from igym_core.server.lobby.sessions import Match

PER_PEER_COLUMNS = frozenset({"t"})


def canonical_rows(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in row.items() if k not in PER_PEER_COLUMNS} for row in rows]


def canonical_digest(rows: Sequence[Mapping[str, Any]]) -> str:
    return hashlib.sha256(sorted_bytes(canonical_rows(rows))).hexdigest()


def first_difference(logs: Mapping[str, Sequence[Mapping[str, Any]]]) -> dict[str, Any] | None:
    """The first frame (and column) where the members' canonical rows differ, or None."""
    names = sorted(logs)
    canon = {name: canonical_rows(logs[name]) for name in names}
    longest = max((len(rows) for rows in canon.values()), default=0)
    for i in range(longest):
        rows = {name: canon[name][i] if i < len(canon[name]) else None for name in names}
        first = rows[names[0]]
        for name in names[1:]:
            other = rows[name]
            if other == first:
                continue
            if first is None or other is None:
                return {
                    "index": i,
                    "column": None,
                    "reason": "one log is shorter",
                    "values": {n: None if r is None else r.get("frame") for n, r in rows.items()},
                }
            columns = sorted(set(first) | set(other))
            column = next(c for c in columns if first.get(c) != other.get(c))
            return {
                "index": i,
                "frame": first.get("frame"),
                "column": column,
                "values": {n: None if r is None else r.get(column) for n, r in rows.items()},
            }
    return None


def canonical_frames(texts: Sequence[tuple[int, str]]) -> tuple[list[dict[str, Any]], list[bytes]]:
    """An episode's stored frames (``(frame, JSON text)``) as canonical rows, and each row as
    canonical JSON: what :func:`canonical_digest` hashes, one row at a time."""
    rows = []
    encoded = []
    for frame, data in texts:
        row = parse(data)
        for column in PER_PEER_COLUMNS:
            row.pop(column, None)
        row.setdefault("frame", frame)
        rows.append(row)
        encoded.append(sorted_bytes(row))
    return rows, encoded


def _digest(encoded: Sequence[bytes]) -> str:
    """:func:`canonical_digest` of the rows ``encoded`` holds (a JSON list of them)."""
    return hashlib.sha256(b"[" + b",".join(encoded) + b"]").hexdigest()


def _difference(
    rows: Mapping[str, list[dict[str, Any]]], encoded: Mapping[str, list[bytes]]
) -> dict[str, Any] | None:
    """Where the members' canonical rows first differ, or None if their text is the same."""
    names = sorted(encoded)
    if all(encoded[name] == encoded[names[0]] for name in names[1:]):
        return None
    found = first_difference(rows)
    if found is not None:
        return found
    # equal as values, not as text (1 and 1.0): the first row whose text differs
    index = next(
        i
        for i in range(max(len(e) for e in encoded.values()))
        if len({encoded[n][i] if i < len(encoded[n]) else None for n in names}) > 1
    )
    return {
        "index": index,
        "frame": rows[names[0]][index].get("frame") if index < len(rows[names[0]]) else None,
        "column": None,
        "reason": "the same values written differently",
    }


def compare_logs(
    match: Match,
    scene_id: str,
    episode: int,
    statuses: Mapping[str, str],
    texts: Mapping[str, Sequence[tuple[int, str]]],
) -> tuple[str, dict[str, Any], dict[str, Any] | None, dict[str, Any]]:
    """Compare every member's stored frames of ``episode`` (``texts``: ``(frame, data)`` as
    :meth:`Store.frame_texts` reads them): the parity status (``identical``,
    ``identical_partial`` or ``mismatch``), each member's digest, the first difference and the
    validation document (what each member stored, frame by frame).

    Members agree when their canonical rows are the same JSON text, row by row (compared as
    bytes: ~3 ms for two members' 450 frames)."""
    rows: dict[str, list[dict[str, Any]]] = {}
    encoded: dict[str, list[bytes]] = {}
    for m in match.members:
        rows[m], encoded[m] = canonical_frames(texts[m])
    difference = _difference(rows, encoded)
    if difference is not None:
        status = "mismatch"
    elif all(s == "complete" for s in statuses.values()):
        status = "identical"
    else:
        status = "identical_partial"
    summary = {
        m: {"sha256": _digest(encoded[m]), "status": statuses[m], "frames": len(rows[m])}
        for m in match.members
    }
    validation = {
        "match_id": match.match_id,
        "scene_id": scene_id,
        "episode": episode,
        "status": status,
        "first_difference": difference,
        "peers": {
            m: {
                **summary[m],
                "agents": list(match.agents[m]),
                "frames": [
                    {
                        "frame": row["frame"],
                        "actions": row.get("actions"),
                        "focused": row.get("focused"),
                        "state_hash": row.get("state_hash"),
                    }
                    for row in rows[m]
                ],
            }
            for m in match.members
        },
    }
    return status, summary, difference, validation
