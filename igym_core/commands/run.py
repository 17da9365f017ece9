"""``igym run FILE``: host an experiment with Hypercorn."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import socket
from pathlib import Path

from hypercorn.asyncio import serve
from hypercorn.config import Config
from quart import Quart

from igym_core.commands import CommandError
from igym_core.config import ConfigError, Experiment
from igym_core.experiment import load_experiment
from igym_core.server.app import create_app
from igym_core.settings import Settings


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("run", help="host an experiment file")
    parser.add_argument("file", type=Path, help="Python file defining `experiment`")
    add_server_options(parser)
    parser.set_defaults(handler=handle)


def add_server_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 = any free)")
    parser.add_argument(
        "--data-dir", type=Path, default=Path("igym-data"), help="where the store lives"
    )


def handle(args: argparse.Namespace) -> int:
    try:
        experiment = load_experiment(args.file)
    except ConfigError as exc:
        raise CommandError(str(exc)) from None
    return host(experiment, args)


def host(experiment: Experiment, args: argparse.Namespace, also: list[str] | None = None) -> int:
    settings = Settings(data_dir=args.data_dir)
    app = create_app(experiment, settings)
    config = Config()
    sock = socket.create_server((args.host, args.port), reuse_port=False)
    sock.set_inheritable(True)
    config.bind = [f"fd://{sock.fileno()}"]
    bound = sock.getsockname()[:2]
    config.accesslog = None
    config.errorlog = logging.getLogger("hypercorn.error")
    config.websocket_ping_interval = 20
    try:
        asyncio.run(_serve(app, config, bound, experiment, settings, also or []))
    finally:
        sock.close()
    return 0


async def _serve(
    app: Quart,
    config: Config,
    bound: tuple[str, int],
    experiment: Experiment,
    settings: Settings,
    also: list[str],
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    @app.before_serving
    async def announce() -> None:
        host, port = bound
        print(f"igym: hosting {experiment.id!r} at http://{host}:{port}/", flush=True)
        for line in also:
            print(line, flush=True)
        print(f"igym: data in {settings.store_path(experiment.id)}", flush=True)

    await serve(app, config, shutdown_trigger=stop.wait)
