"""``igym run FILE``: host an experiment with Hypercorn."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
from pathlib import Path

from hypercorn.asyncio import serve
from quart import Quart

from igym_core.commands import CommandError
from igym_core.config import ConfigError, Experiment
from igym_core.experiment import load_experiment
from igym_core.reloader import child_command, free_port, supervise
from igym_core.server.app import create_app
from igym_core.server.process import serve_forever
from igym_core.server.transport import hypercorn_config
from igym_core.settings import Settings
from igym_core.storage.backends import backend_for
from igym_core.storage.store import StoreError


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("run", help="host an experiment file")
    parser.add_argument("file", type=Path, help="Python file defining `experiment`")
    add_server_options(parser)
    parser.add_argument(
        "--reload",
        action="store_true",
        help="restart when the experiment's files or an installed plugin change (development)",
    )
    parser.set_defaults(handler=handle)


def add_server_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 = any free)")
    parser.add_argument(
        "--data-dir", type=Path, default=Path("igym-data"), help="where the store lives"
    )
    parser.add_argument(
        "--public-origin",
        action="append",
        default=[],
        metavar="URL",
        help="an origin participants open the study at, e.g. https://study.example.org "
        "(repeatable; default: the host the page was served from)",
    )
    parser.add_argument(
        "--trusted-proxy",
        action="append",
        default=[],
        metavar="ADDRESS",
        help="a reverse proxy whose X-Forwarded-For names the participant's address (repeatable)",
    )
    parser.add_argument(
        "--database",
        default=None,
        metavar="URL",
        help="store the study in PostgreSQL (postgresql://user@host/dbname; default: "
        "$IGYM_DATABASE, else an SQLite file in --data-dir)",
    )
    parser.add_argument(
        "--redis",
        default=None,
        metavar="URL",
        help="share the lobby with every igym process given the same Redis (redis://host:6379/0)"
        " and --database (default: $IGYM_REDIS, else this process's own lobby)",
    )


def handle(args: argparse.Namespace) -> int:
    if args.reload:
        port = args.port or free_port(args.host)
        return supervise(child_command(args.file, args.host, port, args.data_dir), args.file)
    try:
        experiment = load_experiment(args.file)
    except ConfigError as exc:
        raise CommandError(str(exc)) from None
    return host([experiment], args)


def host(experiments: list[Experiment], args: argparse.Namespace) -> int:
    """Serve each experiment on its own port (``args.port``, the next one, ...) until stopped."""
    try:
        settings = Settings(
            data_dir=args.data_dir,
            public_origins=tuple(getattr(args, "public_origin", ())),
            trusted_proxies=tuple(getattr(args, "trusted_proxy", ())),
            database=getattr(args, "database", None) or os.environ.get("IGYM_DATABASE"),
            redis=getattr(args, "redis", None) or os.environ.get("IGYM_REDIS"),
        )
    except ValueError as exc:  # a setting (an origin, the admin password, TURN) is wrong
        raise CommandError(str(exc)) from None
    if settings.redis:
        check_redis(settings)
    servers = []
    try:
        for offset, experiment in enumerate(experiments):
            port = args.port + offset if args.port else 0
            try:
                sock = socket.create_server((args.host, port))
            except OSError as exc:
                raise CommandError(f"cannot listen on {args.host}:{port}: {exc.strerror}") from None
            sock.set_inheritable(True)
            servers.append((experiment, sock))
        try:
            apps = [(create_app(e, settings), e, sock) for e, sock in servers]
        except (ConfigError, StoreError) as exc:  # start-up checks, or a store not ours
            raise CommandError(str(exc)) from None
        serve_forever(_serve(apps, settings))
    finally:
        for _, sock in servers:
            with contextlib.suppress(OSError):  # Hypercorn closes the descriptor it was given
                sock.close()
    return 0


async def _serve(apps: list[tuple[Quart, Experiment, socket.socket]], settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    tasks = []
    for app, experiment, sock in apps:
        config = hypercorn_config(settings, f"fd://{sock.fileno()}")
        host, port = sock.getsockname()[:2]
        print(f"igym: hosting {experiment.id!r} at http://{host}:{port}/", flush=True)
        where = backend_for(settings.store_target(experiment.id)).location
        print(f"igym: data in {where}", flush=True)
        tasks.append(serve(app, config, shutdown_trigger=stop.wait))
    await asyncio.gather(*tasks)


def check_redis(settings: Settings) -> None:
    """A shared lobby needs a store every process shares, and a Redis that answers now."""
    if not settings.database:
        raise CommandError(
            "--redis shares the lobby between processes, which must share the study's store "
            "too: give --database postgresql://... as well"
        )
    try:
        import redis
    except ImportError:
        raise CommandError("--redis needs the redis package: pip install 'igym[redis]'") from None
    client = redis.Redis.from_url(settings.redis, socket_timeout=3, socket_connect_timeout=3)
    try:
        client.ping()
    except Exception as exc:
        raise CommandError(f"Redis at {settings.redis} does not answer: {exc}") from None
    finally:
        client.close()
