"""Built-in exporter: one JSON validation document per multiplayer episode.

Each document holds every member's confirmed actions, focus and state hashes per frame, the
hash of each member's canonical log, the parity verdict and the first difference, if any.
"""

from __future__ import annotations

import json
from pathlib import Path

from igym_core import hookimpl
from igym_core.specs import Exporter
from igym_core.storage.reader import StoreReader


class ValidationExporter(Exporter):
    name = "validation"

    def export(self, reader: StoreReader, out_dir: Path) -> list[Path]:
        written = []
        for row in reader.validations():
            path = out_dir / f"{row['match_id']}-episode{row['episode']}.json"
            path.write_text(json.dumps(row["document"], indent=1, sort_keys=True) + "\n")
            written.append(path)
        return written


@hookimpl
def igym_exporters():
    return [ValidationExporter()]
