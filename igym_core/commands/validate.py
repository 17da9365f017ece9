"""``igym validate FILE``: load an experiment and report configuration and plugin problems."""

from __future__ import annotations

import argparse
from pathlib import Path

from igym_core.commands import CommandError
from igym_core.config import ConfigError
from igym_core.envcheck import run_environments
from igym_core.experiment import check_plugins, load_experiment, plugins_for


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "validate",
        help="check an experiment file without hosting it",
        description=(
            "Load the experiment, check it against the installed plugins (environments, seats, "
            "policies, keys, env and policy kwargs, browser packages), then build each game "
            "scene's environment once and play a few frames: a short check-env for "
            "peer-to-peer scenes, and the browser bundle imported on its own."
        ),
    )
    parser.add_argument("file", type=Path)
    parser.add_argument(
        "--no-run", action="store_true", help="only load and check; do not build environments"
    )
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    try:
        experiment = load_experiment(args.file)
        plugins = plugins_for(experiment)
        check_plugins(experiment, plugins)
        ran = [] if args.no_run else run_environments(experiment, plugins)
    except ConfigError as exc:
        raise CommandError(str(exc)) from None
    for line in ran:
        print(line if line.startswith("warning:") else f"  ok    {line}")
    for problem in plugins.problems:
        print(f"warning: {problem}")
    print(
        f"{args.file}: experiment {experiment.id!r} with {len(experiment.scenes)} scenes is valid"
    )
    return 0
