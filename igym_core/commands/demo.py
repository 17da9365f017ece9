"""``igym demo``: host the bundled demo experiment from this checkout's examples/."""

from __future__ import annotations

import argparse
from pathlib import Path

from igym_core.commands import CommandError
from igym_core.commands.run import add_server_options, host
from igym_core.config import ConfigError
from igym_core.experiment import load_experiment

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
DEMOS = ("overcooked_human_ai.py", "overcooked_human_human.py")


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "demo", help="host the bundled demo experiments (one port each, from --port on)"
    )
    add_server_options(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    experiments = []
    for name in DEMOS:
        path = EXAMPLES / name
        if not path.is_file():
            raise CommandError(f"the demo needs a source checkout of igym ({path} is missing)")
        try:
            experiments.append(load_experiment(path))
        except ConfigError as exc:
            raise CommandError(str(exc)) from None
    return host(experiments, args)
