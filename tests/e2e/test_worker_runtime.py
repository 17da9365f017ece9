"""The worker seeds the game runtime: it unpacks a game scene's package bundle from the server
and runs the environment in Pyodide, bit-identical to CPython."""

from __future__ import annotations

import json

import pytest

from igym_core.runtime.game import as_game, load_callable
from tests.e2e.conftest import ROOT

pytestmark = pytest.mark.e2e

EXPERIMENT = ROOT / "examples" / "overcooked_human_ai.py"
BOOT_TIMEOUT_MS = 90_000
FRAMES = 200

PLAY = """
import json
from igym_core.runtime.game import as_game, load_callable
game = as_game(load_callable(FACTORY)(**KWARGS), seed=SEED)
n = len(game.agent_ids)
for frame in range(FRAMES):
    game.step(tuple((frame * (7 + 3 * a) + a) % ACTIONS for a in range(n)))
game.state_hash().hex()
"""


def play_in_cpython(env: dict, seed: int, actions: int) -> str:
    game = as_game(load_callable(env["factory"])(**env["kwargs"]), seed=seed)
    n = len(game.agent_ids)
    for frame in range(FRAMES):
        game.step(tuple((frame * (7 + 3 * a) + a) % actions for a in range(n)))
    return game.state_hash().hex()


def game_scene(page, server) -> dict:
    """Walk the participant page up to the first game scene and return its description."""
    page.goto(server.url("/?subject_id=worker-runtime"))
    for _ in range(10):
        page.wait_for_function("() => window.igym && window.igym.scene")
        message = page.evaluate("() => window.igym.scene")
        if message["scene"]["kind"] == "game":
            return message["scene"]
        for box in page.locator('#scene input[type="checkbox"]').all():
            box.check()
        page.locator("#scene button.continue").click()
        page.wait_for_function(
            "id => window.igym.scene.scene.id !== id", arg=message["scene"]["id"]
        )
    raise AssertionError("no game scene in the example")


def test_the_worker_unpacks_the_scene_packages_and_steps_the_env_like_cpython(igym_server, page):
    server = igym_server(EXPERIMENT)
    scene = game_scene(page, server)
    env = scene["env"]

    page.goto(server.url(f"/selftest?packages={env['packages_url']}"))
    page.wait_for_function(
        "() => ['ok', 'error'].includes(document.body.dataset.status)", timeout=BOOT_TIMEOUT_MS
    )
    result = page.evaluate("() => window.igymSelftest")
    assert result["status"] == "ok", result.get("error")
    assert result["unpacked"]["bytes"] > 0

    actions = len(env["action_labels"])
    code = (
        PLAY.replace("FACTORY", json.dumps(env["factory"]))
        .replace("KWARGS", f"json.loads({json.dumps(json.dumps(env['kwargs']))})")
        .replace("SEED", "7")
        .replace("FRAMES", str(FRAMES))
        .replace("ACTIONS", str(actions))
    )
    in_browser = page.evaluate("code => window.igymPython.run(code)", code)
    assert in_browser == play_in_cpython(env, 7, actions)
