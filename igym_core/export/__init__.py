"""Writing a study's files: runs every installed exporter over one store."""

from __future__ import annotations

from pathlib import Path

import attrs

from igym_core.plugins import PluginManager
from igym_core.storage.store import Store


@attrs.frozen
class ExportResult:
    files: tuple[Path, ...]
    problems: tuple[str, ...]


def export_store(
    store: Store, out_dir: Path, plugins: PluginManager, only: tuple[str, ...] = ()
) -> ExportResult:
    """Write each exporter's files into ``out_dir/<exporter name>/``.

    An exporter that raises is reported by name and the others still run.
    """
    files: list[Path] = []
    problems: list[str] = []
    exporters = plugins.exporters
    unknown = [name for name in only if name not in exporters]
    if unknown:
        raise KeyError(f"no exporter named {', '.join(unknown)} (known: {', '.join(exporters)})")
    reader = store.reader()
    for name, exporter in exporters.items():
        if only and name not in only:
            continue
        target = out_dir / name
        target.mkdir(parents=True, exist_ok=True)
        try:
            files.extend(exporter.export(reader, target))
        except Exception as exc:  # a broken exporter must not stop the others
            problems.append(f"exporter {name!r} failed: {type(exc).__name__}: {exc}")
    return ExportResult(tuple(files), tuple(problems))
