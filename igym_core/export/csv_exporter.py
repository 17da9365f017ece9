"""Built-in exporter: one CSV file per table, nested values flattened into dotted columns.

Free-form maps (URL parameters, event data) stay one JSON column, each nested field gives a
bounded number of columns (:mod:`igym_core.export.flatten`), and text a spreadsheet would run
as a formula (starting with ``= + - @``) is written with a leading ``'``.
"""

from __future__ import annotations

import csv
from pathlib import Path

from igym_core import hookimpl
from igym_core.export.flatten import OPAQUE, capped, flatten, spreadsheet_safe
from igym_core.specs import Exporter
from igym_core.storage.reader import StoreReader


class CsvExporter(Exporter):
    name = "csv"

    def export(self, reader: StoreReader, out_dir: Path) -> list[Path]:
        written = []
        for stem, rows in reader.tables().items():
            opaque = OPAQUE.get(stem, frozenset())
            names, flat = capped([flatten(row, opaque=opaque) for row in rows])
            path = out_dir / f"{stem}.csv"
            with path.open("w", newline="", encoding="utf-8") as f:
                writer = csv.DictWriter(f, fieldnames=names, lineterminator="\n")
                writer.writeheader()
                for row in flat:
                    writer.writerow({k: spreadsheet_safe(v) for k, v in row.items()})
            written.append(path)
        return written


@hookimpl
def igym_exporters():
    return [CsvExporter()]
