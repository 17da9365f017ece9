"""A game scene that cannot start or stops half-way says so clearly, keeps what it recorded, and
lets the participant continue after a reload."""

from __future__ import annotations

import json
import random

import pytest

from tests.e2e.helpers import export_csv
from tests.e2e.test_game_overcooked import (
    finish_survey,
    play,
    play_short_game_until,
    reach_game,
    short_copy,
    wait_for_phase,
)

pytestmark = pytest.mark.e2e


def error_text(page) -> str:
    page.wait_for_function("() => document.body.dataset.game === 'error'", timeout=120_000)
    return page.locator(".game-overlay").inner_text()


def logged_errors(tables: dict, participant: str) -> list[dict]:
    return [
        e
        for e in tables["events"]
        if e["participant_id"] == participant and e["kind"] == "client:game_error"
    ]


def test_an_unsupported_browser_is_told_why(igym_server, page, tmp_path):
    path = short_copy(tmp_path, max_steps=30)
    server = igym_server(path)
    page.add_init_script("delete window.WebAssembly;")
    reach_game(page, server.url("/?PROLIFIC_PID=e2e-old-browser"))
    text = error_text(page)
    assert "This browser cannot run the game (it lacks WebAssembly)" in text
    assert "Reload the page" in text
    page.wait_for_function("() => window.igym.outbox.size === 0")
    errors = logged_errors(export_csv(server, path, tmp_path), "e2e-old-browser")
    assert [json.loads(e["data"])["code"] for e in errors] == ["unsupported_browser"]


def test_a_package_zip_that_cannot_be_unpacked_is_reported(igym_server, page, tmp_path):
    path = short_copy(tmp_path, max_steps=30)
    server = igym_server(path)
    page.context.route(
        "**/packages/*.zip",
        lambda route: route.fulfill(
            status=200, body=b"this is not a zip", headers={"Content-Type": "application/zip"}
        ),
    )
    reach_game(page, server.url("/?PROLIFIC_PID=e2e-bad-zip"))
    text = error_text(page)
    assert "The game could not start: the game's packages could not be unpacked" in text


def test_a_worker_crash_mid_episode_keeps_the_frames_and_the_next_visit_goes_on(
    igym_server, page, tmp_path
):
    max_steps = 150
    participant = "e2e-crash"
    path, server = play_short_game_until(
        igym_server, page, tmp_path, max_steps, participant, seed=3, frames=30
    )
    # The worker dies (as when Pyodide runs out of memory): its error event reaches the page.
    page.evaluate(
        """() => window.igym.gameWorker.worker.dispatchEvent(
             new ErrorEvent("error", {message: "out of memory"}))"""
    )
    text = error_text(page)
    assert "The game stopped unexpectedly: out of memory. (Reference " in text
    state = page.evaluate("() => window.igym.game")
    assert state["summaries"] == [], "the episode stays open: a reload goes on with it"
    page.wait_for_function("() => window.igym.outbox.size === 0")
    assert page.locator("#notice").is_hidden(), "the server refused something the page sent"
    tables = export_csv(server, path, tmp_path)
    episode = next(e for e in tables["episodes"] if e["participant_id"] == participant)
    frames = [r for r in tables["frames"] if r["participant_id"] == participant]
    assert episode["status"] == "playing" and int(episode["frames"]) == len(frames) >= 30
    assert [json.loads(e["data"])["code"] for e in logged_errors(tables, participant)] == [
        "worker_crashed"
    ]

    page.reload()
    wait_for_phase(page, ("countdown", "playing"))
    assert page.evaluate("() => window.igym.game.first_episode") == 0
    assert page.evaluate("() => window.igym.game.resumed_at") == len(frames)
    play(page, random.Random(4))
    finish_survey(page)
    tables = export_csv(server, path, tmp_path)
    episodes = [e for e in tables["episodes"] if e["participant_id"] == participant]
    assert [(e["status"], e["frames"]) for e in episodes] == [("complete", str(max_steps))] * 2
    got = sorted(
        int(r["frame"])
        for r in tables["frames"]
        if r["participant_id"] == participant and r["episode"] == "0"
    )
    assert got == list(range(max_steps)), "every frame once, across the crash"


def test_a_server_crash_mid_episode_loses_no_frame_and_stores_none_twice(
    igym_server, page, tmp_path
):
    """SIGKILL the server while the participant plays: the game goes on in the worker, the
    frame chunks wait in the outbox, and after the reconnect every frame is stored exactly once."""
    max_steps = 240
    participant = "e2e-server-crash"
    path, server = play_short_game_until(
        igym_server, page, tmp_path, max_steps, participant, seed=5, frames=30
    )
    server.kill()
    page.wait_for_function("() => document.body.dataset.connection === 'reconnecting'")
    play(page, random.Random(6), until=lambda s: s["frames_received"] >= 120)
    assert page.evaluate("() => window.igym.outbox.size") > 0, "chunks wait for the server"
    server.start()
    page.wait_for_function("() => document.body.dataset.connection === 'open'", timeout=60_000)
    play(page, random.Random(7))
    page.wait_for_selector('#scene[data-scene-id="survey"]', timeout=60_000)
    page.wait_for_function("() => window.igym.outbox.size === 0")
    assert page.locator("#notice").is_hidden(), "the server refused something the page sent"
    state = page.evaluate("() => window.igym.game")
    assert [(s["frames"], s["partial"]) for s in state["summaries"]] == [(max_steps, False)] * 2

    tables = export_csv(server, path, tmp_path)
    episodes = [e for e in tables["episodes"] if e["participant_id"] == participant]
    assert [(e["status"], e["frames"]) for e in episodes] == [("complete", str(max_steps))] * 2
    frames = [r for r in tables["frames"] if r["participant_id"] == participant]
    for e in ("0", "1"):
        got = sorted(int(r["frame"]) for r in frames if r["episode"] == e)
        assert got == list(range(max_steps))
