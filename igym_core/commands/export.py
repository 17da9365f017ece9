"""``igym export FILE``: write a study's data files with every installed exporter."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from igym_core.commands import CommandError
from igym_core.config import ConfigError
from igym_core.experiment import load_experiment
from igym_core.export import export_store
from igym_core.plugins import PluginManager
from igym_core.settings import Settings
from igym_core.storage.store import Store, StoreError


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("export", help="write a study's data into a folder")
    parser.add_argument("file", type=Path, help="the experiment file")
    parser.add_argument("--data-dir", type=Path, default=Path("igym-data"))
    parser.add_argument("--out", type=Path, default=None, help="default: export/<experiment id>")
    parser.add_argument(
        "--format", action="append", default=[], help="only this exporter (repeatable)"
    )
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    try:
        experiment = load_experiment(args.file)
    except ConfigError as exc:
        raise CommandError(str(exc)) from None
    path = Settings(data_dir=args.data_dir).store_path(experiment.id)
    if not path.is_file():
        raise CommandError(f"no data for {experiment.id!r}: {path} does not exist")
    out = args.out or Path("export") / experiment.id
    try:
        store = Store(path, experiment.id)
    except StoreError as exc:
        raise CommandError(str(exc)) from None
    try:
        result = export_store(store, out, PluginManager(), tuple(args.format))
    except KeyError as exc:
        raise CommandError(exc.args[0]) from None
    finally:
        store.close()
    for file in result.files:
        print(file)
    for problem in result.problems:
        print(f"PROBLEM: {problem}", file=sys.stderr)
    return 1 if result.problems else 0
