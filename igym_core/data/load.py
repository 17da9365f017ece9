"""Loading a study for analysis: every table as a pandas DataFrame.

::

    from igym_core.data import load

    study = load("igym-data")            # a data folder, a store file, or an export folder
    study.frames.groupby("episode")["rewards.agent_0"].sum()

Nested records are flattened into dotted columns as in the CSV export (``actions.agent_0``,
``summary.latency_p50_ms``); free-form maps (``participants.params``, ``events.data``) stay
one column of dicts. pandas is an optional dependency: ``pip install 'igym[data]'``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs

from igym_core.data.tables import TABLES, StudyTables, open_study
from igym_core.export.flatten import OPAQUE


@attrs.define
class Study:
    """One study's tables as DataFrames (``participants``, ``frames`` … as attributes)."""

    source: str
    experiment_id: str | None
    frames_by_name: dict[str, Any]

    def __getattr__(self, name: str) -> Any:
        try:
            return self.frames_by_name[name]
        except KeyError:
            raise AttributeError(
                f"a study has no table {name!r} (it has {', '.join(self.frames_by_name)})"
            ) from None

    def __getitem__(self, name: str) -> Any:
        return self.frames_by_name[name]

    @property
    def names(self) -> list[str]:
        return list(self.frames_by_name)


def _pandas() -> Any:
    try:
        import pandas
    except ImportError:
        raise ImportError(
            "igym_core.data.load needs pandas: pip install 'igym[data]' (or pandas)"
        ) from None
    return pandas


def dataframe(name: str, rows: list[dict[str, Any]]) -> Any:
    """One table's rows as a DataFrame, nested fields in dotted columns."""
    pd = _pandas()
    keep = OPAQUE.get(name, frozenset())
    kept = {field: [row.get(field) for row in rows] for field in keep}
    flat = pd.json_normalize([{k: v for k, v in row.items() if k not in keep} for row in rows])
    for field, values in kept.items():
        if any(v is not None for v in values):
            flat[field] = values
    return flat


def load(path_or_url: str | Path, experiment_id: str | None = None) -> Study:
    """Every table of a study as a DataFrame. ``path_or_url`` is a data folder, a store file
    (``.sqlite3``) or an export folder (``igym export``'s output or its ``jsonl/`` folder)."""
    study: StudyTables = open_study(path_or_url, experiment_id)
    names = list(TABLES) + [n for n in study.tables if n not in TABLES]
    return Study(
        study.source,
        study.experiment_id,
        {name: dataframe(name, study.tables.get(name, [])) for name in names},
    )
