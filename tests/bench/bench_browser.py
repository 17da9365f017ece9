"""Browser benchmark: the Overcooked human-AI game in Chromium, with the game in a Pyodide worker.

Run it from the repository root (the client must be built: ``make setup``)::

    .venv/bin/python tests/bench/bench_browser.py [--boots N] [--episodes E] [--steps S]

or, to keep every packet on loopback as the tests do,
``unshare -n sh -c 'ip link set lo up && .venv/bin/python tests/bench/bench_browser.py'``.
``IGYM_CHROMIUM`` names the browser (default ``/usr/bin/chromium``).

It hosts a copy of ``examples/overcooked_human_ai.py`` with ``S``-step episodes, and prints:

- Pyodide ready time (worker start -> READY), cold (fresh browser profile: nothing cached) and
  warm (same profile, next participant), and the game load after it (packages zip + import);
- env step p50/p95 inside the worker: the one Python call per tick (AI partner + step + render
  + JSON), timed in the worker;
- main -> worker -> Python -> main round trip p50/p95, measured while the game plays;
- input-to-drawn p50/p95: key event -> sampled at a tick -> stepped -> drawn on the canvas,
  from the timestamps every frame record carries (scripted key presses);
- the worker clock: how late ticks ran, and the drift over each episode (last tick - first tick
  - (frames - 1) / fps);
- the main-thread 500 ms heartbeat's worst lateness while Pyodide boots, also net of what a
  control heartbeat in another renderer process saw at the same moment (machine load).

Numbers are printed, never asserted; tests/e2e/test_game_bench.py only smoke-tests the script.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.e2e.conftest import IgymServer  # noqa: E402
from tests.e2e.helpers import benchmark_browser  # noqa: E402
from tests.e2e.test_game_overcooked import (  # noqa: E402
    KEYS,
    boot_heartbeat,
    game_phase,
    open_control,
    reach_game,
    short_copy,
    wait_for_phase,
)

ROUND_TRIPS = 200

#: Round trips from the page while the game plays: through Python (ping) and the bare hop (echo).
ROUND_TRIP_JS = """async (n) => {
  const py = window.igym.gameWorker;
  const out = { ping_us: [], echo_us: [] };
  for (let i = 0; i < n; i += 1) {
    let t0 = performance.now();
    await py.ping();
    out.ping_us.push((performance.now() - t0) * 1000);
    t0 = performance.now();
    await py.call({ cmd: "echo", value: i });
    out.echo_us.push((performance.now() - t0) * 1000);
  }
  return out;
}"""


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, int(q * len(ordered) + 0.5) - 1))]


def median(values: Sequence[float]) -> float:
    return percentile(values, 0.5)


def play_scene(page, rng: random.Random, round_trips: bool) -> dict:
    """Press keys until the game scene is over; measure round trips once during the first
    episode. Returns the round-trip samples (empty when not measured)."""
    samples: dict = {}
    while True:
        phase = game_phase(page)
        if phase not in ("loading", "countdown", "playing"):
            return samples
        if phase != "playing":
            time.sleep(0.05)
            continue
        if round_trips and not samples:
            samples = page.evaluate(ROUND_TRIP_JS, ROUND_TRIPS)
            continue
        key = rng.choice(KEYS)
        page.keyboard.down(key)
        time.sleep(rng.choice([0.03, 0.08, 0.15]))
        page.keyboard.up(key)
        time.sleep(rng.choice([0.02, 0.06, 0.12]))


def one_participant(context, server: IgymServer, n: int, play: bool) -> dict:
    control = open_control(context, server)
    page = context.new_page()
    reach_game(page, server.url(f"/?PROLIFIC_PID=bench-{n}-{time.time_ns()}"))
    wait_for_phase(page, ("countdown", "playing"), timeout_ms=180_000)
    result = {"heartbeat": boot_heartbeat(page, control)}
    control.close()
    state = page.evaluate("() => window.igym.game")
    result["ready_ms"] = state["boot"]["ready_ms"]
    result["load_ms"] = state["load"]["load_ms"]
    if play:
        result["round_trips"] = play_scene(page, random.Random(n), round_trips=True)
        state = page.evaluate("() => window.igym.game")
        result["samples"] = state["samples"]
        result["summaries"] = state["summaries"]
        result["sockets"] = page.evaluate("() => window.__probe.sockets")
    page.close()
    return result


def run(args: argparse.Namespace) -> dict:
    if not (ROOT / "igym_core" / "static" / "build.json").is_file():
        raise SystemExit("the client is not built: run `make setup`")
    with benchmark_browser() as browser, tempfile.TemporaryDirectory(prefix="igym-bench-") as tmp:
        tmp_path = Path(tmp)
        experiment = short_copy(tmp_path, max_steps=args.steps, countdown_s=1)
        if args.episodes != 2:
            text = experiment.read_text().replace(
                f"max_steps={args.steps},", f"max_steps={args.steps}, episodes={args.episodes},"
            )
            experiment.write_text(text)
        server = IgymServer(
            experiment_file=experiment, data_dir=tmp_path / "data", log_path=tmp_path / "log"
        ).start()
        try:
            cold, warm = [], []
            for boot in range(args.boots):
                # A fresh context is a fresh profile: nothing in the HTTP or code cache.
                context = browser.new_context(permissions=["camera", "microphone"])
                cold.append(one_participant(context, server, 2 * boot, play=False))
                warm.append(one_participant(context, server, 2 * boot + 1, play=boot == 0))
                context.close()
            version = browser.version
        finally:
            server.stop()
    played = warm[0]
    return {
        "browser": version,
        "episodes": args.episodes,
        "steps": args.steps,
        "cold": cold,
        "warm": warm,
        "played": played,
    }


def report(result: dict) -> None:
    cold, warm, played = result["cold"], result["warm"], result["played"]
    steps = played["samples"]["step_ms"]
    latency = played["samples"]["input_to_drawn_ms"]
    trips = played["round_trips"]
    heartbeat = [r["heartbeat"]["max_late_ms"] for r in cold + warm]
    excess = [r["heartbeat"]["max_excess_ms"] for r in cold + warm]
    control = [r["heartbeat"]["control_max_late_ms"] for r in cold + warm]
    print(
        f"browser benchmark: Chromium {result['browser']}, overcooked.cramped_room with the "
        f"scripted partner, {result['episodes']} episode(s) x {result['steps']} steps at 30 fps"
    )
    print(
        f"pyodide ready (worker start -> READY): cold median {median([r['ready_ms'] for r in cold]):.0f}"
        f" ms, warm median {median([r['ready_ms'] for r in warm]):.0f} ms"
        f"  ({len(cold)} boots each)"
    )
    print(
        f"game load after READY (packages zip + unpack + import): cold median "
        f"{median([r['load_ms'] for r in cold]):.0f} ms, warm median "
        f"{median([r['load_ms'] for r in warm]):.0f} ms"
    )
    print(
        f"env step in the worker (one Python call per tick): p50 {median(steps):.2f} ms, "
        f"p95 {percentile(steps, 0.95):.2f} ms  ({len(steps)} ticks)"
    )
    print(
        f"main -> worker -> Python -> main round trip during play: p50 "
        f"{median(trips['ping_us']):.0f} us, p95 {percentile(trips['ping_us'], 0.95):.0f} us; "
        f"main -> worker -> main (no Python) p50 {median(trips['echo_us']):.0f} us  "
        f"({len(trips['ping_us'])} calls)"
    )
    print(
        f"input-to-drawn: p50 {median(latency):.1f} ms, p95 {percentile(latency, 0.95):.1f} ms, "
        f"max {max(latency, default=float('nan')):.1f} ms  ({len(latency)} key presses; "
        f"one tick is {1000 / 30:.1f} ms, one animation frame ~16.7 ms)"
    )
    late = played["samples"]["tick_late_ms"]
    drift = [s["clock_drift_ms"] for s in played["summaries"]]
    print(
        f"worker clock: tick lateness p50 {median(late):.2f} ms, p95 {percentile(late, 0.95):.2f}"
        f" ms; drift over each episode {', '.join(f'{d:+.1f}' for d in drift)} ms"
    )
    print(
        f"main-thread 500 ms heartbeat while Pyodide boots: worst {max(heartbeat):.1f} ms late, "
        f"median of the per-boot worst {median(heartbeat):.1f} ms  ({len(heartbeat)} boots); "
        f"beyond a control heartbeat in another process: worst {max(excess):.1f} ms "
        f"(the control itself: worst {max(control):.1f} ms late)"
    )
    print(f"websocket: {played['sockets']}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--boots", type=int, default=3, help="cold+warm boots (default 3)")
    parser.add_argument("--episodes", type=int, default=2, help="episodes played (default 2)")
    parser.add_argument("--steps", type=int, default=300, help="steps per episode (default 300)")
    parser.add_argument("--json", type=Path, help="also write the raw figures here")
    args = parser.parse_args(argv)
    result = run(args)
    report(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
