"""A participant goes through the example static study in a real browser: consent, instructions,
end page with the completion code, with a reload in the middle that resumes where they were."""

from __future__ import annotations

import json

import pytest

from igym_core.experiment import load_experiment
from tests.e2e.conftest import ROOT
from tests.e2e.helpers import igym_export

pytestmark = pytest.mark.e2e

EXPERIMENT = ROOT / "examples" / "static_study.py"


def scene(page, scene_id: str):
    """Wait until the page shows scene ``scene_id`` and the connection is up."""
    page.wait_for_selector(f'#scene[data-scene-id="{scene_id}"]')
    page.wait_for_function("() => document.body.dataset.connection === 'open'")
    return page.locator("#scene")


def continue_button(page):
    return page.locator("#scene button.continue")


def stored_session(page) -> dict:
    return json.loads(page.evaluate("() => localStorage.getItem('igym:session')"))


def wait_until_acked(page) -> None:
    page.wait_for_function("() => window.igym && window.igym.outbox.size === 0")


def export_responses(server, tmp_path, experiment_file=EXPERIMENT) -> list[dict]:
    """The study's responses, through ``igym export`` (JSON Lines)."""
    out = igym_export(server, experiment_file, tmp_path)
    lines = (out / "jsonl" / "responses.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def test_consent_instructions_end_with_a_reload_in_the_middle(igym_server, page, tmp_path):
    experiment = load_experiment(EXPERIMENT)
    end = experiment.scenes[-1]
    server = igym_server(EXPERIMENT)

    page.goto(server.url("/?PROLIFIC_PID=e2e-participant-1&STUDY_ID=s1&SESSION_ID=x1"))
    scene(page, "consent")
    assert continue_button(page).is_disabled(), "continue must wait for the required checkbox"
    page.check('input[name="consent"]')
    assert continue_button(page).is_enabled()
    continue_button(page).click()

    scene(page, "instructions")
    wait_until_acked(page)
    first = stored_session(page)
    assert first["experiment_id"] == experiment.id

    # Half-way through the instructions: answer one question, then reload.
    page.fill('input[name="age"]', "33")
    page.reload()
    scene(page, "instructions")
    assert page.evaluate("() => window.igym.welcome.resumed") is True
    assert stored_session(page)["participant_id"] == first["participant_id"]
    # What was typed before the reload is still there; the form is not complete yet.
    assert page.input_value('input[name="age"]') == "33"
    assert continue_button(page).is_disabled()

    page.check('input[name="games"][value="Weekly"]')
    page.fill('textarea[name="comment"]', "Räksmörgås — fine, thanks")
    continue_button(page).click()

    scene(page, end.id)
    code = page.locator("#completion-code")
    assert code.inner_text() == end.completion_code
    wait_until_acked(page)

    # The answers from both sides of the reload are in the study's export, each stored once.
    rows = export_responses(server, tmp_path)
    answers = {(r["participant_id"], r["scene_id"], r["field"]): r["value"] for r in rows}
    pid = first["participant_id"]
    assert len(rows) == len(answers) == 4, rows
    assert answers == {
        (pid, "consent", "consent"): True,
        (pid, "instructions", "age"): 33,
        (pid, "instructions", "games"): "Weekly",
        (pid, "instructions", "comment"): "Räksmörgås — fine, thanks",
    }


def test_a_server_crash_mid_flow_reconnects_and_loses_no_answer(igym_server, page, tmp_path):
    """SIGKILL the server while the participant answers; the page says it is reconnecting,
    keeps the answer submitted meanwhile, and delivers it once the server is back."""
    server = igym_server(EXPERIMENT)
    page.goto(server.url("/?subject_id=e2e-crash"))
    scene(page, "consent")
    page.check('input[name="consent"]')
    continue_button(page).click()
    scene(page, "instructions")
    wait_until_acked(page)

    server.kill()
    page.wait_for_function("() => document.body.dataset.connection === 'reconnecting'")
    banner = page.locator("#connection-status")
    assert banner.is_visible()
    assert "reconnecting" in banner.inner_text().lower()

    page.fill('input[name="age"]', "41")
    page.check('input[name="games"][value="Daily"]')
    continue_button(page).click()
    assert page.evaluate("() => window.igym.outbox.size") == 1

    server.start()
    scene(page, "end")
    wait_until_acked(page)
    assert not banner.is_visible()

    rows = export_responses(server, tmp_path)
    assert sorted((r["scene_id"], r["field"], r["value"]) for r in rows) == [
        ("consent", "consent", True),
        ("instructions", "age", 41),
        ("instructions", "comment", None),  # optional and left empty
        ("instructions", "games", "Daily"),
    ]


def test_every_field_kind_is_rendered_checked_and_stored_and_the_end_page_redirects(
    igym_server, page, tmp_path
):
    study = ROOT / "tests" / "e2e" / "all_fields_study.py"
    server = igym_server(study)
    # The redirect target is another site in real life; here a loopback URL answered by the test.
    landed: list[str] = []
    page.route(
        "http://localhost:9/**",
        lambda route: (landed.append(route.request.url), route.fulfill(body="bye")),
    )
    page.goto(server.url("/?subject_id=fields-1"))
    scene(page, "questions")
    assert page.locator("#scene .scene-html strong").inner_text() == "trusted"
    button = continue_button(page)

    page.fill('input[name="name"]', "Ada")
    page.fill('input[name="age"]', "17")  # below min
    page.check('input[name="colour"][value="green"]')
    page.check('input[name="pets"][value="cat"]')
    page.check('input[name="pets"][value="fish"]')
    page.check('input[name="adult"]')
    page.check('input[name="fun"][value="agree"]')
    assert button.is_disabled(), "an age below the minimum must keep continue disabled"
    page.fill('input[name="age"]', "36.5")
    assert button.is_enabled()
    page.uncheck('input[name="adult"]')
    assert button.is_disabled(), "a required checkbox must be ticked"
    page.check('input[name="adult"]')
    button.click()

    scene(page, "bye")
    assert page.locator("#completion-code").inner_text() == "ALL-FIELDS-1"
    page.wait_for_url("http://localhost:9/**")
    assert landed == ["http://localhost:9/finished?study=all&participant_id=fields-1"]

    rows = export_responses(server, tmp_path, study)
    assert {r["field"]: r["value"] for r in rows} == {
        "name": "Ada",
        "story": None,
        "age": 36.5,
        "colour": "green",
        "pets": ["cat", "fish"],
        "adult": True,
        "fun": "agree",
    }


def test_a_second_tab_takes_over_and_the_first_says_so(igym_server, context, page):
    server = igym_server(EXPERIMENT)
    page.goto(server.url("/?subject_id=two-tabs"))
    scene(page, "consent")

    second = context.new_page()
    second.goto(server.url("/?subject_id=two-tabs"))
    scene(second, "consent")
    assert second.evaluate("() => window.igym.welcome.resumed") is True

    page.wait_for_function("() => document.body.dataset.connection === 'stopped'")
    banner = page.locator("#connection-status")
    assert banner.is_visible()
    assert "another tab" in banner.inner_text()

    # The tab that took over carries on.
    second.check('input[name="consent"]')
    continue_button(second).click()
    scene(second, "instructions")
