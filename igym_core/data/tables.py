"""A study's tables as plain rows, wherever the study is: its store, or an export folder.

:func:`open_study` takes a data folder (``<data-dir>`` holding ``<experiment id>.sqlite3``),
a store file, or an export folder (``igym export``'s ``jsonl/`` folder or the folder above it)
and gives every table as a list of dicts, nested as the JSON Lines export writes them. The
analysis loader (:mod:`igym_core.data.load`) and ``igym validate --data`` read studies this way.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import attrs

from igym_core.storage.backends import is_database_url, study_url

#: the tables an export holds, in order
TABLES = (
    "participants",
    "scene_progress",
    "responses",
    "events",
    "episodes",
    "frames",
    "matches",
    "parity",
    "exclusions",
    "focus_periods",
    "disconnections",
    "telemetry",
)


class StudyNotFound(Exception):
    """The path holds no igym study (no store, no export)."""


@attrs.define
class StudyTables:
    """Every table of one study, as rows (dicts), and where they were read from."""

    source: str
    experiment_id: str | None
    tables: dict[str, list[dict[str, Any]]]

    def __getitem__(self, name: str) -> list[dict[str, Any]]:
        return self.tables.get(name, [])


def open_study(path: str | Path, experiment_id: str | None = None) -> StudyTables:
    """Read a study from a store (an SQLite file or a ``postgresql://`` URL), a data folder or
    an export folder."""
    if is_database_url(path):
        url = str(path)
        if experiment_id is not None:
            url = study_url(url, experiment_id)
        elif "schema=" not in url:
            raise StudyNotFound(f"{url.split('@')[-1]}: name the experiment, or its ?schema=")
        return _from_store(url, experiment_id)
    path = Path(path)
    if path.is_file() and path.suffix in (".sqlite3", ".sqlite", ".db"):
        return _from_store(path, experiment_id)
    if path.is_dir():
        stores = sorted(path.glob("*.sqlite3"))
        if experiment_id is not None:
            stores = [s for s in stores if s.stem == experiment_id]
        if len(stores) == 1:
            return _from_store(stores[0], experiment_id or stores[0].stem)
        if len(stores) > 1:
            names = ", ".join(s.stem for s in stores)
            raise StudyNotFound(f"{path} holds several studies ({names}): name the experiment")
        for folder in (path, path / "jsonl"):
            if (folder / "participants.jsonl").is_file():
                return _from_jsonl(folder)
        if (path / "participants.csv").is_file() or (path / "csv").is_dir():
            raise StudyNotFound(
                f"{path} is a CSV export: give its jsonl/ folder (CSV flattens nested records)"
            )
    raise StudyNotFound(f"{path} holds no igym store and no JSON Lines export")


def _from_store(path: Path | str, experiment_id: str | None) -> StudyTables:
    from igym_core.storage.store import Store

    store = Store.open_existing(path, experiment_id)
    try:
        reader = store.reader()
        tables = {name: list(rows) for name, rows in reader.tables().items()}
        return StudyTables(store.location, store.experiment_id, tables)
    finally:
        store.close()


def _from_jsonl(folder: Path) -> StudyTables:
    tables: dict[str, list[dict[str, Any]]] = {}
    for name in TABLES:
        file = folder / f"{name}.jsonl"
        tables[name] = list(_lines(file)) if file.is_file() else []
    return StudyTables(str(folder), None, tables)


def _lines(file: Path) -> Iterable[dict[str, Any]]:
    with file.open(encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except ValueError as exc:
                    raise StudyNotFound(f"{file}:{number} is not JSON: {exc}") from None
