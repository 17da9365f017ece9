"""The export as one zip: every installed exporter, run over a read-only view of the store."""

from __future__ import annotations

import tempfile
import zipfile
from pathlib import Path
from typing import Any

from igym_core.export import export_store
from igym_core.plugins import PluginManager
from igym_core.server.admin.queries import ReadDB
from igym_core.storage.reader import StoreReader


class _ReadOnlyStore:
    """What :func:`export_store` needs of a store, on a read-only connection: the export never
    takes the lock that participants' writes wait on."""

    def __init__(self, db: ReadDB, experiment_id: str) -> None:
        self._db = db
        self.experiment_id = experiment_id

    def rows(self, sql: str) -> list[Any]:
        return self._db.rows(sql)

    def reader(self) -> StoreReader:
        return StoreReader(self)  # type: ignore[arg-type]


def export_zip(
    store: Path | str, experiment_id: str, plugins: PluginManager, name: str
) -> tuple[Path, tuple[str, ...]]:
    """Write ``<experiment id>/<exporter>/<files>`` into a temporary zip file; returns its path
    (the caller deletes it) and the problems exporters reported."""
    db = ReadDB(store)
    try:
        with tempfile.TemporaryDirectory(prefix="igym-export-") as folder:
            out = Path(folder) / experiment_id
            result = export_store(_ReadOnlyStore(db, experiment_id), out, plugins)  # type: ignore[arg-type]
            handle = tempfile.NamedTemporaryFile(
                prefix="igym-export-", suffix=f"-{name}", delete=False
            )
            with handle, zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED) as zf:
                for path in sorted(out.rglob("*")):
                    if path.is_file():
                        zf.write(path, path.relative_to(folder).as_posix())
    finally:
        db.close()
    return Path(handle.name), result.problems
