"""Entry screening over the websocket: the page reports its browser, the server measures the
ping itself, the entry rules judge; those turned away see the rule's message (again after a
reload), and the data say why."""

from __future__ import annotations

import asyncio

import pytest

from igym_core.config import EndScene, Experiment, Rule, StaticScene
from igym_core.server.app import create_app
from igym_core.server.socket import Outbox
from igym_core.settings import Settings
from tests.integration.conftest import Page

DESKTOP = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
)
BIG = {"screen_width": 1920, "screen_height": 1080, "window_width": 1800, "window_height": 950}
SEEN: list[dict] = []


def no_testers(context):
    """A researcher's own rule: the context is read-only and has everything documented."""
    SEEN.append(dict(context))
    with pytest.raises(TypeError):
        context["params"]["x"] = "y"  # type: ignore[index]
    if context["params"].get("tester") == "yes":
        return "a tester"
    return None


def broken(context):
    raise ZeroDivisionError("the researcher's bug")


def screened_study(completion_code: str | None = "SCREENED-OUT") -> Experiment:
    return Experiment(
        id="screened",
        scenes=[
            StaticScene(id="hello", html="<p>Hi</p>"),
            EndScene(id="end", completion_code="DONE-1"),
        ],
        entry_rules=[
            Rule("url_params", message="Please come from Prolific."),
            Rule("device", redirect_url="https://example.org/screened-out"),
            Rule("screen_size", {"min_width": 1024, "min_height": 700}),
            Rule("ping", {"max_ms": 150}, completion_code=completion_code),
            "repeat",
            broken,
            Rule(no_testers, message="Testers cannot take part."),
        ],
    )


@pytest.fixture
def app(tmp_path, plugins, database):
    """The screened study, once per store backend (SQLite, PostgreSQL)."""
    settings = Settings(data_dir=tmp_path / "data", database=database)
    made = create_app(screened_study(), settings, plugins=plugins)
    yield made
    made.extensions["igym"].store.close()  # (never served: its writer must not outlive the test)


async def enter(app, params: dict, report: dict) -> tuple[Page, dict]:
    """Open the study, answer the server's pings, report ``report``: the scene or the
    exclusion that follows."""
    async with app.test_client().websocket("/ws") as ws:
        page = Page(ws)
        await page.send({"type": "hello", "params": params})
        welcome = await page.recv()
        assert welcome["type"] == "welcome", welcome
        page.token, page.participant_id = welcome["token"], welcome["participant_id"]
        assert (await page.recv())["type"] == "screen"
        await page.send({"type": "screening", "token": page.token, "seq": 0, "report": report})
        while True:
            message = await asyncio.wait_for(page.recv(), 10)
            if message["type"] == "probe_ping":
                await page.send({"type": "probe_pong", "id": message["id"]})
            elif message["type"] in ("scene", "excluded"):
                if message["type"] == "scene":
                    page.scene = message
                return page, message


