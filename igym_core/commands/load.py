"""``igym load URL``: scripted participants against a running igym server.

Each one goes through the hosted study as a page would (answers, waiting room, signaling,
relay, frame chunks at the scene's fps, episode ends) and the run prints round trips, message
and frame rates, errors and, with ``--server-pid``, the server's CPU and memory. Bounded in
count (``--participants``, at most 5,000) and time (``--duration``).
"""

from __future__ import annotations

import argparse
import asyncio
import json

from igym_core.commands import CommandError
from igym_core.load.run import MAX_PARTICIPANTS, run_load
from igym_core.server.process import settle_heap


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("load", help="scripted participants against a running server")
    parser.add_argument(
        "url",
        nargs="+",
        help="the study's address, e.g. http://127.0.0.1:8000/ (several: processes sharing a "
        "lobby through --redis; participants take them in turn)",
    )
    parser.add_argument("--participants", type=int, default=100, help="how many (default 100)")
    parser.add_argument("--duration", type=float, default=60.0, help="at most this many seconds")
    parser.add_argument("--ramp", type=float, default=5.0, help="seconds to open them over")
    parser.add_argument(
        "--sources",
        type=int,
        default=0,
        help="for a loopback server: spread participants over this many source addresses "
        "(127.0.0.2, ...) so that per-address budgets count them apart (default: one each)",
    )
    parser.add_argument("--speed", type=float, default=1.0, help="play games this much faster")
    parser.add_argument(
        "--think", type=float, default=0.0, help="seconds spent on each page before continuing"
    )
    parser.add_argument(
        "--server-pid",
        type=int,
        action="append",
        default=[],
        help="report this process's CPU and memory (repeatable: summed)",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.set_defaults(handler=handle)


def ws_url(url: str) -> str:
    if url.startswith(("ws://", "wss://")):
        return url
    if not url.startswith(("http://", "https://")):
        raise CommandError(f"{url!r} is not an http(s) or ws(s) address")
    return url.replace("http", "ws", 1).rstrip("/") + "/ws"


def handle(args: argparse.Namespace) -> int:
    if not 1 <= args.participants <= MAX_PARTICIPANTS:
        raise CommandError(f"--participants must be 1..{MAX_PARTICIPANTS}")
    settle_heap()  # the generator's own collector pauses would count as the server's round trips
    report = asyncio.run(
        run_load(
            [ws_url(u) for u in args.url],
            args.participants,
            duration_s=args.duration,
            ramp_s=args.ramp,
            sources=args.sources or args.participants,
            speed=args.speed,
            think_s=args.think,
            server_pid=args.server_pid,
        )
    )
    print(json.dumps(report.as_dict(), indent=2) if args.json else report.text())
    return 1 if report.failures else 0
