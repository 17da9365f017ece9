"""Checking that every member of a match uploaded the same canonical data for an episode.

The canonical columns of a frame record are everything but ``t`` (each page's own latency
timestamps). The server hashes what each member uploaded, itself, rather than trusting a hash
the page reports.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

PER_PEER_COLUMNS = frozenset({"t"})


def canonical_rows(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in row.items() if k not in PER_PEER_COLUMNS} for row in rows]


def canonical_digest(rows: Sequence[Mapping[str, Any]]) -> str:
    text = json.dumps(canonical_rows(rows), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


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
