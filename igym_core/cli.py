"""The ``igym`` command. Each subcommand lives in its own module under ``igym_core.commands``."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from igym_core.commands import CommandError

COMMANDS = (
    "igym_core.commands.run",
    "igym_core.commands.demo",
    "igym_core.commands.plugins",
    "igym_core.commands.export",
    "igym_core.commands.validate",
    "igym_core.commands.simulate",
    "igym_core.commands.check_env",
    "igym_core.commands.admin_password",
    "igym_core.commands.load",
    "igym_core.commands.new",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="igym", description="Interactive Gym: RL environments as browser experiments."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module_name in COMMANDS:
        importlib.import_module(module_name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    logging.getLogger("igym.plugins").setLevel(
        logging.CRITICAL if args.command == "plugins" else logging.WARNING
    )
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        return 130
    except CommandError as exc:
        print(f"igym {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
