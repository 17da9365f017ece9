"""A scene that advances only on a key press (``step_on="input"``), in the browser: a
pure-Python grid world with four actions and no no-op, shipped to Pyodide as a single-file
module. Without input it must not drift; each press is one step."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.e2e.helpers import export_csv

pytestmark = pytest.mark.e2e

WALKER = '''
"""Four moves on a 5 x 5 grid; there is no "stay" action."""

MOVES = {0: (0, -1), 1: (0, 1), 2: (-1, 0), 3: (1, 0)}


class Walker:
    def reset(self, seed=None, options=None):
        self.x, self.y = 2, 2
        return (self.x, self.y), {}

    def step(self, action):
        dx, dy = MOVES[action]
        self.x = min(4, max(0, self.x + dx))
        self.y = min(4, max(0, self.y + dy))
        return (self.x, self.y), 0.0, False, False, {"x": self.x, "y": self.y}

    def render(self):
        cells = [{"kind": "rect", "x": x, "y": y, "w": 1, "h": 1, "color": "#ddd", "layer": 0}
                 for x in range(5) for y in range(5)]
        me = {"kind": "circle", "x": self.x + 0.5, "y": self.y + 0.5, "r": 0.4,
              "color": "#25c", "layer": 1}
        return [*cells, me]


def make():
    return Walker()
'''

STUDY = """
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # walker4.py lives next to this file

from igym_core import EnvironmentSpec
from igym_core.config import EndScene, Experiment, GameScene, StaticScene

WALKER = EnvironmentSpec(
    name="walker4",
    factory="walker4:make",
    agent_ids=("agent_0",),
    action_labels={0: "up", 1: "down", 2: "left", 3: "right"},
    default_action=0,
    key_bindings={"ArrowUp": 0, "ArrowDown": 1, "ArrowLeft": 2, "ArrowRight": 3},
    packages=("walker4",),
)

experiment = Experiment(
    id="walker",
    environments=[WALKER],
    scenes=[
        StaticScene(id="hi"),
        GameScene(id="walk", env="walker4", seats={"agent_0": "human"}, step_on="input",
                  max_steps=6, fps=30, countdown_s=0),
        EndScene(id="end", completion_code="W"),
    ],
)
"""


def test_a_grid_world_steps_only_on_key_presses(igym_server, page, tmp_path: Path):
    (tmp_path / "walker4.py").write_text(WALKER)
    path = tmp_path / "walker_study.py"
    path.write_text(STUDY)
    server = igym_server(path)
    page.goto(server.url("/?PROLIFIC_PID=e2e-walk"))
    page.click("#scene button.continue")
    page.wait_for_function(
        "() => ['playing', 'error'].includes(document.body.dataset.game)", timeout=120_000
    )
    assert page.evaluate("() => document.body.dataset.game") == "playing"
    time.sleep(1.5)  # 45 ticks without a key: a tick-stepped scene would have walked up 45 times
    assert page.evaluate("() => window.igym.game.frames_received") == 0
    keys = ["ArrowRight", "ArrowRight", "ArrowDown", "ArrowLeft", "ArrowUp", "ArrowUp"]
    for key in keys:
        page.keyboard.down(key)
        time.sleep(0.2)  # held for six ticks: still one step
        page.keyboard.up(key)
        time.sleep(0.1)
    page.wait_for_selector('#scene[data-scene-id="end"]', timeout=30_000)
    rows = [r for r in export_csv(server, path, tmp_path)["frames"] if r["scene_id"] == "walk"]
    assert [r["actions.agent_0"] for r in rows] == ["3", "3", "1", "2", "0", "0"]
    assert [(r["infos.x"], r["infos.y"]) for r in rows] == [
        ("3", "2"), ("4", "2"), ("4", "3"), ("3", "3"), ("3", "2"), ("3", "1"),
    ]  # fmt: skip
    assert all(r["t.key"] for r in rows)  # every frame came from a key press
