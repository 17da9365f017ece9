"""Turning nested records into flat, ordered rows: the one place the exporters share.

A table's columns must not be something a participant can choose: free-form maps (URL
parameters, event data) stay one JSON column (:data:`OPAQUE`), and every other nested field
(actions, rewards, infos, summaries...) gives at most :data:`MAX_COLUMNS_PER_FIELD` columns; the
keys beyond those go together into one ``<field>.more`` JSON column.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

#: fields kept as one JSON column, by table
OPAQUE: Mapping[str, frozenset[str]] = {
    "participants": frozenset({"params"}),
    "events": frozenset({"data"}),
}
MAX_COLUMNS_PER_FIELD = 100


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def flatten(
    record: Mapping[str, Any], prefix: str = "", opaque: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """``{"params": {"a": 1}}`` becomes ``{"params.a": 1}``; lists, and the top-level fields
    named in ``opaque``, become JSON text."""
    flat: dict[str, Any] = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if not prefix and key in opaque:
            flat[name] = _json(value) if value is not None else None
        elif isinstance(value, Mapping):
            flat.update(flatten(value, f"{name}."))
        elif isinstance(value, list | tuple):
            flat[name] = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        else:
            flat[name] = value
    return flat


def columns(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    """All column names in first-seen order (stable because readers return sorted rows)."""
    seen: dict[str, None] = {}
    for row in rows:
        for key in row:
            seen.setdefault(key)
    return list(seen)


def capped(
    rows: list[dict[str, Any]], limit: int = MAX_COLUMNS_PER_FIELD
) -> tuple[list[str], list[dict[str, Any]]]:
    """The columns of ``rows``, at most ``limit`` per top-level field (first seen first), and
    the rows with the keys beyond them moved into ``<field>.more`` as JSON."""
    kept: dict[str, None] = {}
    per_field: dict[str, int] = {}
    overflow: set[str] = set()
    for row in rows:
        for key in row:
            if key in kept or key in overflow:
                continue
            field = key.split(".", 1)[0]
            if "." in key and per_field.get(field, 0) >= limit:
                overflow.add(key)
                kept.setdefault(f"{field}.more")
                continue
            per_field[field] = per_field.get(field, 0) + 1
            kept[key] = None
    if not overflow:
        return list(kept), rows
    out = []
    for row in rows:
        more: dict[str, dict[str, Any]] = {}
        clean = {}
        for key, value in row.items():
            if key in overflow:
                field, _, rest = key.partition(".")
                more.setdefault(field, {})[rest] = value
            else:
                clean[key] = value
        for field, values in more.items():
            clean[f"{field}.more"] = _json(values)
        out.append(clean)
    return list(kept), out


#: what a spreadsheet would take for the start of a formula
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: Any) -> Any:
    """Text that a spreadsheet would run as a formula gets a leading ``'``; numbers stay."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value
