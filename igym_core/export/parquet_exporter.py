"""Built-in exporter: one Parquet file per table (``pip install 'igym[data]'`` for pyarrow).

Rows are flattened as for CSV (dotted columns, free-form maps as JSON text, at most 100
columns per nested field); each column gets the type its values share (numbers, booleans,
text). Without pyarrow the exporter is not offered.
"""

from __future__ import annotations

from pathlib import Path

from igym_core import hookimpl
from igym_core.export.flatten import OPAQUE, capped, flatten
from igym_core.specs import Exporter
from igym_core.storage.reader import StoreReader


class ParquetExporter(Exporter):
    name = "parquet"

    def export(self, reader: StoreReader, out_dir: Path) -> list[Path]:
        import pyarrow
        import pyarrow.parquet

        written = []
        for stem, rows in reader.tables().items():
            names, flat = capped(
                [flatten(row, opaque=OPAQUE.get(stem, frozenset())) for row in rows]
            )
            columns = {name: [row.get(name) for row in flat] for name in names}
            table = pyarrow.table(
                {name: _array(pyarrow, values) for name, values in columns.items()}
            )
            path = out_dir / f"{stem}.parquet"
            pyarrow.parquet.write_table(table, path)
            written.append(path)
        return written


def _array(pyarrow, values):  # type: ignore[no-untyped-def]
    """A column of one type; mixed values (an int here, a text there) become text."""
    try:
        return pyarrow.array(values)
    except (pyarrow.ArrowInvalid, pyarrow.ArrowTypeError):
        return pyarrow.array([None if v is None else str(v) for v in values], pyarrow.string())


@hookimpl
def igym_exporters():
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return []
    return [ParquetExporter()]
