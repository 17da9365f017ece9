"""Capacity of one igym server process: how many participants, how many games' frames.

Run it as a script from the repository root::

    .venv/bin/python tests/bench/bench_capacity.py [--participants N] [--games G] [--seconds S]

It starts an igym server (as ``igym run`` serves) and runs ``igym load`` against it twice:

- ``participants``: N participants on the static study, arriving over a third of the time and
  spending about a third of it on every page (pinging once a second, as pages do): round trip
  p50/p99/max;
- ``games``: G participants playing the human-AI Overcooked study at its real 30 fps (frame
  chunks every 0.5 s): frames stored per second against the 30·G the games make, and the
  round trips meanwhile (a backlog shows as growing round trips).

- ``pairs`` (with ``--pairs P``): P participants playing the human-human study in pairs, first
  against one process storing in SQLite (the baseline), then spread over two processes sharing
  the lobby through Redis and the store in PostgreSQL (both started here, as the tests do):
  round trips and frames stored per second of both, and their ratios.

With ``--baseline`` the first two loads also run against the baseline process (asyncio's own
event loop, the garbage collector untouched: how igym served before
:mod:`igym_core.server.process`) and print the ratios. All print the servers' CPU share and
memory. Numbers are printed, never asserted; the test
suite smoke-tests the script with small figures.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from igym_core.load.run import LoadReport, percentile, run_load  # noqa: E402
from igym_core.server.process import settle_heap  # noqa: E402
from tests.hardening.conftest import Server  # noqa: E402


def server(
    example: str, data: Path, limits: dict, settings: dict | None = None, baseline: bool = False
) -> Server:
    return Server(
        {"experiment": str(ROOT / "examples" / example), "data_dir": str(data),
         "limits": limits, "settings": settings or {}, "baseline": baseline}
    ).start()  # fmt: skip


def ratio(new: float | None, old: float | None) -> str:
    return f"{new / old:.2f}x" if new and old else "n/a"


def compare(name: str, new: LoadReport, old: LoadReport) -> None:
    """Ratios of a run to the baseline's (asyncio's loop, the collector untouched)."""
    p99 = [percentile(r.round_trips(), 0.99) for r in (new, old)]
    pings = [percentile(r.samples.get("ping", []), 0.99) for r in (new, old)]
    rates = [r.frames_acked / r.seconds for r in (new, old)]
    cpu = [r.server_cpu_s for r in (new, old)]
    print(
        f"{name} against the baseline: round trip p99 {ratio(*p99)}, ping p99 {ratio(*pings)}, "
        f"frames stored/s {ratio(*rates)}, server CPU {ratio(*cpu)}\n"
    )


async def pairs(args: argparse.Namespace, tmp: Path) -> None:
    from tests.services import postgres, redis_server

    study = "overcooked_human_human.py"
    one = server(study, tmp / "c", {})
    try:
        base = await run_load(
            one.ws_url, args.pairs, duration_s=args.seconds, ramp_s=2, sources=args.pairs,
            server_pid=one.pid, prefix="pair",
        )  # fmt: skip
    finally:
        one.process.kill()
    print(f"== {args.pairs} participants in pairs, one process, SQLite\n{base.text()}\n")
    with postgres() as pg, redis_server() as rd:
        shared = {"database": pg.new_database(), "redis": rd.url()}
        two = [server(study, tmp / f"d{i}", {}, shared) for i in range(2)]
        try:
            report = await run_load(
                [s.ws_url for s in two], args.pairs, duration_s=args.seconds, ramp_s=2,
                sources=args.pairs, server_pid=[s.pid for s in two], prefix="pair",
            )  # fmt: skip
        finally:
            for s in two:
                s.process.kill()
    print(f"== the same over two processes + Redis + PostgreSQL\n{report.text()}")

    p99 = [percentile(r.round_trips(), 0.99) for r in (report, base)]
    rates = [r.frames_acked / r.seconds for r in (report, base)]
    print(f"ratios to one process: round trip p99 {ratio(*p99)}, frames stored/s {ratio(*rates)}")


async def static_pages(args: argparse.Namespace, data: Path, baseline: bool) -> LoadReport:
    static = server("static_study.py", data, {}, baseline=baseline)
    try:
        return await run_load(
            static.ws_url, args.participants, duration_s=args.seconds,
            ramp_s=args.seconds / 3, sources=args.participants, think_s=args.seconds / 3,
            server_pid=static.pid, prefix="static",
        )  # fmt: skip
    finally:
        static.process.kill()


async def games(args: argparse.Namespace, data: Path, baseline: bool) -> LoadReport:
    games = server("overcooked_human_ai.py", data, {}, baseline=baseline)
    try:
        return await run_load(
            games.ws_url, args.games, duration_s=args.seconds, ramp_s=2,
            sources=args.games, server_pid=games.pid, prefix="cook",
        )  # fmt: skip
    finally:
        games.process.kill()


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        runs = [("", False), (" (baseline)", True)] if args.baseline else [("", False)]
        reports = []
        for label, baseline in runs:
            report = await static_pages(args, Path(tmp) / f"a{label}", baseline)
            print(f"== {args.participants} participants on static pages{label}\n{report.text()}\n")
            reports.append(report)
        if args.baseline:
            compare("static pages", *reports)
        reports = []
        for label, baseline in runs:
            report = await games(args, Path(tmp) / f"b{label}", baseline)
            made = 30 * args.games
            print(f"== {args.games} human-AI games at 30 fps ({made} frames/s made){label}")
            print(f"{report.text()}\n")
            reports.append(report)
        if args.baseline:
            compare("games", *reports)
        if args.pairs:
            await pairs(args, Path(tmp))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=1000)
    parser.add_argument("--games", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--pairs", type=int, default=0, help="participants in pairs (even)")
    parser.add_argument(
        "--baseline",
        action="store_true",
        help="run each load against the baseline process too (asyncio's loop, the garbage "
        "collector untouched) and print the ratios",
    )
    arguments = parser.parse_args()
    settle_heap()  # as igym load does: the generator's collector pauses are not the server's
    asyncio.run(main(arguments))
