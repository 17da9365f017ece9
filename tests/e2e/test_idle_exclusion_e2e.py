"""Continuous monitoring in a real browser: in the Overcooked human-AI game, a participant who
presses no key is warned on the page (the ``idle`` rule's banner), then excluded: the page shows
the rule's message (again after a reload), the exclusion is stored with the rule, scene, episode
and frame, and the episode played so far is kept, partial, with the reason ``excluded``."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import ROOT
from tests.e2e.helpers import export_csv

pytestmark = pytest.mark.e2e

EXAMPLE = ROOT / "examples" / "overcooked_human_ai.py"
BOOT_TIMEOUT_MS = 120_000


def idle_study(tmp_path: Path) -> Path:
    path = tmp_path / "idle_study.py"
    path.write_text(
        "import attrs\n"
        "from igym_core.config import GameScene, Rule\n"
        "from igym_core.experiment import load_experiment\n"
        f"_base = load_experiment({str(EXAMPLE)!r})\n"
        "_idle = Rule('idle', {'warn_after_s': 2, 'exclude_after_s': 5},\n"
        "             message='You stopped playing, so the study has ended.')\n"
        "experiment = attrs.evolve(_base, id='idle_e2e', scenes=[\n"
        "    attrs.evolve(s, countdown_s=1, max_steps=1200, rules=[_idle])\n"
        "    if isinstance(s, GameScene) else s for s in _base.scenes])\n"
    )
    return path


def test_an_idle_participant_is_warned_then_excluded(igym_server, page, tmp_path):
    path = idle_study(tmp_path)
    server = igym_server(path)
    page.goto(server.url("/?PROLIFIC_PID=idle-1"))
    page.wait_for_selector('#scene[data-scene-id="consent"]')
    page.check('input[name="consent"]')
    page.click("#scene button.continue")
    page.wait_for_selector('#scene[data-scene-id="instructions"]')
    page.click("#scene button.continue")
    page.wait_for_function(
        "() => document.body.dataset.game === 'playing'", timeout=BOOT_TIMEOUT_MS
    )
    # no key pressed: first the warning banner, then the excluded page
    page.wait_for_function("() => document.body.dataset.warning === 'idle'", timeout=15_000)
    assert not page.locator("#notice").is_hidden()
    page.wait_for_selector('#scene[data-closed="excluded"]', timeout=15_000)
    assert "You stopped playing" in page.inner_text("#scene")
    page.reload()
    page.wait_for_selector('#scene[data-closed="excluded"]', timeout=30_000)
    assert "You stopped playing" in page.inner_text("#scene")
    names = ("exclusions", "episodes", "frames", "events")
    tables: dict = {}
    for _ in range(30):  # the server closes the episode CLOSE_AFTER_S (10 s) after the exclusion
        tables = export_csv(server, path, tmp_path, names)
        if tables["episodes"] and tables["episodes"][0]["status"] == "partial":
            break
        page.wait_for_timeout(1000)
    (row,) = tables["exclusions"]
    assert (row["rule"], row["phase"], row["scene_id"], row["episode"]) == (
        "idle",
        "continuous",
        "cooking",
        "0",
    )
    assert int(row["frame"]) > 0
    (episode,) = tables["episodes"]
    assert episode["status"] == "partial" and "excluded" in episode["reason"]
    assert 0 < len(tables["frames"]) < 1200  # what was played is kept
    events = {e["kind"] for e in tables["events"]}
    assert {"rule_warning", "excluded"} <= events
