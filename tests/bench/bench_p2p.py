"""Peer-to-peer benchmark: two Chromium pages play human-human Overcooked with rollback.

Run it from the repository root (the client must be built: ``make setup``), inside a
loopback-only network namespace like the tests::

    unshare -n sh -c 'ip link set lo up && .venv/bin/python tests/bench/bench_p2p.py'
    [--latency 0,100] [--episodes E] [--steps S]

For each latency (ms added by CDP ``Network.emulateNetworkConditions`` to each page, set before
its peer connection exists) it hosts a copy of ``examples/overcooked_human_human.py`` with
``S``-step episodes (input delay 2, as in the example), lets two participants play ``E``
episodes with scripted key presses, and prints:

- rollbacks per minute of play (per participant) and the deepest rollback;
- the cost of a worker tick that rolled back (p50/p95; the one Python call: restore, replay,
  save, advance, render) next to an ordinary tick's;
- input-to-drawn p50/p95: key event -> sampled -> simulated (after the input delay) -> drawn;
- the P2P RTT the engine measured and whether the server found both logs identical.

Numbers are printed, never asserted; tests/e2e/test_p2p_bench.py only smoke-tests the script.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.e2e.conftest import IgymServer  # noqa: E402
from tests.e2e.helpers import benchmark_browser  # noqa: E402
from tests.e2e.test_p2p_overcooked import (  # noqa: E402
    bring_to_lobby,
    participants,
    server_parity,
    short_copy,
    wait_until_done,
)


def percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(q * len(ordered) + 0.5) - 1))]


def one_match(browser, workdir: Path, latency: float, steps: int, episodes: int) -> dict:
    path = short_copy(workdir, steps, episodes=episodes)
    server = IgymServer(path, workdir / f"data{latency}", workdir / f"server{latency}.log")
    server.start()
    try:
        with participants(browser, 2, latency_ms=latency) as people:
            bring_to_lobby(people, server, f"bench-{int(latency)}")
            wait_until_done(people, timeout_s=60 + episodes * steps / 10)
            states = [p.game() for p in people]
        parity = server_parity(server, path, episodes=episodes)
    finally:
        server.stop()
    rollback_ms = [x for s in states for x in s["samples"]["rollback_ms"]]
    step_ms = [x for s in states for x in s["samples"]["step_ms"]]
    latency_ms = [x for s in states for x in s["samples"]["input_to_drawn_ms"]]
    played_min = sum(s["samples"]["played_ms"] for s in states) / 60_000
    summaries = [x for s in states for x in s["summaries"]]
    return {
        "latency_ms": latency,
        "rollbacks": len(rollback_ms),
        "rollbacks_per_min": round(len(rollback_ms) / played_min, 1) if played_min else None,
        "max_depth": max((d for s in states for d in s["samples"]["rollback_depth"]), default=0),
        "rollback_tick_p50_ms": percentile(rollback_ms, 0.5),
        "rollback_tick_p95_ms": percentile(rollback_ms, 0.95),
        "tick_p50_ms": percentile(step_ms, 0.5),
        "tick_p95_ms": percentile(step_ms, 0.95),
        "input_to_drawn_p50_ms": percentile(latency_ms, 0.5),
        "input_to_drawn_p95_ms": percentile(latency_ms, 0.95),
        "latency_samples": len(latency_ms),
        "p2p_rtt_ms": [x.get("p2p_p2p_rtt_ms") for x in summaries],
        "frames": [x["frames"] for x in summaries],
        "parity": parity,
    }


def run(args: argparse.Namespace) -> list[dict]:
    results = []
    with tempfile.TemporaryDirectory() as tmp, benchmark_browser() as browser:
        for latency in args.latency:
            workdir = Path(tmp) / f"l{int(latency)}"
            workdir.mkdir()
            results.append(one_match(browser, workdir, latency, args.steps, args.episodes))
    return results


def fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.1f}"


def report(results: list[dict]) -> None:
    for r in results:
        print(f"== {r['latency_ms']:g} ms added latency per page (input delay 2) ==")
        print(
            f"rollbacks: {r['rollbacks']} ({fmt(r['rollbacks_per_min'])} per minute per "
            f"participant), deepest {r['max_depth']} frames"
        )
        print(
            f"worker tick that rolled back: p50 {fmt(r['rollback_tick_p50_ms'])} ms, p95 "
            f"{fmt(r['rollback_tick_p95_ms'])} ms (any tick: p50 {fmt(r['tick_p50_ms'])} ms, "
            f"p95 {fmt(r['tick_p95_ms'])} ms)"
        )
        print(
            f"input-to-drawn: p50 {fmt(r['input_to_drawn_p50_ms'])} ms, p95 "
            f"{fmt(r['input_to_drawn_p95_ms'])} ms ({r['latency_samples']} key presses)"
        )
        print(f"p2p rtt (engine): {r['p2p_rtt_ms']} ms; frames {r['frames']}")
        print(f"server parity: {json.dumps(r['parity'])}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--latency",
        type=lambda s: [float(x) for x in s.split(",")],
        default=[0.0, 100.0],
        help="comma-separated ms added to each page (default 0,100)",
    )
    parser.add_argument("--episodes", type=int, default=2)
    parser.add_argument("--steps", type=int, default=450)
    args = parser.parse_args(argv)
    report(run(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
