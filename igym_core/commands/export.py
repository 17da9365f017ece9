"""``igym export FILE``: write a study's data files with every installed exporter."""

from __future__ import annotations

import argparse
import os
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
    parser.add_argument(
        "--database",
        default=None,
        metavar="URL",
        help="the study is in PostgreSQL (what igym run --database was given; default: "
        "$IGYM_DATABASE)",
    )
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
    try:
        settings = Settings(
            data_dir=args.data_dir, database=args.database or os.environ.get("IGYM_DATABASE")
        )
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    target = settings.store_target(experiment.id)
    out = args.out or Path("export") / experiment.id
    try:
        store = Store.open_existing(target, experiment.id)
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
