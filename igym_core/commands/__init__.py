"""The ``igym`` subcommands, one module each with a ``register(subparsers)`` function."""


class CommandError(Exception):
    """A problem the user can fix; printed without a traceback."""
