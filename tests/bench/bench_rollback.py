"""Rollback benchmark: the cost of one deep rollback, and simulated full matches per minute.

Run it as a script from the repository root::

    .venv/bin/python tests/bench/bench_rollback.py [--env NAME] [--iterations N] [--matches M]

It prints:

- the rollback cost: restore a snapshot, then 8 x (step + snapshot), executed exactly as the game
  host executes the requests a depth-8 rollback produces (one snapshot in ``hash_interval`` also
  takes the state hash, as in play), as p50/p95 in microseconds;
- the same for a plain frame (step + snapshot), for scale;
- simulated full matches (``--frames``-frame episodes, 2 peers, varied network) per minute, by
  wall clock and by this process's CPU time (the CPU figure does not depend on other load).

Numbers are printed, never asserted; the test suite only smoke-tests that the script runs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Sequence

from igym_core.commands.check_env import EnvTarget, resolve_env
from igym_core.runtime.host import GameHost, SeatPlan
from igym_core.runtime.input_queue import PeerInput
from igym_core.runtime.rollback import (
    AdvanceFrame,
    LoadState,
    Request,
    RollbackSession,
    SaveState,
    SessionConfig,
    StateCell,
)
from igym_core.runtime.simmatch import random_setup, run_match, summarize

DEPTH = 8


class _NullTransport:
    def send(self, peer: int, data: bytes) -> None:
        pass

    def receive(self) -> list[tuple[int, bytes]]:
        return []


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _host(env: EnvTarget) -> GameHost:
    game = env.make_game(1, max_steps=10**6)
    n = len(game.agent_ids)
    seats = SeatPlan(tuple(range(n)))
    config = SessionConfig(
        num_peers=n,
        local_peer=0,
        seats_per_peer=(1,) * n,
        default_actions=((env.default_action,),) * n,
    )
    return GameHost(RollbackSession(config, _NullTransport()), game, seats)


def bench_rollback(env: EnvTarget, iterations: int) -> tuple[list[float], list[float]]:
    """Per-iteration seconds for a depth-8 rollback and for a plain frame."""
    host = _host(env)
    n = len(host.game.agent_ids)
    count = env.action_count
    cells = [StateCell() for _ in range(DEPTH + 2)]
    rollback_times: list[float] = []
    frame_times: list[float] = []
    frame = 0
    clock = time.perf_counter
    host.execute([SaveState(0, cells[0], True)])
    for i in range(iterations):
        # one live frame: step + snapshot
        inputs = tuple(PeerInput(((i * 3 + p) % count,), True) for p in range(n))
        plan: list[Request] = [
            AdvanceFrame(frame, inputs, False, False),
            SaveState(frame + 1, cells[(frame + 1) % len(cells)], (frame + 1) % 30 == 0),
        ]
        start = clock()
        host.execute(plan)
        frame_times.append(clock() - start)
        frame += 1
        if frame < DEPTH:
            continue
        # a rollback of DEPTH frames: restore + DEPTH x (step + snapshot)
        back = frame - DEPTH
        plan = [LoadState(back, cells[back % len(cells)])]
        for f in range(back, frame):
            changed = tuple(PeerInput(((f * 5 + p + i) % count,), True) for p in range(n))
            plan.append(AdvanceFrame(f, changed, True, False))
            plan.append(SaveState(f + 1, cells[(f + 1) % len(cells)], (f + 1) % 30 == 0))
        start = clock()
        host.execute(plan)
        rollback_times.append(clock() - start)
    return rollback_times, frame_times


def bench_matches(env: EnvTarget, matches: int, frames: int, seed: int) -> dict[str, float]:
    """Play ``matches`` full 2-peer matches in this process; rates by wall and CPU clock."""
    probe = env.make_game(0, max_steps=frames)
    seats = SeatPlan.one_seat_each(2, len(probe.agent_ids))
    results = []
    wall, cpu = time.perf_counter(), time.process_time()
    for s in range(seed, seed + matches):
        setup = random_setup(
            s,
            2,
            max_frames=frames,
            scripted_available=env.scripted is not None,
            action_count=env.action_count,
            default_action=env.default_action,
        )
        results.append(
            run_match(
                setup,
                lambda game_seed: env.make_game(game_seed, max_steps=frames),
                seats,
                ai_policy=env.scripted,
                scripted_policy=env.scripted,
                keep_logs=False,
            )
        )
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    totals = summarize(results)
    return {
        "matches": len(results),
        "parity": totals["parity"],
        "rollbacks": totals["rollbacks"],
        "max_depth": totals["max_rollback_depth"],
        "per_minute_wall": len(results) / wall * 60.0,
        "per_minute_cpu": len(results) / cpu * 60.0 if cpu else float("inf"),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", default="overcooked.cramped_room")
    parser.add_argument("--iterations", type=int, default=3000)
    parser.add_argument("--matches", type=int, default=30)
    parser.add_argument("--frames", type=int, default=450)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        env = resolve_env(args.env)
    except Exception as exc:  # no env pack installed: fall back to the toy game
        print(f"({args.env} unavailable: {exc}; using the coin-grid toy game)")
        env = resolve_env("igym_core.runtime.toygame:make")
    rollback, frame = bench_rollback(env, args.iterations)
    us = 1e6
    print(
        f"{env.name}: rollback (restore + {DEPTH} steps + {DEPTH} snapshots) "
        f"p50 {_percentile(rollback, 0.5) * us:.0f} us, p95 {_percentile(rollback, 0.95) * us:.0f} "
        f"us, mean {statistics.fmean(rollback) * us:.0f} us over {len(rollback)} rollbacks"
    )
    print(
        f"{env.name}: frame (step + snapshot) p50 {_percentile(frame, 0.5) * us:.1f} us, "
        f"p95 {_percentile(frame, 0.95) * us:.1f} us"
    )
    if args.matches > 0:
        m = bench_matches(env, args.matches, args.frames, args.seed)
        print(
            f"{env.name}: {m['matches']} simulated {args.frames}-frame 2-peer matches, "
            f"{m['parity']} with parity, {m['rollbacks']} rollbacks (max depth {m['max_depth']}): "
            f"{m['per_minute_wall']:.0f} matches/min wall, {m['per_minute_cpu']:.0f} matches/min "
            "per CPU core"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
