"""Entry screening in a real browser: a device-emulated phone is turned away before the first
scene and sees the rule's message and screened-out code (again after a reload); a desktop page
on the same server goes on to the first scene. The exclusion is exported with its reason."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import ROOT
from tests.e2e.helpers import export_csv

pytestmark = pytest.mark.e2e

STUDY = ROOT / "tests" / "e2e" / "screening_study.py"


def test_a_phone_is_screened_out_and_a_desktop_goes_on(
    playwright_sync, browser, igym_server, tmp_path
):
    server = igym_server(STUDY)
    phone = browser.new_context(**playwright_sync.devices["iPhone 13"])
    try:
        page = phone.new_page()
        page.goto(server.url("/?PROLIFIC_PID=phone-1"))
        page.wait_for_selector('#scene[data-closed="excluded"]', timeout=30_000)
        text = page.inner_text("#scene")
        assert "This study needs a desktop or laptop computer." in text
        assert "SCREENED-E2E" in text
        page.reload()
        page.wait_for_selector('#scene[data-closed="excluded"]', timeout=30_000)
        assert "SCREENED-E2E" in page.inner_text("#scene")  # the same page, never the study
    finally:
        phone.close()
    desktop = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = desktop.new_page()
        page.goto(server.url("/?PROLIFIC_PID=desk-1"))
        page.wait_for_selector('#scene[data-scene-id="welcome"]', timeout=30_000)
    finally:
        desktop.close()
    tables = export_csv(server, STUDY, tmp_path, ("exclusions", "participants"))
    (row,) = tables["exclusions"]
    assert (row["rule"], row["phase"], row["completion_code"]) == (
        "device",
        "entry",
        "SCREENED-E2E",
    )
    assert "mobile" in row["reason"]
    statuses = {r["participant_id"]: r["status"] for r in tables["participants"]}
    assert sorted(statuses.values()) == ["active", "excluded"]
