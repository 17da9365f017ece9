"""Server-mode benchmark: latency in Chromium, and how many 30 fps games one core sustains.

Run it from the repository root (the client must be built: ``make setup``)::

    .venv/bin/python tests/bench/bench_server_games.py [--seconds S] [--max-games N] [--no-browser]

or inside a loopback-only namespace as the tests do
(``unshare -n sh -c 'ip link set lo up && .venv/bin/python tests/bench/bench_server_games.py'``).

It prints:

- input-to-drawn p50/p95 in server mode on loopback: ``examples/gym_cartpole_server.py`` hosted
  by ``igym run``, played in Chromium with scripted arrow keys; key event on the page -> the
  server samples it at a tick, steps CartPole, renders and JPEG-encodes the frame -> the page
  decodes and draws it (the ``latency_p50_ms``/``latency_p95_ms`` the server stores per
  episode, from each frame's ``t.drawn - t.key``, both on the page's clock), plus frames/s;
- capacity on ONE core (this process pinned to one CPU, threads included): ``N`` concurrent
  30 fps games of Gymnasium CartPole-v1 (rgb_array, JPEG 600x400) and of cogrid's
  Overcooked-CrampedRoom-V0 (rgb_array, JPEG), each with a simulated page (keys every 100 ms,
  every frame reported drawn at once, messages JSON-encoded as for a websocket), real store
  writes; for N = 1, 2, 4, ...: frames/s per game, CPU per game (ms of CPU per game-second and
  % of the core), and late ticks (a tick that ran more than one frame period, 33 ms, after its
  due time). The largest N with no late tick is what one core sustains. (CartPole's episodes
  end when the pole falls; the next one starts at once, so ticks/s includes the resets.)

Numbers are printed, never asserted; tests/e2e/test_server_bench.py smoke-tests the script.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from igym_core.config import GameScene  # noqa: E402
from igym_core.plugins import PluginManager  # noqa: E402
from igym_core.server.authoritative.protocol import ServerFrame  # noqa: E402
from igym_core.server.authoritative.service import ServerGames  # noqa: E402
from igym_core.server.games import GameService  # noqa: E402
from igym_core.server.packages import Bundles  # noqa: E402
from igym_core.server.protocol import encode  # noqa: E402
from igym_core.storage.store import Store  # noqa: E402

ENVS = {
    "cartpole": "gym_cartpole_server",
    "cogrid": "cogrid_overcooked_human_ai",
}


def _example(name: str):
    from igym_core.experiment import load_experiment, plugins_for

    experiment = load_experiment(ROOT / "examples" / f"{name}.py")
    return experiment, plugins_for(experiment, PluginManager())


# -- capacity on one core -----------------------------------------------------------------------


async def _run_games(env: str, games: int, seconds: float, folder: Path) -> dict:
    experiment, plugins = _example(ENVS[env])
    base = next(s for s in experiment.scenes if isinstance(s, GameScene))
    fps = 30
    scene = _bench_scene(base, fps, seconds)
    store = Store(folder / f"{env}-{games}.sqlite3", experiment.id)
    service = GameService(store, plugins, Bundles(), experiment.id)
    bytes_sent = [0]
    service_games: list = []

    def send(participant_id: str, message: object) -> None:
        bytes_sent[0] += len(encode(message))
        if isinstance(message, ServerFrame):  # the simulated page draws every frame at once
            game = servers.games[message.match_id]
            now = time.monotonic() * 1000
            first = drawn_upto.get(message.match_id, 0)
            drawn_upto[message.match_id] = message.frames
            game.drawn(
                participant_id,
                message.episode,
                [[f, now] for f in range(first, message.frames)],
                now,
            )

    drawn_upto: dict[str, int] = {}
    servers = ServerGames(experiment, store, plugins, send, service.play_description, threads=8)
    human = base.human_agent
    for i in range(games):
        store.create_participant(f"p{i}", "x", {}, time.time())
        game = servers.start(f"g{i}", scene, {f"p{i}": human})
        service_games.append(game)
        game.ready(f"p{i}", time.monotonic() * 1000)

    async def keys(game, pid: str) -> None:
        action = 0
        while game.ended is None:
            now = time.monotonic() * 1000
            action = 1 - action if env == "cartpole" else (action + 1) % 5
            game.input(pid, "down", action, now, None, now)
            await asyncio.sleep(0.05)
            game.input(pid, "up", action, None, None, time.monotonic() * 1000)
            await asyncio.sleep(0.05)

    drivers = [asyncio.ensure_future(keys(g, f"p{i}")) for i, g in enumerate(service_games)]
    cpu0, wall0 = time.process_time(), time.monotonic()
    await asyncio.sleep(seconds)
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    late = ticks = frames = 0
    steps: list[float] = []
    for game in service_games:
        late += game.totals["late"]
        ticks += game.totals["ticks"]
        frames += game.totals["frames"]
        steps.extend(game.tick_ms)
    for game in service_games:
        game.stop("bench over")
    for task in drivers:
        task.cancel()
    await asyncio.gather(*(g.task for g in service_games), *drivers, return_exceptions=True)
    servers.close()
    store.close()
    return {
        "games": games,
        "ticks_per_s": ticks / wall / games,
        "frames_per_s": frames / wall / games,
        "late": late,
        "ticks": ticks,
        "cpu_ms_per_game_s": cpu * 1000 / (wall * games),
        "core_pct_per_game": 100 * cpu / (wall * games),
        "core_pct": 100 * cpu / wall,
        "step_p50": statistics.median(steps) if steps else 0.0,
        "step_p95": sorted(steps)[int(0.95 * (len(steps) - 1))] if steps else 0.0,
        "kib_per_s": bytes_sent[0] / 1024 / wall / games,
    }


def _bench_scene(base: GameScene, fps: int, seconds: float) -> GameScene:
    import attrs

    return attrs.evolve(
        base,
        id=f"{base.id}_bench",
        episodes=1000,
        max_steps=max(1, int(fps * seconds * 2)),
        fps=fps,
        countdown_s=0,
    )


def capacity(env: str, seconds: float, max_games: int) -> None:
    cpus = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpus[0]})  # one core for everything this process does
    sustained = 0
    ramp = [n for n in (1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 20, 24, 32, 48, 64, 96) if n <= max_games]
    with tempfile.TemporaryDirectory(prefix="igym-bench-") as folder:
        for games in ramp:
            r = asyncio.run(_run_games(env, games, seconds, Path(folder)))
            print(
                f"  {env:8s} {r['games']:3d} games: {r['ticks_per_s']:5.1f} ticks/s, "
                f"{r['frames_per_s']:5.1f} frames/s per game, "
                f"CPU {r['cpu_ms_per_game_s']:6.1f} ms per game-second "
                f"({r['core_pct_per_game']:4.1f}% of the core each, {r['core_pct']:5.1f}% in all), "
                f"tick work p50 {r['step_p50']:.2f} / p95 {r['step_p95']:.2f} ms, "
                f"{r['kib_per_s']:.0f} KiB/s sent per game, late ticks {r['late']}/{r['ticks']}",
                flush=True,
            )
            if r["late"] > 0:
                break
            sustained = games
    os.sched_setaffinity(0, set(cpus))
    print(f"  {env}: one core sustains {sustained} concurrent 30 fps games without a late tick")


# -- latency in the browser ---------------------------------------------------------------------


def browser_latency(seconds: float, episodes: int = 8) -> None:
    import csv
    import subprocess

    from tests.e2e.conftest import IgymServer, igym_command
    from tests.e2e.helpers import benchmark_browser

    with tempfile.TemporaryDirectory(prefix="igym-bench-") as folder:
        tmp = Path(folder)
        path = tmp / "pole.py"
        path.write_text(
            "import attrs\n"
            "from igym_core.config import GameScene\n"
            "from igym_core.experiment import load_experiment\n"
            f"_base = load_experiment({str(ROOT / 'examples' / 'gym_cartpole_server.py')!r})\n"
            "experiment = attrs.evolve(_base, scenes=[attrs.evolve(s, "
            f"episodes={episodes}, max_steps={int(30 * seconds)}, countdown_s=1) "
            "if isinstance(s, GameScene) else s for s in _base.scenes])\n"
        )
        server = IgymServer(path, tmp / "data", tmp / "server.log").start()
        try:
            with benchmark_browser() as browser:
                page = browser.new_page()
                page.goto(server.url("/?PROLIFIC_PID=bench-pole"))
                page.click("#scene button.continue")
                page.wait_for_function(
                    "() => document.body.dataset.game === 'playing'", timeout=60_000
                )
                key = "ArrowLeft"
                played = 0.0
                phase = "playing"
                while phase in ("playing", "countdown"):
                    if phase == "countdown":
                        time.sleep(0.02)
                    else:
                        started = time.monotonic()
                        key = "ArrowRight" if key == "ArrowLeft" else "ArrowLeft"
                        page.keyboard.down(key)
                        time.sleep(0.05)
                        page.keyboard.up(key)
                        time.sleep(0.03)
                        played += time.monotonic() - started
                    phase = page.evaluate("() => document.body.dataset.game")
                state = page.evaluate("() => window.igym.game")
                page.wait_for_selector('#scene[data-scene-id="survey"]', timeout=30_000)
        finally:
            server.stop()
        out = tmp / "export"
        subprocess.run(
            [
                *igym_command(),
                "export",
                str(path),
                "--data-dir",
                str(tmp / "data"),
                "--out",
                str(out),
            ],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        with (out / "csv" / "frames.csv").open() as f:
            rows = [r for r in csv.DictReader(f) if r["scene_id"] == "cartpole"]
        gaps = sorted(
            float(r["t.drawn"]) - float(r["t.key"]) for r in rows if r["t.key"] and r["t.drawn"]
        )
        p95 = gaps[min(len(gaps) - 1, int(0.95 * len(gaps)))] if gaps else float("nan")
        print(
            "  server-mode CartPole in Chromium, input-to-drawn (key event -> server tick -> "
            f"step + render + JPEG -> decoded, drawn): p50 {statistics.median(gaps):.1f} ms, "
            f"p95 {p95:.1f} ms over {len(gaps)} key presses in {episodes} episodes; "
            f"{len(rows)} frames in {played:.1f} s of play "
            f"({len(rows) / max(played, 1e-9):.1f} frames/s); page decode p50 "
            f"{statistics.median(state['samples']['decode_ms']):.2f} ms; "
            f"{state['image_bytes'] / max(1, state['images_received']) / 1024:.1f} KiB per frame"
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=6.0, help="per capacity step (default 6)")
    parser.add_argument("--max-games", type=int, default=64, help="capacity ramp limit")
    parser.add_argument("--latency-seconds", type=float, default=10.0)
    parser.add_argument("--no-browser", action="store_true", help="skip the Chromium part")
    parser.add_argument("--envs", nargs="+", default=list(ENVS), choices=list(ENVS))
    args = parser.parse_args(argv)
    if not args.no_browser:
        print("latency (loopback, Chromium):")
        browser_latency(args.latency_seconds)
    print("capacity (30 fps games, one core):")
    for env in args.envs:
        capacity(env, args.seconds, args.max_games)
    return 0


if __name__ == "__main__":
    sys.exit(main())
