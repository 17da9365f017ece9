"""``igym validate FILE``: load an experiment and report configuration and plugin problems."""

from __future__ import annotations

import argparse
from pathlib import Path

from igym_core.commands import CommandError
from igym_core.config import ConfigError
from igym_core.experiment import check_plugins, load_experiment
from igym_core.plugins import PluginManager


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("validate", help="check an experiment file without hosting it")
    parser.add_argument("file", type=Path)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    plugins = PluginManager()
    try:
        experiment = load_experiment(args.file)
        check_plugins(experiment, plugins)
    except ConfigError as exc:
        raise CommandError(str(exc)) from None
    for problem in plugins.problems:
        print(f"warning: {problem}")
    print(
        f"{args.file}: experiment {experiment.id!r} with {len(experiment.scenes)} scenes is valid"
    )
    return 0