async def test_each_rule_turns_away_with_its_message_and_a_passing_participant_completes(app):
    store = app.extensions["igym"].store
    SEEN.clear()
    page, scene = await enter(app, {"PROLIFIC_PID": "ok1"}, {"user_agent": DESKTOP, **BIG})
    assert scene["scene"]["id"] == "hello"
    context = SEEN[-1]
    assert (context["browser"], context["browser_major"], context["os"]) == ("Chrome", 126, "Linux")
    assert context["device"] == "desktop" and context["screen_width"] == 1920
    assert len(context["ping_ms"]) == 5 and context["ping_median_ms"] is not None
    assert context["previous"] == () and context["answers"] == {}
    async with app.test_client().websocket("/ws") as ws:  # the passing one goes on to the end
        again = Page(ws)
        again.participant_id, again.token = page.participant_id, page.token
        await again.hello(PROLIFIC_PID="ok1")
        assert again.scene["scene"]["id"] == "hello"  # screened once, not again
        _, end = await again.submit({})
        assert end["scene"]["completion_code"] == "DONE-1"
    cases = [
        ({}, {"user_agent": DESKTOP, **BIG}, "url_params", "missing URL parameter PROLIFIC_PID"),
        ({"PROLIFIC_PID": "m1"}, {"user_agent": IPHONE, "touch": True}, "device", "device is mobile"),
        (
            {"PROLIFIC_PID": "s1"},
            {"user_agent": DESKTOP, "screen_width": 800, "screen_height": 600},
            "screen_size",
            "screen is 800x600",
        ),
        ({"PROLIFIC_PID": "t1", "tester": "yes"}, {"user_agent": DESKTOP, **BIG}, "no_testers", "a tester"),
    ]  # fmt: skip
    for params, report, rule, reason in cases:
        page, told = await enter(app, params, report)
        assert told["type"] == "excluded"
        row = store.exclusion(page.participant_id)
        assert (row["rule"], row["reason"], row["phase"]) == (rule, reason, "entry")
        assert store.participant(page.participant_id).status == "excluded"
        assert told["message"] == row["message"]
    # the configured message, redirect and the rule's own message
    assert store.exclusion("m1")["redirect_url"] == "https://example.org/screened-out"
    assert "desktop or laptop" in store.exclusion("m1")["message"]
    assert store.exclusion("t1")["message"] == "Testers cannot take part."
    # a reload (or another browser) shows the same page
    async with app.test_client().websocket("/ws") as ws:
        again = await Page(ws).hello(PROLIFIC_PID="m1")
        assert again["code"] == "excluded" and "desktop or laptop" in again["message"]
        assert again["detail"]["redirect_url"] == "https://example.org/screened-out"
    # the raising rule is logged, counted and excludes nobody
    store.flush()
    errors = [e for e in store.reader().events() if e["kind"] == "rule_error"]
    assert errors and {e["data"]["rule"] for e in errors} == {"broken"}
    assert "ZeroDivisionError: the researcher's bug" in errors[0]["data"]["error"]
    assert app.extensions["igym"].participants.rules.entry[5].errors == len(errors)


async def test_a_repeat_participant_is_turned_away(app):
    first, scene = await enter(
        app, {"PROLIFIC_PID": "rp", "subject_id": "rp-a"}, {"user_agent": DESKTOP, **BIG}
    )
    assert scene["type"] == "scene"
    async with app.test_client().websocket("/ws") as ws:
        again = Page(ws)
        again.participant_id, again.token = first.participant_id, first.token
        await again.hello(PROLIFIC_PID="rp", subject_id="rp-a")
        await again.submit({})  # completed
    _, told = await enter(
        app, {"PROLIFIC_PID": "rp", "subject_id": "rp-b"}, {"user_agent": DESKTOP, **BIG}
    )
    assert told["type"] == "excluded" and "already took part" in told["message"]
    row = app.extensions["igym"].store.exclusion("rp-b")
    assert (row["rule"], row["reason"]) == ("repeat", "same PROLIFIC_PID as rp-a (completed)")


async def test_a_slow_websocket_is_measured_by_the_server(app, monkeypatch):
    put = Outbox.put

    def slow(self, message):  # the server's websocket carries its pings 200 ms late
        if getattr(message, "type", None) == "probe_ping":
            asyncio.get_running_loop().call_later(0.2, put, self, message)
        else:
            put(self, message)

    monkeypatch.setattr(Outbox, "put", slow)
    _, told = await enter(app, {"PROLIFIC_PID": "slow1"}, {"user_agent": DESKTOP, **BIG})
    assert told["type"] == "excluded" and told["completion_code"] == "SCREENED-OUT"
    row = app.extensions["igym"].store.exclusion("slow1")
    assert row["rule"] == "ping" and row["reason"].startswith("ping median 2")
    app.extensions["igym"].store.flush()
    screened = [
        e for e in app.extensions["igym"].store.reader().events() if e["kind"] == "excluded"
    ]
    assert screened[-1]["data"]["rule"] == "ping"


async def test_what_a_page_reports_is_bounded(app):
    async with app.test_client().websocket("/ws") as ws:
        page = Page(ws)
        await page.send({"type": "hello", "params": {"PROLIFIC_PID": "big"}})
        token = (await page.recv())["token"]
        assert (await page.recv())["type"] == "screen"
        report = {"user_agent": "x" * 600}
        await page.send({"type": "screening", "token": token, "seq": 0, "report": report})
        while (reply := await page.recv())["type"] == "probe_ping":
            pass
        assert reply["type"] == "error" and reply["code"] == "too_large"
        assert "user_agent is longer than 512" in reply["message"]
        submit = {"type": "submit", "token": token, "seq": 1, "scene_id": "hello", "responses": {}}
        await page.send(submit)
        while (reply := await page.recv())["type"] == "probe_ping":
            pass
        assert reply["code"] == "not_screened"  # nothing goes on before the checks are done
