"""``igym simulate``: play many full matches between rollback peers over a simulated network.

Every match runs each peer's own game, rollback session and clock, connected only through a
deterministic simulated network. Unless fixed by options, every match draws its own conditions
from the seed: per-direction latency, jitter, loss, duplication, reordering, junk packets,
outages, input delays, clock drift, focus-loss periods and short freezes, a peer offline for
seconds (the game pauses for everyone and resumes) and a page reload (the peer rebuilds the
episode from its uploaded records and rejoins); simulated players press random keys or follow
the environment's scripted policy. Prints one summary line; exits 1 if any
match lost parity (canonical logs not byte-identical, a hash mismatch, a missing frame, or a
match that never finished).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

from igym_core.commands import CommandError
from igym_core.commands.check_env import EnvTarget, resolve_env
from igym_core.runtime.host import SeatPlan
from igym_core.runtime.record import validation_export
from igym_core.runtime.simmatch import (
    MatchResult,
    NetworkRanges,
    random_setup,
    run_match,
    summarize,
)

DEFAULT_ENV = "cramped_room"
DEFAULT_ENV_3 = "three_chefs"


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "simulate",
        help="play many rollback matches over a simulated network and check their parity",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--matches", type=int, default=1000, help="matches to play (1000)")
    parser.add_argument("--peers", type=int, default=2, help="human peers per match (2)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first match (0)")
    parser.add_argument(
        "--env",
        default=None,
        help=f"environment NAME or MODULE:FACTORY (default {DEFAULT_ENV}; "
        f"{DEFAULT_ENV_3} with --peers 3)",
    )
    parser.add_argument("--frames", type=int, default=450, help="frames per episode (450)")
    parser.add_argument("--fps", type=float, default=30.0, help="frames per second (30)")
    parser.add_argument("--jobs", type=int, default=0, help="worker processes (default: CPUs)")
    net = parser.add_argument_group("network (each fixes a value that is otherwise drawn)")
    net.add_argument("--latency", type=float, help="one-way latency, ms (drawn 0..150)")
    net.add_argument("--jitter", type=float, help="jitter, +/- ms (drawn 0..30)")
    net.add_argument("--loss", type=float, help="loss probability (drawn 0..0.15)")
    net.add_argument("--duplicate", type=float, help="duplication probability (drawn 0..0.05)")
    net.add_argument("--reorder", type=float, help="reordering probability (drawn 0..0.1)")
    net.add_argument("--junk", type=float, help="junk-packet probability (drawn 0..0.02)")
    net.add_argument(
        "--outages", type=float, help="chance of a 0.1-1.5 s outage per direction (0.2)"
    )
    net.add_argument(
        "--offline",
        type=float,
        help="chance that one peer goes offline for 1-3 s, long enough to pause (0.15)",
    )
    net.add_argument(
        "--reloads",
        type=float,
        help="chance that one peer reloads its page mid-episode and rebuilds it (0.1)",
    )
    net.add_argument("--input-delay", type=int, help="input delay, frames (drawn 0..3)")
    net.add_argument("--max-prediction", type=int, default=8, help="prediction window (8)")
    net.add_argument("--hash-interval", type=int, default=30, help="frames between hashes (30)")
    net.add_argument(
        "--inputs",
        choices=("mixed", "random", "scripted"),
        default="mixed",
        help="simulated players: random keys, the scripted policy, or a mix (default)",
    )
    net.add_argument(
        "--no-focus-loss", action="store_true", help="no focus-loss periods or freezes"
    )
    parser.add_argument("--report", type=Path, help="write failing matches here as JSON")
    parser.set_defaults(handler=handle)


def _ranges(args: argparse.Namespace) -> NetworkRanges:
    r = NetworkRanges()
    fixed: dict[str, Any] = {}
    for option, name in (
        ("latency", "latency_ms"),
        ("jitter", "jitter_ms"),
        ("loss", "loss"),
        ("duplicate", "duplicate"),
        ("reorder", "reorder"),
        ("junk", "corrupt"),
    ):
        value = getattr(args, option)
        if value is not None:
            fixed[name] = (value, value)
    if args.outages is not None:
        fixed["outage_chance"] = args.outages
    if args.offline is not None:
        fixed["offline_chance"] = args.offline
    if args.reloads is not None:
        fixed["reload_chance"] = args.reloads
    if args.input_delay is not None:
        fixed["input_delay"] = (args.input_delay, args.input_delay)
    if args.inputs == "random":
        fixed["scripted_share"] = 0.0
    elif args.inputs == "scripted":
        fixed["scripted_share"] = 1.0
    if args.no_focus_loss:
        fixed["focus_loss_chance"] = 0.0
        fixed["freeze_chance"] = 0.0
    try:
        return replace(r, **fixed)
    except ValueError as exc:
        raise CommandError(str(exc)) from None


def _check_args(args: argparse.Namespace) -> None:
    if args.matches < 1:
        raise CommandError("--matches must be at least 1")
    if args.peers < 2:
        raise CommandError("--peers must be at least 2")
    if args.frames < 1 or args.fps <= 0:
        raise CommandError("--frames and --fps must be positive")
    for name in ("loss", "duplicate", "reorder", "junk", "outages", "offline", "reloads"):
        value = getattr(args, name)
        if value is not None and not 0.0 <= value <= 1.0:
            raise CommandError(f"--{name} must be within 0..1")
    for name in ("latency", "jitter"):
        value = getattr(args, name)
        if value is not None and value < 0:
            raise CommandError(f"--{name} must be >= 0")


def _plan(env: EnvTarget, peers: int, frames: int) -> tuple[SeatPlan, int]:
    probe = env.make_game(0, max_steps=frames)
    agents = len(probe.agent_ids)
    if agents < peers:
        raise CommandError(
            f"environment {env.name!r} has {agents} agents; --peers {peers} needs one seat per peer"
        )
    plan = SeatPlan.one_seat_each(peers, agents)
    if plan.ai_seats and env.scripted is None:
        raise CommandError(
            f"environment {env.name!r} has {agents} agents and no policy for the "
            f"{agents - peers} AI seat(s)"
        )
    return plan, agents


def play_batch(
    env_name: str, peers: int, seeds: Sequence[int], options: dict[str, Any]
) -> list[MatchResult]:
    """Play the matches ``seeds`` (one match per seed) in this process; results keep no logs."""
    env = resolve_env(env_name)
    seats, _ = _plan(env, peers, options["frames"])
    return [play_one(env, seats, peers, seed, options, keep_logs=False) for seed in seeds]


def play_one(
    env: EnvTarget,
    seats: SeatPlan,
    peers: int,
    seed: int,
    options: dict[str, Any],
    keep_logs: bool,
) -> MatchResult:
    """Play the match of ``seed`` (its conditions are drawn from the seed)."""
    frames = options["frames"]
    ranges: NetworkRanges = options["ranges"]
    setup = random_setup(
        seed,
        peers,
        ranges,
        max_frames=frames,
        frame_ms=1000.0 / options["fps"],
        scripted_available=env.scripted is not None,
        max_prediction=options["max_prediction"],
        hash_interval=options["hash_interval"],
        action_count=env.action_count,
        default_action=env.default_action,
    )
    return run_match(
        setup,
        lambda game_seed: env.make_game(game_seed, max_steps=frames),
        seats,
        ai_policy=env.scripted,
        scripted_policy=env.scripted,
        keep_logs=keep_logs,
    )


def handle(args: argparse.Namespace) -> int:
    _check_args(args)
    env_name = args.env or (DEFAULT_ENV_3 if args.peers == 3 else DEFAULT_ENV)
    env = resolve_env(env_name)
    _plan(env, args.peers, args.frames)
    options = {
        "frames": args.frames,
        "fps": args.fps,
        "ranges": _ranges(args),
        "max_prediction": args.max_prediction,
        "hash_interval": args.hash_interval,
    }
    seeds = list(range(args.seed, args.seed + args.matches))
    jobs = args.jobs or os.cpu_count() or 1
    jobs = max(1, min(jobs, len(seeds)))
    started = time.perf_counter()
    if jobs == 1:
        results = play_batch(env_name, args.peers, seeds, options)
    else:
        chunk = max(1, min(25, len(seeds) // (jobs * 4) or 1))
        batches = [seeds[i : i + chunk] for i in range(0, len(seeds), chunk)]
        results = []
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            futures = [
                pool.submit(play_batch, env_name, args.peers, batch, options) for batch in batches
            ]
            for future in futures:
                results.extend(future.result())
    elapsed = time.perf_counter() - started
    totals = summarize(results)
    per_minute = len(results) / elapsed * 60.0 if elapsed > 0 else float("inf")
    failed = [r for r in results if not r.parity]
    print(
        f"simulate {env.name} x{args.peers} peers: {totals['matches']} matches, "
        f"{totals['parity']} with identical canonical logs and hashes, "
        f"{totals['desyncs']} desyncs, {totals['rollbacks']} rollbacks "
        f"(max depth {totals['max_rollback_depth']}, {totals['frames_replayed']} frames "
        f"replayed), {totals['stalls']} stalls, {totals['pauses']} pauses, "
        f"{totals['reloads']} reloads rebuilt, {totals['timeouts']} timeouts; "
        f"{per_minute:.0f} matches/min on {jobs} process(es)"
    )
    if failed:
        seeds_failed = ", ".join(str(r.setup.seed) for r in failed[:20])
        print(f"parity lost in {len(failed)} match(es); seeds: {seeds_failed}", file=sys.stderr)
    if args.report is not None:
        validation = None
        if failed:  # replay the first failing match with its logs for the validation export
            seats, _ = _plan(env, args.peers, args.frames)
            again = play_one(env, seats, args.peers, failed[0].setup.seed, options, True)
            validation = {"seed": failed[0].setup.seed, **validation_export(again.logs)}
        args.report.write_text(
            json.dumps(
                {
                    "env": env.name,
                    "peers": args.peers,
                    "summary": {
                        **totals,
                        "rollback_depths": {
                            str(k): v for k, v in totals["rollback_depths"].items()
                        },
                        "matches_per_minute": round(per_minute, 1),
                    },
                    "failed": [
                        {
                            **r.setup.describe(),
                            "first_difference": r.first_difference,
                            "frames": list(r.frames),
                            "desyncs": r.desyncs,
                            "timed_out": r.timed_out,
                            "rebuild_failed": r.rebuild_failed,
                        }
                        for r in failed
                    ],
                    "validation": validation,
                },
                indent=2,
            )
            + "\n"
        )
    return 1 if failed else 0
