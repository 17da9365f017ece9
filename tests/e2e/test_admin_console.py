"""The admin console in Chromium at 1366x768, against a real server, while scripted websocket
participants join, play and finish.

One walk through every page, as a researcher watching a study would: log in; the dashboard's
counts change live (no reload) as participants arrive, play and finish; the lists; a match's
detail with its telemetry plots; a participant's detail (their typed HTML shown as text, never
run); an episode replayed in Pyodide to its end with the rewards the store holds; the study
closed, and the next arrival sees the "study is full" page. A screenshot of each page goes into
the test's temporary folder (``screenshots/``).
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import ROOT
from tests.e2e.scripted import Plan, run_all, run_in_thread

pytestmark = pytest.mark.e2e

STUDY = ROOT / "tests" / "e2e" / "admin_study.py"
PASSWORD = "correct horse battery staple"
VIEWPORT = {"width": 1366, "height": 768}
INJECTED = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'
TILES = ("total", "active", "waiting", "playing", "completed", "excluded", "dropped")


def counts(page) -> dict[str, int]:
    return page.evaluate(
        """(keys) => Object.fromEntries(keys.map((k) => {
            const tile = document.querySelector(`[data-count="${k}"] .value`);
            return [k, tile ? Number(tile.textContent) : -1];
        }))""",
        list(TILES),
    )


def shot(page, folder: Path, name: str) -> None:
    folder.mkdir(exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=False)


def stored_rewards(data_dir: Path, participant_id: str, scene_id: str, episode: int) -> dict:
    db = sqlite3.connect(data_dir / "admin_e2e.sqlite3")
    try:
        totals: dict[str, float] = {}
        rows = db.execute(
            "SELECT json_extract(data, '$.rewards') FROM frames WHERE participant_id = ? AND "
            "scene_id = ? AND episode = ? ORDER BY frame",
            (participant_id, scene_id, episode),
        ).fetchall()
        for (rewards,) in rows:
            for agent, value in json.loads(rewards).items():
                totals[agent] = totals.get(agent, 0.0) + value
        return {"frames": len(rows), "totals": totals}
    finally:
        db.close()


def test_a_researcher_watches_the_study_live_replays_an_episode_and_closes_it(
    page, context, igym_server, monkeypatch, tmp_path
):
    monkeypatch.setenv("IGYM_ADMIN_PASSWORD", PASSWORD)
    server = igym_server(STUDY)
    assert "admin console at /admin/" in server.log()
    shots = tmp_path / "screenshots"
    page.set_viewport_size(VIEWPORT)

    # -- log in ---------------------------------------------------------------------------------
    page.goto(server.url("/admin/"))
    assert page.url.endswith("/admin/login")
    page.fill("#password", "wrong password")
    page.click("button[type=submit]")
    assert page.locator(".error").inner_text() == "Wrong password."
    shot(page, shots, "01-login")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector('[data-count="total"]')
    assert counts(page)["total"] == 0
    page.evaluate("window.__sameDocument = true")
    shot(page, shots, "02-dashboard-empty")

    # -- live counts while scripted participants join, play and finish --------------------------
    plans = [
        Plan(
            f"solo{i}",
            pace_s=0.6,
            answers={"consent": {"consent": True, "comment": INJECTED if i == 0 else ""}},
        )
        for i in range(4)
    ] + [Plan("crash", pace_s=0.6, fail_game=True)]
    thread, result = run_in_thread(lambda: run_all(server.base_url, plans, stagger_s=1.0))
    seen: list[dict[str, int]] = []
    mid_shot = False
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        now = counts(page)
        if not seen or now != seen[-1]:
            seen.append(now)
        if not mid_shot and now["total"] >= 3 and (now["playing"] or now["waiting"]):
            shot(page, shots, "03-dashboard-live")
            mid_shot = True
        if now["completed"] == 4 and not thread.is_alive():
            break
        page.wait_for_timeout(100)
    thread.join(5)
    assert "error" not in result, result.get("error")
    outcomes = {o.subject: o for o in result["value"]}
    assert all(outcomes[f"solo{i}"].done for i in range(4)), outcomes
    assert page.evaluate("window.__sameDocument") is True  # live: the page never reloaded
    totals = [c["total"] for c in seen]
    assert totals == sorted(totals) and totals[-1] == 5 and len(set(totals)) >= 4, seen
    assert any(c["playing"] > 0 for c in seen) and any(c["waiting"] > 0 for c in seen), seen
    assert seen[-1]["completed"] == 4 and seen[-1]["active"] == 1
    assert page.evaluate("window.igymAdmin.updates") >= len(seen)
    problem = page.locator('[data-list="problems"] li').first
    assert "worker crashed" in problem.inner_text() and "crash" in problem.inner_text()
    shot(page, shots, "04-dashboard-done")

    # -- lists ----------------------------------------------------------------------------------
    page.click('[data-nav="participants"]')
    page.wait_for_selector('table[data-table="participants"] a:text("solo3")')
    page.fill("input[type=search]", "browser_error")
    page.wait_for_function(
        "() => document.querySelectorAll('table[data-table=participants] tbody tr').length === 1"
    )
    page.fill("input[type=search]", "")
    shot(page, shots, "05-participants")
    page.click('[data-nav="matches"]')
    page.wait_for_selector('table[data-table="matches"] tbody a')
    assert page.locator('table[data-table="matches"] tbody tr').count() == 2
    shot(page, shots, "06-matches")
    page.click('[data-nav="log"]')
    page.wait_for_selector('table[data-table="assignments"] tbody tr')
    assert "assigned (fifo)" in page.locator('table[data-table="assignments"]').inner_text()
    shot(page, shots, "07-assignment-log")

    # -- a match's detail: its telemetry plots --------------------------------------------------
    match_id = outcomes["solo0"].matches[0]
    page.goto(server.url(f"/admin/#/m/{match_id}"))
    page.wait_for_selector('figure.plot[data-metric="P2P round trip (ms)"]')
    # per member: the health check's RTT and the episode summary's, for each of 2 episodes
    for metric, points in (("P2P round trip (ms)", 8), ("Rollbacks per episode", 4)):
        figure = page.locator(f'figure.plot[data-metric="{metric}"]')
        assert int(figure.get_attribute("data-points")) == points
        assert figure.locator("polyline").count() == 2  # one line per member
    assert page.locator('table[data-table="parity"]').inner_text().count("identical") == 2
    shot(page, shots, "08-match-detail")

    # -- a participant's detail: what they typed is text ----------------------------------------
    page.goto(server.url("/admin/#/p/solo0"))
    page.wait_for_selector('table[data-table="answers"]')
    assert INJECTED in page.locator('table[data-table="answers"]').inner_text()
    assert page.evaluate("window.__pwned") is None
    assert (
        page.locator('table[data-table="answers"] img, table[data-table="answers"] script').count()
        == 0
    )
    shot(page, shots, "09-participant-detail")

    # -- replay an episode to its end -----------------------------------------------------------
    page.click('[data-replay="solo0/cook/0"]')
    page.wait_for_function(
        "() => document.querySelector('[data-replay]')?.dataset.replay === 'ready'", timeout=120_000
    )
    status = page.locator("[data-replay-status]")
    assert status.get_attribute("data-replay-status") == "matches", status.inner_text()
    page.select_option('select[aria-label="Speed"]', "4")
    page.click('[data-action="play"]')
    page.wait_for_timeout(700)
    shot(page, shots, "10-replay-playing")
    page.wait_for_function("() => window.igymAdmin.replay.phase === 'ended'", timeout=60_000)
    replayed = page.evaluate("window.igymAdmin.replay")
    store = stored_rewards(server.data_dir, "solo0", "cook", 0)
    assert replayed["frames"] == store["frames"] == 90 and replayed["frame"] == 89
    assert replayed["differences"] == [] and replayed["complete"] is True
    assert {a: t["replayed"] for a, t in replayed["totals"].items()} == pytest.approx(
        store["totals"]
    )
    assert {a: t["stored"] for a, t in replayed["totals"].items()} == pytest.approx(store["totals"])
    assert store["totals"]["agent_0"] > 0  # the cooks scored: rewards were really compared
    shot(page, shots, "11-replay-ended")

    # -- close the study: the next arrival is turned away ---------------------------------------
    page.click('[data-nav="study"]')
    page.wait_for_selector('[data-study-state="open"]')
    page.click('[data-action="toggle-study"]')
    page.wait_for_selector('[data-study-state="closed"]')
    shot(page, shots, "12-study-closed")
    late = context.new_page()
    late.set_viewport_size(VIEWPORT)
    late.goto(server.url("/?subject_id=late1"))
    late.wait_for_selector('#scene[data-closed="study_closed"]')
    assert "This study is full" in late.locator("#scene").inner_text()
    shot(late, shots, "13-participant-study-full")
    page.click('[data-nav="dashboard"]')
    page.wait_for_selector('[data-study="closed"]')
    assert counts(page)["total"] == 5  # the late arrival was never created
    actions = page.locator(".card:has(h2:text('Recent admin actions'))").inner_text()
    assert "close" in actions and "login" in actions
    expected = {
        f"{n}.png"
        for n in (
            "01-login",
            "02-dashboard-empty",
            "03-dashboard-live",
            "04-dashboard-done",
            "05-participants",
            "06-matches",
            "07-assignment-log",
            "08-match-detail",
            "09-participant-detail",
            "10-replay-playing",
            "11-replay-ended",
            "12-study-closed",
            "13-participant-study-full",
        )
    }
    assert expected <= {p.name for p in shots.iterdir()}
    print(f"admin console screenshots in {shots}")
