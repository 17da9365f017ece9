"""Benchmark: igym_overcooked against cogrid 0.3.2 on the same machine, in the same process.

    .venv/bin/python tests/bench/bench_overcooked.py [--steps 20000] [--cogrid-steps 1500]

Prints steps per second of our ``step()`` (with observations), our ``advance()`` (what a
rollback replay runs), and cogrid's ``env.step()``, all on the same random action sequence of
the same layout, the ratio, and the cost of a snapshot + restore (``get_state`` then
``set_state``) and of a typical rollback (restore + 8 replayed steps) as p50/p95 in
microseconds. Numbers are printed, never asserted: wall-clock limits do not belong in tests.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from igym_overcooked import make
from igym_overcooked.layouts import COGRID_NAMES


def _actions(agents: list[Any], n: int, seed: int) -> list[dict[Any, int]]:
    rnd = random.Random(seed)
    return [{a: rnd.choice((0, 1, 2, 3, 4, 4, 5, 6)) for a in agents} for _ in range(n)]


def _rate(step: Callable[[Any], Any], script: list[Any]) -> float:
    start = time.perf_counter()
    for acts in script:
        step(acts)
    return len(script) / (time.perf_counter() - start)


def _percentiles(samples: list[float]) -> tuple[float, float]:
    samples = sorted(samples)
    p50 = statistics.median(samples)
    p95 = samples[min(len(samples) - 1, int(0.95 * len(samples)))]
    return p50, p95


def bench_ours(layout: str, steps: int, seed: int) -> dict[str, float]:
    env = make(layout, max_steps=10**9)
    env.reset(seed=seed)
    script = _actions(env.possible_agents, steps, seed)
    out = {"step": _rate(env.step, script)}
    env.reset(seed=seed)
    out["advance"] = _rate(env.advance, script)

    env.reset(seed=seed)
    snaps, rollbacks = [], []
    for i, acts in enumerate(script[: min(steps, 5000)]):
        env.advance(acts)
        t0 = time.perf_counter()
        saved = env.get_state()
        env.set_state(saved)
        snaps.append((time.perf_counter() - t0) * 1e6)
        if i % 10 == 0 and i >= 8:
            t0 = time.perf_counter()
            env.set_state(saved)
            for replay in script[i - 8 : i]:
                env.advance(replay)
            rollbacks.append((time.perf_counter() - t0) * 1e6)
            env.set_state(saved)
    out["snap_p50"], out["snap_p95"] = _percentiles(snaps)
    out["rollback8_p50"], out["rollback8_p95"] = _percentiles(rollbacks)
    return out


def bench_cogrid(layout: str, steps: int, seed: int) -> float | None:
    try:
        import cogrid.envs  # noqa: F401
        from cogrid.envs import registry
    except ImportError:
        return None
    env = registry.make(COGRID_NAMES[layout])
    env.max_steps = 10**9
    env.reset(seed=seed)
    script = _actions(env.possible_agents, steps, seed)
    env.step(script[0])  # warm up lazily built tables
    return _rate(env.step, script)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--layout", default="cramped_room", choices=sorted(COGRID_NAMES))
    parser.add_argument("--steps", type=int, default=20000, help="steps of ours")
    parser.add_argument("--cogrid-steps", type=int, default=1500, help="steps of cogrid")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    ours = bench_ours(args.layout, args.steps, args.seed)
    theirs = bench_cogrid(args.layout, args.cogrid_steps, args.seed)
    print(f"layout {args.layout}, Python {sys.version.split()[0]}")
    print(f"  igym_overcooked step():    {ours['step']:10.0f} steps/s")
    print(f"  igym_overcooked advance(): {ours['advance']:10.0f} steps/s")
    if theirs is None:
        print("  cogrid: not installed (pip install 'igym-overcooked[test]')")
    else:
        print(f"  cogrid 0.3.2 env.step():   {theirs:10.0f} steps/s")
        print(f"  ratio step()/cogrid:       {ours['step'] / theirs:10.1f}x")
        print(f"  ratio advance()/cogrid:    {ours['advance'] / theirs:10.1f}x")
    print(
        f"  snapshot+restore:          p50 {ours['snap_p50']:.1f} us, p95 {ours['snap_p95']:.1f} us"
    )
    print(
        f"  rollback (restore + 8 steps): p50 {ours['rollback8_p50']:.1f} us, "
        f"p95 {ours['rollback8_p95']:.1f} us"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
