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
    validation document (what each member stored, frame by frame)."""
    logs = {m: [{"frame": f, **parse(data)} for f, data in texts[m]] for m in match.members}
    difference = first_difference(logs)
    if difference is not None:
        status = "mismatch"
    elif all(s == "complete" for s in statuses.values()):
        status = "identical"
    else:
        status = "identical_partial"
    summary = {
        m: {"sha256": canonical_digest(rows), "status": statuses[m], "frames": len(rows)}
        for m, rows in logs.items()
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
                    for row in logs[m]
                ],
            }
            for m in match.members
        },
    }
    return status, summary, difference, validation
