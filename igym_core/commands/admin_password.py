"""``igym admin-password``: print a hash of an admin password for IGYM_ADMIN_PASSWORD_HASH."""

from __future__ import annotations

import argparse
import getpass
import sys

from igym_core.commands import CommandError
from igym_core.server.admin.auth import PasswordError, hash_password


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "admin-password",
        help="hash an admin console password (for IGYM_ADMIN_PASSWORD_HASH)",
        description="Reads the password (twice at a terminal, once from a pipe) and prints its "
        "scrypt hash. Start the server with IGYM_ADMIN_PASSWORD_HASH set to it.",
    )
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    if sys.stdin.isatty():
        password = getpass.getpass("Admin password: ")
        if getpass.getpass("Again: ") != password:
            raise CommandError("the two passwords differ")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if len(password) < 8:
        raise CommandError("use an admin password of at least 8 characters")
    try:
        print(hash_password(password))
    except PasswordError as exc:
        raise CommandError(str(exc)) from None
    return 0
