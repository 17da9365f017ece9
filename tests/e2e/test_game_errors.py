"""A Python exception inside a game, in Chromium: the participant reads one short sentence and a
reference number (no traceback on the card); the researcher finds the traceback under that
reference in the server log and in the exported events."""

from __future__ import annotations

import json
import re

import pytest

from tests.e2e.helpers import export_csv
from tests.plugin_dists import generate, pip_install

pytestmark = pytest.mark.e2e


def test_a_python_error_shows_a_reference_and_logs_the_traceback(
    igym_server, page, tmp_path, monkeypatch
):
    root = generate("env", "e2e_broken", tmp_path)
    env_py = root / "igym_e2e_broken" / "env.py"
    source = env_py.read_text()
    marker = "        old = self._state\n"
    assert marker in source
    env_py.write_text(
        source.replace(
            marker,
            marker + '        if old["t"] == 15:\n'
            '            raise RuntimeError("the gem counter overflowed")\n',
        )
    )
    pip_install([root], tmp_path / "site")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "site"))
    study = tmp_path / "study.py"
    study.write_text(
        "from igym_core.config import EndScene, Experiment, GameScene\n"
        "experiment = Experiment(id='broken', scenes=[\n"
        "    GameScene(id='play', env='e2e_broken.gems',\n"
        "              seats={'agent_0': 'human', 'agent_1': 'policy:greedy'},\n"
        "              max_steps=60, countdown_s=0),\n"
        "    EndScene(id='end')])\n"
    )
    server = igym_server(study)
    page.goto(server.url("/?PROLIFIC_PID=e2e-broken"))
    page.wait_for_function("() => document.body.dataset.game === 'error'", timeout=120_000)
    card = page.locator(".game-overlay").inner_text()
    ref = page.evaluate("() => window.igym.game.error_ref")
    assert re.fullmatch(r"[0-9A-F]{4}-[0-9A-F]{4}", ref)
    assert f"The game stopped because of an error. (Reference {ref})" in card
    assert "Traceback" not in card and "overflowed" not in card
    assert len(card) < 400, card
    page.wait_for_function("() => window.igym.outbox.size === 0")

    tables = export_csv(server, study, tmp_path)
    [event] = [e for e in tables["events"] if e["kind"] == "client:game_error"]
    data = json.loads(event["data"])
    assert data["ref"] == ref and data["code"] == "game_error"
    assert "Traceback" in data["detail"]
    assert "RuntimeError: the gem counter overflowed" in data["detail"]
    [episode] = [e for e in tables["episodes"] if e["participant_id"] == "e2e-broken"]
    assert episode["status"] == "playing"  # kept open: a reload goes on with it
    log = server.log()
    assert f"game error, reference {ref}, participant e2e-broken" in log
    assert "RuntimeError: the gem counter overflowed" in log
