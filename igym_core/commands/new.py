"""``igym new env|matchmaker|rule|exporter NAME [DIR]``: write a new plugin distribution.

The folder ``DIR/igym_NAME/`` gets a pyproject.toml with the ``igym`` entry point, the plugin's
package, a README and tests that pass as written (``pip install -e '.[test]'`` then ``pytest``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from igym_core.commands import CommandError
from igym_core.scaffold import KINDS, ScaffoldError, write


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "new",
        help="write a new plugin (an env pack, matchmaker, exclusion rule or exporter)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("kind", choices=KINDS)
    parser.add_argument("name", help="the plugin's name, e.g. gems (package igym_gems)")
    parser.add_argument("dir", nargs="?", type=Path, default=Path("."), help="default: here")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    try:
        root = write(args.kind, args.name, args.dir)
    except ScaffoldError as exc:
        raise CommandError(str(exc)) from None
    print(f"wrote {root}")
    print(f"next: pip install -e '{root}[test]' && pytest {root}")
    return 0
