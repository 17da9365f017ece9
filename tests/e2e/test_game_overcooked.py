"""The Overcooked human-AI demo, played in Chromium with scripted key presses.

The game runs in Python inside the page's Web Worker; these tests check what a researcher relies
on: both episodes complete, the export has exactly ``max_steps`` rows per episode, the recorded
human actions replay in CPython to the recorded rewards, the main thread stays responsive while
Pyodide boots, the websocket never drops, and the browser talks to 127.0.0.1 only (the
``context`` fixture checks that after every test).
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import pytest

from igym_core.config import GameScene
from igym_core.experiment import load_experiment
from igym_core.runtime.play import replay
from igym_core.server.app import create_app
from igym_core.settings import Settings
from tests.e2e.conftest import ROOT, IgymServer
from tests.e2e.helpers import export_csv

pytestmark = pytest.mark.e2e

EXAMPLE = ROOT / "examples" / "overcooked_human_ai.py"
BOOT_TIMEOUT_MS = 120_000
#: SPEC §2 / issue 4: a 500 ms main-thread heartbeat is never late by more than 50 ms while
#: Pyodide boots.
HEARTBEAT_PERIOD_MS = 500
MAX_HEARTBEAT_LATE_MS = 50

#: Installed before the page's own scripts: a drift-free 500 ms heartbeat that notes how late
#: each beat fires, websocket open/close counts, and whether bound keys were kept from scrolling.
PAGE_PROBES = """
(() => {
  const probe = { beats: [], sockets: { opened: 0, closed: 0 }, keys: { seen: 0, prevented: 0 } };
  const start = performance.now();
  let n = 1;
  const beat = () => {
    const due = start + n * PERIOD;
    setTimeout(() => {
      const at = performance.now();
      probe.beats.push({ due, at: performance.timeOrigin + at, late: Math.max(0, at - due) });
      n += 1;
      beat();
    }, Math.max(0, due - performance.now()));
  };
  beat();
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("open", () => { probe.sockets.opened += 1; });
      this.addEventListener("close", () => { probe.sockets.closed += 1; });
    }
  };
  window.addEventListener("keydown", (event) => {
    // only keys pressed while the game plays (one pressed as the game ends reaches the survey)
    if (document.body?.dataset.game !== "playing") return;
    setTimeout(() => {
      probe.keys.seen += 1;
      if (event.defaultPrevented) probe.keys.prevented += 1;
    }, 0);
  }, true);
  window.__probe = probe;
})();
""".replace("PERIOD", str(HEARTBEAT_PERIOD_MS))

#: The control: a 50 ms heartbeat in a page of another site (localhost, not 127.0.0.1), which
#: Chromium runs in another renderer process. A beat late on both pages at the same moment was
#: held up by the machine (other processes on a busy CPU), not by the page under test.
CONTROL_PROBE = """() => {
  const control = { beats: [] };
  const start = performance.now();
  let n = 1;
  const beat = () => {
    const due = start + n * 50;
    setTimeout(() => {
      const at = performance.now();
      control.beats.push({ at: performance.timeOrigin + at, late: Math.max(0, at - due) });
      n += 1;
      beat();
    }, Math.max(0, due - performance.now()));
  };
  beat();
  window.__control = control;
}"""

KEYS = ["ArrowUp", "ArrowDown", "ArrowLeft", "ArrowRight", " "]


def short_copy(tmp_path: Path, max_steps: int, countdown_s: int = 1) -> Path:
    """The example with shorter episodes (same kitchen, partner, seeds and scenes)."""
    path = tmp_path / f"overcooked_{max_steps}.py"
    path.write_text(
        "import attrs\n"
        "from igym_core.config import GameScene\n"
        "from igym_core.experiment import load_experiment\n"
        f"_base = load_experiment({str(EXAMPLE)!r})\n"
        "experiment = attrs.evolve(_base, scenes=[\n"
        f"    attrs.evolve(s, max_steps={max_steps}, countdown_s={countdown_s})\n"
        "    if isinstance(s, GameScene) else s for s in _base.scenes])\n"
    )
    return path


def game_phase(page) -> str | None:
    return page.evaluate("() => document.body.dataset.game ?? null")


def reach_game(page, url: str) -> None:
    page.add_init_script(PAGE_PROBES)
    page.goto(url)
    page.wait_for_selector('#scene[data-scene-id="consent"]')
    page.check('input[name="consent"]')
    page.click("#scene button.continue")
    page.wait_for_selector('#scene[data-scene-id="instructions"]')
    page.click("#scene button.continue")
    page.wait_for_selector('#scene[data-scene-id="cooking"]')


def wait_for_phase(page, phases: tuple[str, ...], timeout_ms: int = BOOT_TIMEOUT_MS) -> str:
    page.wait_for_function(
        "(phases) => phases.includes(document.body.dataset.game) || "
        "document.body.dataset.game === 'error'",
        arg=list(phases),
        timeout=timeout_ms,
    )
    phase = game_phase(page)
    if phase == "error":
        pytest.fail(f"the game failed: {page.evaluate('() => window.igym.game.error')}")
    return phase


def play(page, rng: random.Random, until=lambda state: False) -> None:
    """Press keys like a (restless) participant while the game is on: hold an arrow for a
    moment, tap space now and then, sometimes pause."""
    while True:
        phase = game_phase(page)
        if phase not in ("loading", "countdown", "playing"):
            return
        if phase != "playing":
            time.sleep(0.05)
            continue
        if until(page.evaluate("() => window.igym.game")):
            return
        key = rng.choice(KEYS)
        page.keyboard.down(key)
        time.sleep(rng.choice([0.02, 0.06, 0.15, 0.3]))
        page.keyboard.up(key)
        time.sleep(rng.choice([0.0, 0.03, 0.1]))


def play_short_game_until(
    igym_server, page, tmp_path: Path, max_steps: int, participant: str, seed: int, frames: int
) -> tuple[Path, IgymServer]:
    """Host a copy of the example with ``max_steps``-step episodes, take ``participant`` into the
    game and play (keys from ``random.Random(seed)``) until the page has ``frames`` frames.
    Returns the experiment file and the server."""
    path = short_copy(tmp_path, max_steps=max_steps)
    server = igym_server(path)
    reach_game(page, server.url(f"/?PROLIFIC_PID={participant}"))
    wait_for_phase(page, ("playing",))
    play(page, random.Random(seed), until=lambda s: s["frames_received"] >= frames)
    return path, server


def finish_survey(page) -> str:
    page.wait_for_selector('#scene[data-scene-id="survey"]', timeout=60_000)
    page.check('input[name="partner_helpful"][value="Agree"]')
    page.check('input[name="lag"][value="No"]')
    page.click("#scene button.continue")
    page.wait_for_selector('#scene[data-scene-id="end"]')
    return page.locator("#completion-code").inner_text()


def scene_description(experiment_file: Path, participant_id: str, tmp_path: Path) -> dict:
    """What the server told the page to play (the same describe() the page received)."""
    experiment = load_experiment(experiment_file)
    app = create_app(experiment, Settings(data_dir=tmp_path / "describe"))
    scene = next(s for s in experiment.scenes if isinstance(s, GameScene))
    return app.extensions["igym"].games.describe(scene, participant_id)


def open_control(context, server):
    """A page on another site with a 50 ms heartbeat (see CONTROL_PROBE)."""
    control = context.new_page()
    control.goto(server.url("/healthz").replace("127.0.0.1", "localhost"))
    control.evaluate(CONTROL_PROBE)
    return control


def boot_heartbeat(page, control=None) -> dict:
    """Lateness of the heartbeat beats due while Python booted and the game loaded (+1 beat).

    With a control page, ``max_excess_ms`` is the worst lateness beyond what the control saw
    at the same moment (from the beat's due time until just after it fired)."""
    probe = page.evaluate("() => window.__probe")
    game = page.evaluate("() => window.igym.game")
    start = game["boot"]["started_at"]
    end = game["load"]["done_at"] + HEARTBEAT_PERIOD_MS
    during = [b for b in probe["beats"] if start <= b["due"] <= end]
    result = {
        "beats": len(during),
        "max_late_ms": round(max((b["late"] for b in during), default=0.0), 1),
        "boot_ms": round(game["load"]["done_at"] - start),
        "ready_ms": round(game["boot"]["ready_ms"]),
    }
    if control is not None:
        beats = control.evaluate("() => window.__control.beats")
        excess = []
        for b in during:
            due = b["at"] - b["late"]
            same_time = [c["late"] for c in beats if due <= c["at"] <= b["at"] + 50]
            excess.append(b["late"] - max(same_time, default=0.0))
        result["max_excess_ms"] = round(max(excess, default=0.0), 1)
        result["control_beats"] = len(beats)
        result["control_max_late_ms"] = round(max((c["late"] for c in beats), default=0.0), 1)
    return result


def check_replay(scene: dict, frames: list[dict], episodes: list[dict]) -> None:
    """Replaying the human's recorded actions in CPython gives the recorded rewards exactly
    (and the partner's recorded actions)."""
    agents = scene["env"]["agent_ids"]
    human = scene["human_agent"]
    for episode in episodes:
        rows = [r for r in frames if r["episode"] == episode["episode"]]
        rows.sort(key=lambda r: int(r["frame"]))
        seed = int(episode["seed"])
        assert seed == scene["seeds"][int(episode["episode"])]
        again = replay(scene, seed, [int(r[f"actions.{human}"]) for r in rows])
        assert len(again) == len(rows)
        for row, record in zip(rows, again, strict=True):
            for agent in agents:
                assert float(row[f"rewards.{agent}"]) == record["rewards"][agent], (row, record)
                assert int(row[f"actions.{agent}"]) == record["actions"][agent], (row, record)
            assert (row["terminated"], row["truncated"]) == (
                str(record["terminated"]),
                str(record["truncated"]),
            )


def check_timestamps(frames: list[dict]) -> None:
    """key event <= sampled at tick <= stepped <= drawn, on the page's clock."""
    for row in frames:
        tick, step = float(row["t.tick"]), float(row["t.step"])
        assert tick <= step, row
        if row["t.drawn"]:
            assert step <= float(row["t.drawn"]), row
        if row["t.key"]:
            assert float(row["t.key"]) <= tick, row


def test_demo_played_end_to_end(igym_server, page, requests_seen, tmp_path, record_property):
    """The real example: 2 episodes x 450 steps at 30 fps with the scripted partner.

    The boot heartbeat is measured and reported here; the next test asserts it, with a retry."""
    experiment = load_experiment(EXAMPLE)
    game = next(s for s in experiment.scenes if isinstance(s, GameScene))
    server = igym_server(EXAMPLE)
    participant = "e2e-cook-1"
    control = open_control(page.context, server)
    reach_game(page, server.url(f"/?PROLIFIC_PID={participant}&STUDY_ID=s&SESSION_ID=x"))
    wait_for_phase(page, ("countdown", "playing"))
    heartbeat = boot_heartbeat(page, control)  # reported; asserted (with a retry) below
    control.close()
    play(page, random.Random(4))
    code = finish_survey(page)
    assert code == experiment.scenes[-1].completion_code

    state = page.evaluate("() => window.igym.game")
    probe = page.evaluate("() => window.__probe")
    assert probe["sockets"] == {"opened": 1, "closed": 0}, "the websocket dropped"
    assert probe["keys"]["seen"] > 20 and probe["keys"]["prevented"] == probe["keys"]["seen"]
    assert page.evaluate("() => window.scrollY") == 0
    # Python, the game's packages and its sprites came from this server (the worker's requests
    # are recorded too; the context fixture fails the test if any went elsewhere).
    paths = requests_seen.paths()
    assert any(p.startswith("/static/pyodide/pyodide.asm.wasm") for p in paths), paths
    assert any(p.startswith("/packages/") and p.endswith(".zip") for p in paths), paths
    assert any(p.startswith("/assets/overcooked.cramped_room/") for p in paths), paths
    assert [s["frames"] for s in state["summaries"]] == [game.max_steps] * game.episodes
    assert not any(s["partial"] for s in state["summaries"])

    tables = export_csv(server, EXAMPLE, tmp_path)
    frames = [r for r in tables["frames"] if r["participant_id"] == participant]
    episodes = [r for r in tables["episodes"] if r["participant_id"] == participant]
    assert [(e["episode"], e["status"], e["frames"]) for e in episodes] == [
        (str(e), "complete", str(game.max_steps)) for e in range(game.episodes)
    ]
    for e in range(game.episodes):
        rows = [r for r in frames if r["episode"] == str(e)]
        assert sorted(int(r["frame"]) for r in rows) == list(range(game.max_steps))
        assert [r["truncated"] for r in rows].count("True") == 1
    # the human really played, and every frame was on screen while the page was visible
    human_actions = {r["actions.agent_0"] for r in frames}
    assert len(human_actions) >= 4, human_actions
    assert all(r["isFocused"] == "True" and r["t.drawn"] for r in frames)
    check_timestamps(frames)
    check_replay(scene_description(EXAMPLE, participant, tmp_path), frames, episodes)
    for e in episodes:
        assert float(e["summary.latency_p50_ms"]) > 0
        assert float(e["summary.latency_p95_ms"]) >= float(e["summary.latency_p50_ms"])

    figures = {
        "heartbeat_during_boot": heartbeat,
        "latency_p50_ms": [float(e["summary.latency_p50_ms"]) for e in episodes],
        "latency_p95_ms": [float(e["summary.latency_p95_ms"]) for e in episodes],
        "step_p50_ms": [float(e["summary.step_p50_ms"]) for e in episodes],
        "step_p95_ms": [float(e["summary.step_p95_ms"]) for e in episodes],
        "scores": [float(e["summary.score"]) for e in episodes],
    }
    for key, value in figures.items():
        record_property(key, value)
    print("demo figures:", json.dumps(figures))


def test_heartbeat_stays_on_time_while_pyodide_boots(
    igym_server, browser, page, requests_seen, tmp_path, record_property
):
    """The main thread keeps its 500 ms heartbeat within 50 ms from the start of the boot until
    the game is loaded.

    The machine that runs the suite may be busy with other work (two cores, other suites), so
    lateness is judged against a simultaneous control heartbeat in another renderer process:
    only the part of a beat's lateness that the control did not see at the same moment counts.
    Booting Python on the main thread would fail this by a second or more (TESTING.md). A failed
    attempt is measured once more in a fresh browser context."""
    server = igym_server(short_copy(tmp_path, max_steps=30))
    runs = []
    for attempt in range(2):
        if attempt == 0:
            current = page
        else:
            retry = browser.new_context(permissions=["camera", "microphone"])
            requests_seen.attach(retry)
            current = retry.new_page()
            requests_seen.attach_page(current)
        control = open_control(current.context, server)
        reach_game(current, server.url(f"/?PROLIFIC_PID=e2e-boot-{attempt}"))
        wait_for_phase(current, ("countdown", "playing"))
        hb = boot_heartbeat(current, control)
        probe = current.evaluate("() => window.__probe")
        assert probe["sockets"] == {"opened": 1, "closed": 0}, "the websocket dropped during boot"
        runs.append(hb)
        control.close()
        if attempt:
            current.context.close()
        if hb["max_excess_ms"] <= MAX_HEARTBEAT_LATE_MS:
            break
    record_property("boot_heartbeat", runs)
    print("boot heartbeat:", json.dumps(runs))
    assert runs[-1]["beats"] >= 2, runs
    assert runs[-1]["control_beats"] > 0, runs
    assert runs[-1]["max_excess_ms"] <= MAX_HEARTBEAT_LATE_MS, runs


def test_reload_mid_episode_keeps_frames_and_resumes(igym_server, page, tmp_path):
    """A reload in the middle of episode 0: every frame the page had is kept (the buffer goes
    out on pagehide), the page replays them in the worker and plays episode 0 on from the next
    frame, so both episodes are complete with every frame once. Frames played while the tab
    was hidden are recorded as not focused, with the default action."""
    max_steps = 150
    participant = "e2e-cook-reload"
    path, server = play_short_game_until(
        igym_server, page, tmp_path, max_steps, participant, seed=7, frames=40
    )
    # no waiting for the next chunk: what the page has when it unloads goes to the outbox
    received = page.evaluate("() => window.igym.game.frames_received")
    page.reload()
    page.wait_for_selector('#scene[data-scene-id="cooking"]')
    wait_for_phase(page, ("countdown", "playing"))
    assert page.evaluate("() => window.igym.game.first_episode") == 0
    resumed_at = page.evaluate("() => window.igym.game.resumed_at")
    assert resumed_at >= received >= 40, (resumed_at, received)
    wait_for_phase(page, ("playing",))
    page.wait_for_function("() => window.igym.game.frames_received >= 20")
    # the tab goes to the background for a while (a test hook: headless tabs stay visible)
    page.evaluate(
        """() => {
          Object.defineProperty(document, "visibilityState", {value: "hidden", configurable: true});
          document.dispatchEvent(new Event("visibilitychange"));
        }"""
    )
    page.keyboard.down("ArrowLeft")  # ignored while hidden
    time.sleep(0.5)
    page.keyboard.up("ArrowLeft")
    page.evaluate(
        """() => {
          delete document.visibilityState;
          document.dispatchEvent(new Event("visibilitychange"));
        }"""
    )
    play(page, random.Random(8))
    finish_survey(page)
    probe = page.evaluate("() => window.__probe")
    assert probe["sockets"]["closed"] == 0

    tables = export_csv(server, path, tmp_path)
    frames = [r for r in tables["frames"] if r["participant_id"] == participant]
    episodes = {r["episode"]: r for r in tables["episodes"] if r["participant_id"] == participant}
    first = [r for r in frames if r["episode"] == "0"]
    assert episodes["0"]["status"] == "complete" and episodes["0"]["partial"] == "False"
    assert sorted(int(r["frame"]) for r in first) == list(range(max_steps))
    assert int(episodes["0"]["summary.resumed_at"]) == resumed_at
    second = [r for r in frames if r["episode"] == "1"]
    assert episodes["1"]["status"] == "complete" and len(second) == max_steps
    # the tab was hidden while the resumed episode 0 went on
    after = [r for r in first if int(r["frame"]) >= resumed_at]
    hidden = [r for r in after if r["isFocused"] == "False"]
    assert len(hidden) >= 5, "half a second hidden is about 15 frames at 30 fps"
    assert all(r["actions.agent_0"] == "6" for r in hidden), "hidden: the default action"
    assert sum(not r["t.drawn"] for r in hidden) >= len(hidden) - 3, "not drawn while hidden"
    assert int(episodes["0"]["summary.frames_unfocused"]) == len(hidden)
    scene = scene_description(path, participant, tmp_path)
    check_replay(scene, frames, [episodes["0"], episodes["1"]])
