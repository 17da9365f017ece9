"""``igym plugins``: what is installed (entry-point name, distribution and version) and what
each plugin provides."""

from __future__ import annotations

import argparse
import json

import attrs

from igym_core.plugins import PluginManager


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("plugins", help="list installed plugins and what they provide")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    pm = PluginManager()
    infos = pm.describe()
    if args.json:
        print(
            json.dumps(
                {
                    "plugins": [attrs.asdict(i) for i in infos],
                    "problems": [str(p) for p in pm.problems],
                },
                indent=2,
            )
        )
        return 1 if pm.problems else 0
    for info in infos:
        if info.distribution:
            origin = f" (distribution {info.distribution} {info.version or '?'})"
        elif info.name.startswith("igym_core."):
            origin = " (built in)"
        else:
            origin = " (registered by code)"
        print(f"{info.name}{origin}")
        print(f"    hooks: {', '.join(info.hooks) or '-'}")
        for item in info.provides:
            print(f"    provides {item}")
    for problem in pm.problems:
        print(f"PROBLEM: {problem}")
    return 1 if pm.problems else 0
