"""Built-in exporter: one CSV file per table, nested values flattened into dotted columns."""

from __future__ import annotations

import csv
from pathlib import Path

from igym_core import hookimpl
from igym_core.export.flatten import columns, flatten
from igym_core.specs import Exporter
from igym_core.storage.reader import StoreReader


class CsvExporter(Exporter):
    name = "csv"

    def export(self, reader: StoreReader, out_dir: Path) -> list[Path]:
        written = []
        for stem, rows in reader.tables().items():
            flat = [flatten(row) for row in rows]
            path = out_dir / f"{stem}.csv"
            with path.open("w", newline="", encoding="utf-8") as f:
                writer = csv.DictWriter(f, fieldnames=columns(flat), lineterminator="\n")
                writer.writeheader()
                writer.writerows(flat)
            written.append(path)
        return written


@hookimpl
def igym_exporters():
    return [CsvExporter()]
