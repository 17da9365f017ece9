"""``igym validate FILE``: load an experiment and report configuration and plugin problems."""

from __future__ import annotations

import argparse
from pathlib import Path

from igym_core.commands import CommandError
from igym_core.config import ConfigError, Experiment
from igym_core.data.checks import check_study
from igym_core.data.tables import StudyNotFound, open_study
from igym_core.envcheck import run_environments
from igym_core.experiment import check_plugins, load_experiment, plugins_for
from igym_core.storage.store import StoreError


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
    parser.add_argument(
        "--data",
        metavar="DIR",
        help="also check the study's data: a data folder, a store file, a postgresql:// URL "
        "or a JSON Lines export "
        "(parity of every match, frames numbered once with no gap, exactly max_steps frames per "
        "complete episode, every exclusion with a reason); exit 1 when a problem is found",
    )
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    try:
        experiment = load_experiment(args.file)
        plugins = plugins_for(experiment)
        check_plugins(experiment, plugins)
        ran = [] if args.no_run or args.data else run_environments(experiment, plugins)
    except ConfigError as exc:
        raise CommandError(str(exc)) from None
    for line in ran:
        print(line if line.startswith("warning:") else f"  ok    {line}")
    for problem in plugins.problems:
        print(f"warning: {problem}")
    print(
        f"{args.file}: experiment {experiment.id!r} with {len(experiment.scenes)} scenes is valid"
    )
    if args.data is None:
        return 0
    return check_data(args.data, experiment)


def check_data(path: Path | str, experiment: Experiment) -> int:
    try:
        study = open_study(path, experiment.id)
    except (StudyNotFound, StoreError) as exc:
        raise CommandError(str(exc)) from None
    report = check_study(study, experiment)
    print(f"data in {study.source}:")
    print(report.text())
    return 1 if report.problems else 0
