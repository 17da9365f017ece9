"""An env pack written by ``igym new env``, pip-installed as it comes, hosted by ``igym run`` and
played in Chromium: the page draws its board (the floor, the players in their colours, the
gems) and every frame is stored."""

from __future__ import annotations

import pytest

from tests.e2e.helpers import export_csv
from tests.plugin_dists import generate, pip_install

pytestmark = pytest.mark.e2e

MAX_STEPS = 90

#: The colour ("#rrggbb") of the canvas at the centre of every cell of the env's 9x7 grid (the
#: canvas also has the score line below it), by "col,row".
CELL_COLOURS = """() => {
  const canvas = document.querySelector("canvas.game-canvas");
  const [cols, rows] = [9, 8];
  const image = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
  const out = {};
  for (let col = 0; col < cols; col++) {
    for (let row = 0; row < rows - 1; row++) {
      const x = Math.floor((col + 0.5) * canvas.width / cols);
      const y = Math.floor((row + 0.5) * canvas.height / rows);
      const i = (y * canvas.width + x) * 4;
      const rgb = [0, 1, 2].map((k) => image.data[i + k].toString(16).padStart(2, "0"));
      out[`${col},${row}`] = "#" + rgb.join("");
    }
  }
  return out;
}"""


def test_a_scaffolded_env_pack_draws_and_records_in_chromium(
    igym_server, page, tmp_path, monkeypatch
):
    root = generate("env", "e2e_gems", tmp_path)
    pip_install([root], tmp_path / "site")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "site"))  # what `igym run` imports
    study = tmp_path / "study.py"
    study.write_text(
        "from igym_core.config import EndScene, Experiment, GameScene\n"
        "experiment = Experiment(id='gems', scenes=[\n"
        "    GameScene(id='play', env='e2e_gems.gems',\n"
        "              seats={'agent_0': 'human', 'agent_1': 'policy:greedy'},\n"
        f"              max_steps={MAX_STEPS}, countdown_s=0),\n"
        "    EndScene(id='end', completion_code='GEMS')])\n"
    )
    server = igym_server(study)
    page.goto(server.url("/?PROLIFIC_PID=e2e-gems"))
    page.wait_for_function(
        "() => ['playing', 'error'].includes(document.body.dataset.game)", timeout=120_000
    )
    assert page.evaluate("() => document.body.dataset.game") == "playing", page.evaluate(
        "() => window.igym.game.error"
    )
    page.wait_for_function("() => window.igym.game.frames_received >= 20")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    from igym_e2e_gems.env import COLORS, FLOOR, GEM  # the colours of the copy pip installed

    cells = page.evaluate(CELL_COLOURS)
    # nobody presses a key: the human's player (blue) stays in its corner; the greedy partner
    # (orange) and the gems are somewhere; every other cell is floor
    assert cells["0,0"] == COLORS[0]
    seen = list(cells.values())
    assert seen.count(COLORS[1]) == 1 and 1 <= seen.count(GEM) <= 3, cells
    assert set(seen) <= {*COLORS, GEM, *FLOOR}, cells
    page.wait_for_selector('#scene[data-scene-id="end"]', timeout=60_000)
    tables = export_csv(server, study, tmp_path)
    frames = [r for r in tables["frames"] if r["participant_id"] == "e2e-gems"]
    assert sorted(int(r["frame"]) for r in frames) == list(range(MAX_STEPS))
    assert {r["actions.agent_0"] for r in frames} == {"4"}  # idle: the default action
    assert len({r["actions.agent_1"] for r in frames}) > 1  # the greedy partner moved
    [episode] = [e for e in tables["episodes"] if e["participant_id"] == "e2e-gems"]
    assert episode["status"] == "complete"
