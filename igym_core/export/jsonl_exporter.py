"""Built-in exporter: one JSON Lines file per table, records kept nested."""

from __future__ import annotations

import json
from pathlib import Path

from igym_core import hookimpl
from igym_core.specs import Exporter
from igym_core.storage.reader import StoreReader


class JsonlExporter(Exporter):
    name = "jsonl"

    def export(self, reader: StoreReader, out_dir: Path) -> list[Path]:
        written = []
        for stem, rows in reader.tables().items():
            path = out_dir / f"{stem}.jsonl"
            with path.open("w", encoding="utf-8") as f:
                for row in rows:
                    f.write(json.dumps(row, sort_keys=True, ensure_ascii=False) + "\n")
            written.append(path)
        return written


@hookimpl
def igym_exporters():
    return [JsonlExporter()]
