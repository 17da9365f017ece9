"""A participant's whole visit over the websocket, with Quart's test client."""

from __future__ import annotations

import asyncio
import json

from tests.integration.conftest import Page


async def test_consent_survey_end(app):
    client = app.test_client()
    async with client.websocket("/ws") as ws:
        page = Page(ws)
        welcome = await page.hello(PROLIFIC_PID="pp1", STUDY_ID="st", SESSION_ID="se")
        assert welcome["participant_id"] == "pp1" and not welcome["resumed"]
        assert len(welcome["token"]) >= 40
        assert page.scene["scene"]["id"] == "consent" and page.scene["count"] == 3
        ack, scene = await page.submit({"agree": True})
        assert ack == {"type": "ack", "seq": 1}
        assert scene["scene"]["id"] == "survey"
        _, end = await page.submit({"age": 44, "hand": "left"})
        assert end["scene"]["kind"] == "end"
        assert end["scene"]["completion_code"] == "CODE-123"
        assert end["scene"]["redirect_url"] == "https://example.org/done?participant_id=pp1"
    store = app.extensions["igym"].store
    participant = store.participant("pp1")
    assert participant.status == "completed"
    assert participant.params == {"PROLIFIC_PID": "pp1", "STUDY_ID": "st", "SESSION_ID": "se"}
    assert store.responses_for("pp1", "survey") == {"age": 44, "hand": "left", "note": None}


async def test_new_id_when_the_url_has_none_and_reconnect_resumes(app):
    client = app.test_client()
    async with client.websocket("/ws") as ws:
        page = Page(ws)
        await page.hello()
        await page.submit({"agree": True})
    assert len(page.participant_id) == 32
    async with client.websocket("/ws") as ws:
        page.ws = ws
        welcome = await page.hello()
        assert welcome["resumed"] is True
        assert page.scene["scene"]["id"] == "survey"


async def test_subject_id_cannot_be_taken_over_without_its_token(app):
    client = app.test_client()
    async with client.websocket("/ws") as ws:
        await Page(ws).hello(subject_id="s1")
    async with client.websocket("/ws") as ws:
        intruder = Page(ws)
        reply = await intruder.hello(subject_id="s1")
        assert reply["type"] == "error" and reply["code"] == "bad_token"
        assert "'s1' has already started" in reply["message"]


async def test_a_retried_submit_is_acked_and_stored_once(app):
    client = app.test_client()
    async with client.websocket("/ws") as ws:
        page = Page(ws)
        await page.hello(subject_id="r1")
        await page.submit({"agree": True})
        page.seq = 0  # the page re-sends seq 1 after a reconnect
        ack, scene = await page.submit({"agree": True}, scene_id="consent")
        assert ack["seq"] == 1 and scene["scene"]["id"] == "survey"
    events = [
        e
        for e in app.extensions["igym"].store.reader().scene_progress()
        if e["participant_id"] == "r1"
    ]
    assert [(e["scene_id"], e["finished_at"] is not None) for e in events] == [
        ("consent", True),
        ("survey", False),
    ]


async def test_second_tab_takes_over_and_first_is_told(app):
    client = app.test_client()
    async with client.websocket("/ws") as ws1:
        first = Page(ws1)
        await first.hello(subject_id="t1")
        async with client.websocket("/ws") as ws2:
            second = Page(ws2)
            second.token, second.participant_id = first.token, first.participant_id
            assert (await second.hello(subject_id="t1"))["resumed"] is True
            told = await first.recv()
            assert told["code"] == "session_taken"
            assert (await first.submit({"agree": True}))[0]["code"] == "session_taken"
            assert (await second.submit({"agree": True}))[0]["type"] == "ack"


async def test_lifecycle_hooks_fire_in_order(app, plugins):
    from igym_core import hookimpl

    seen = []

    class Observer:
        @hookimpl
        def igym_on_participant_joined(self, participant_id, resumed):
            seen.append(("joined", participant_id, resumed))

        @hookimpl
        def igym_on_scene_started(self, scene_id):
            seen.append(("started", scene_id))

        @hookimpl
        def igym_on_scene_finished(self, scene_id, responses):
            seen.append(("finished", scene_id, responses))

        @hookimpl
        def igym_on_session_end(self, participant_id, reason):
            seen.append(("end", participant_id, reason))
            raise RuntimeError("observer crashed")  # must not disturb the participant

    plugins.register(Observer(), name="observer")
    client = app.test_client()
    async with client.websocket("/ws") as ws:
        page = Page(ws)
        await page.hello(subject_id="h1")
        await page.submit({"agree": True})
        _, end = await page.submit({"age": 20, "hand": "right", "note": "hi"})
        assert end["scene"]["kind"] == "end"
    assert seen == [
        ("joined", "h1", False),
        ("started", "consent"),
        ("finished", "consent", {"agree": True}),
        ("started", "survey"),
        ("finished", "survey", {"age": 20, "hand": "right", "note": "hi"}),
        ("end", "h1", "completed"),
        ("started", "end"),
    ]
    assert any(p.plugin == "observer" for p in plugins.problems)


async def test_pages_and_headers(app):
    client = app.test_client()
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert response.headers["Cross-Origin-Embedder-Policy"] == "require-corp"
    assert (await client.get("/docs")).status_code == 404  # no API docs UI that loads a CDN


async def test_an_event_sent_again_is_stored_once(app):
    client = app.test_client()
    async with client.websocket("/ws") as ws:
        page = Page(ws)
        await page.hello(subject_id="ev")
        event = {
            "type": "event",
            "token": page.token,
            "seq": 41,
            "name": "visibility",
            "data": {"hidden": True},
        }
        for _ in range(2):
            await page.send(event)
            assert await page.recv() == {"type": "ack", "seq": 41}
    events = [
        e
        for e in app.extensions["igym"].store.reader().events()
        if e["kind"] == "client:visibility"
    ]
    assert [e["data"] for e in events] == [{"hidden": True}]


async def test_a_hello_sent_again_after_a_lost_welcome_resumes(app):
    client = app.test_client()
    proposed = {
        "type": "hello",
        "params": {"PROLIFIC_PID": "lw1"},
        "participant_id": "lw1",
        "token": "a" * 64,
    }
    store = app.extensions["igym"].store
    async with client.websocket("/ws") as ws:
        await ws.send(json.dumps(proposed))  # stored, but the welcome is lost with the connection
        for _ in range(200):
            if store.participant("lw1") is not None:
                break
            await asyncio.sleep(0.01)
    async with client.websocket("/ws") as ws:
        page = Page(ws)
        await page.send(proposed)
        welcome = await page.recv()
        assert welcome["type"] == "welcome" and welcome["resumed"] is True
        assert welcome["token"] == "a" * 64
    # a weak proposal is not kept: the server makes the token
    async with client.websocket("/ws") as ws:
        page = Page(ws)
        await page.send({**proposed, "params": {}, "participant_id": "lw2", "token": "short"})
        welcome = await page.recv()
        assert welcome["participant_id"] == "lw2" and welcome["token"] != "short"
