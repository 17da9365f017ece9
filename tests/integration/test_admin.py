"""The admin console over Quart's test client: access, CSRF, live data, controls and export."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
import zipfile

import pytest

from igym_core.server.admin.auth import hash_password
from igym_core.server.admin.routes import COOKIE, PUBLIC
from igym_core.server.app import create_app
from igym_core.settings import Settings
from tests.integration.conftest import Page
from tests.integration.test_multiplayer import mp_app, send, until

__all__ = ["mp_app"]  # a fixture, used by duo_app

PASSWORD = "a long admin password"
HASH = hash_password(PASSWORD)


@pytest.fixture
def admin_app(make_app):
    return make_app(admin_password_hash=HASH)


async def login(client, password: str = PASSWORD, address: str = "127.0.0.1"):
    return await client.post(
        "/admin/login", form={"password": password}, scope_base={"client": (address, 5000)}
    )


async def logged_in(app):
    client = app.test_client()
    response = await login(client)
    assert response.status_code == 303 and response.headers["Location"] == "/admin/"
    me = await client.get("/admin/api/me")
    assert me.status_code == 200
    return client, (await me.get_json())["csrf"]


async def post(client, path: str, body: dict, csrf: str | None):
    headers = {"X-CSRF-Token": csrf} if csrf else {}
    return await client.post(f"/admin/api/{path}", json=body, headers=headers)


def admin_routes(app) -> list[tuple[str, str, str]]:
    """(endpoint, method, url) of every /admin route, with made-up arguments."""
    out = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/admin"):
            continue
        url = re.sub(r"<int:[^>]+>", "0", rule.rule)
        url = re.sub(r"<path:[^>]+>", "app.js", url)
        url = re.sub(r"<[^>]+>", "someone", url)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            out.append((rule.endpoint, method, url))
    return out


async def participant(app, subject: str) -> Page:
    ws = await app.test_client().websocket("/ws").__aenter__()
    page = Page(ws)
    await page.hello(subject_id=subject)
    return page


async def test_every_admin_route_refuses_without_a_session(admin_app):
    routes = admin_routes(admin_app)
    endpoints = {e for e, _, _ in routes}
    # the routes this test must cover: pages, data, the live stream, actions and the export
    assert {
        "admin.page",
        "admin.stream",
        "admin.summary",
        "admin.export",
        "admin.exclude",
    } <= endpoints
    client = admin_app.test_client()
    async with admin_app.test_client().websocket("/ws") as ws:
        page = Page(ws)
        await page.hello(subject_id="p1")
        token = page.token
    checked = 0
    for endpoint, method, url in routes:
        if endpoint in PUBLIC:
            continue
        for headers in ({}, {"Authorization": f"Bearer {token}", "X-CSRF-Token": token}):
            client.cookie_jar.clear()
            if headers:
                client.set_cookie("localhost", COOKIE, token, path="/admin")
            response = await client.open(
                url, method=method, headers=headers, query_string={"token": token}
            )
            body = await response.get_data(as_text=True)
            if method == "GET" and not url.startswith(("/admin/api/", "/admin/export")):
                assert response.status_code == 303, (url, response.status_code)
                assert response.headers["Location"] == "/admin/login"
            else:
                assert response.status_code == 401, (method, url, response.status_code, body)
            assert "p1" not in body
            checked += 1
    assert checked >= 2 * 14
    # the page's code is only served after login, under /admin/static/, never under /static/
    assert (await client.get("/static/admin/app.js")).status_code == 404
    assert (await client.get("/static/participant.js")).status_code == 200
    client, _ = await logged_in(admin_app)
    code = await client.get("/admin/static/app.js")
    assert code.status_code == 200 and code.mimetype == "text/javascript"
    assert (await client.get("/admin/static/../participant.js")).status_code == 404


async def test_login_logout_and_the_session_cookie(admin_app):
    client = admin_app.test_client()
    form = await client.get("/admin/login")
    assert form.status_code == 200 and 'type="password"' in await form.get_data(as_text=True)
    assert "style-src 'nonce-" in form.headers["Content-Security-Policy"]
    response = await login(client)
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    for attribute in ("HttpOnly", "SameSite=Strict", "Path=/admin"):
        assert attribute in cookie
    assert "Secure" not in cookie  # plain http here; behind HTTPS the cookie is Secure
    page = await client.get("/admin/")
    assert page.status_code == 200
    csp = page.headers["Content-Security-Policy"]
    assert (
        "script-src 'self'" in csp
        and "unsafe-inline" not in csp
        and "frame-ancestors 'none'" in csp
    )
    csrf = (await (await client.get("/admin/api/me")).get_json())["csrf"]
    assert (await client.post("/admin/logout")).status_code == 403  # logout needs the token too
    assert (await client.post("/admin/logout", headers={"X-CSRF-Token": csrf})).status_code == 303
    assert (await client.get("/admin/api/me")).status_code == 401
    secure = await admin_app.test_client().post(
        "/admin/login", form={"password": PASSWORD}, headers={"X-Forwarded-Proto": "https"}
    )
    assert "Secure" in secure.headers["Set-Cookie"]


async def test_wrong_passwords_are_rate_limited_per_address(admin_app):
    client = admin_app.test_client()
    for _ in range(5):
        response = await login(client, "wrong", address="10.1.1.1")
        assert response.status_code == 401
        assert "Wrong password" in await response.get_data(as_text=True)
    limited = await login(client, PASSWORD, address="10.1.1.1")  # even the right one, now
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
    assert COOKIE not in limited.headers.get("Set-Cookie", "")
    assert (await login(client, PASSWORD, address="10.1.1.2")).status_code == 303
    client, _ = await logged_in(admin_app)
    kinds = [
        a["action"]
        for a in (await (await client.get("/admin/api/summary")).get_json())["admin_actions"]
    ]
    assert kinds.count("login_failed") == 5 and "login" in kinds


async def test_actions_need_the_csrf_token_and_this_origin(admin_app):
    client, csrf = await logged_in(admin_app)
    assert (await post(client, "study", {"open": False}, None)).status_code == 403
    assert (await post(client, "study", {"open": False}, "wrong")).status_code == 403
    foreign = await client.post(
        "/admin/api/study",
        json={"open": False},
        headers={"X-CSRF-Token": csrf, "Origin": "https://evil.example"},
    )
    assert foreign.status_code == 403
    assert (await (await client.get("/admin/api/study")).get_json())["open"] is True
    ok = await post(client, "study", {"open": False}, csrf)
    assert ok.status_code == 200 and (await ok.get_json())["study"]["open"] is False
    bad = await post(client, "study", {"cap": -3}, csrf)
    assert bad.status_code == 400 and "whole number" in (await bad.get_json())["error"]


async def test_without_a_password_the_console_is_disabled_and_says_so(make_app, caplog):
    caplog.set_level(logging.INFO, "igym.admin")
    app = make_app(admin_password_hash=None)
    assert "admin console disabled: set IGYM_ADMIN_PASSWORD" in caplog.text
    client = app.test_client()
    for url, method in (
        ("/admin/", "GET"),
        ("/admin/login", "GET"),
        ("/admin/login", "POST"),
        ("/admin/api/summary", "GET"),
    ):
        response = await client.open(
            url, method=method, form={"password": ""} if method == "POST" else None
        )
        assert response.status_code == 404
        assert "admin console is disabled" in await response.get_data(as_text=True)
    caplog.clear()
    make_app(admin_password_hash=HASH)
    assert "admin console at /admin/" in caplog.text


async def test_a_closed_or_full_study_turns_new_arrivals_away_and_stays_closed(make_app, caplog):
    app = make_app(admin_password_hash=HASH)
    client, csrf = await logged_in(app)
    first = await participant(app, "early")
    message = "Sorry, this study is full. Thank you!"
    assert (
        await post(client, "study", {"open": False, "full_message": message}, csrf)
    ).status_code == 200
    async with app.test_client().websocket("/ws") as ws:
        late = Page(ws)
        refused = await late.hello(subject_id="late")
        assert refused == {"type": "error", "code": "study_closed", "message": message, "seq": None}
    # who already started may go on
    async with app.test_client().websocket("/ws") as ws:
        again = Page(ws)
        again.participant_id, again.token = first.participant_id, first.token
        assert (await again.hello(subject_id="early"))["type"] == "welcome"
    # the state survives a restart (stored as admin events), and start-up says so
    caplog.set_level(logging.WARNING, "igym.admin")
    app = make_app(admin_password_hash=HASH)
    assert "closed to new participants" in caplog.text
    client, csrf = await logged_in(app)
    study = await (await client.get("/admin/api/study")).get_json()
    assert (
        study["open"] is False and study["full_message"] == message and study["participants"] == 1
    )
    assert (await post(client, "study", {"open": True, "cap": 2}, csrf)).status_code == 200
    assert (await participant(app, "second")).participant_id == "second"  # 1 of 2 before
    async with app.test_client().websocket("/ws") as ws:
        assert (await Page(ws).hello(subject_id="third"))["code"] == "study_closed"  # 2 of 2
    summary = await (await client.get("/admin/api/summary")).get_json()
    assert summary["study"] == {**study, "open": True, "cap": 2, "full": True, "participants": 2}
    actions = [a["action"] for a in summary["admin_actions"]]
    assert {"close", "message", "open", "cap"} <= set(actions)
    assert all(isinstance(a["at"], float) for a in summary["admin_actions"])


async def test_excluding_by_hand_ends_the_visit_and_is_recorded(admin_app):
    client, csrf = await logged_in(admin_app)
    page = await participant(admin_app, "p1")
    assert (await post(client, "participants/p1/exclude", {}, csrf)).status_code == 400  # no reason
    assert (
        await post(client, "participants/nobody/exclude", {"reason": "x"}, csrf)
    ).status_code == 400
    done = await post(
        client, "participants/p1/exclude", {"reason": "typed nonsense <b>x</b>"}, csrf
    )
    assert done.status_code == 200 and (await done.get_json())["result"]["page_told"] is True
    told = await page.recv()
    assert told["type"] == "error" and told["code"] == "excluded"
    refused = await page.submit({"agree": True})
    assert refused[0]["type"] == "error"  # the open page can do nothing more
    async with admin_app.test_client().websocket("/ws") as ws:
        again = Page(ws)
        again.participant_id, again.token = page.participant_id, page.token
        assert (await again.hello(subject_id="p1"))["code"] == "excluded"
    detail = await (await client.get("/admin/api/participants/p1")).get_json()
    assert detail["status"] == "excluded" and detail["state"] == "excluded"
    event = next(e for e in detail["timeline"] if e["kind"] == "admin:exclude")
    assert event["data"]["reason"] == "typed nonsense <b>x</b>" and event["at"] > 0
    assert detail["exclusions"][0]["reason"] == "typed nonsense <b>x</b>"
    summary = await (await client.get("/admin/api/summary")).get_json()
    assert summary["counts"]["excluded"] == 1
    assert summary["exclusions"]["by_rule"] == {"admin (by hand)": 1}
    again = await post(client, "participants/p1/exclude", {"reason": "twice"}, csrf)
    assert again.status_code == 400 and "already excluded" in (await again.get_json())["error"]


@pytest.fixture
def duo_app(monkeypatch, request, database):
    """The multiplayer tests' app (two humans), with the admin password set."""
    monkeypatch.setenv("IGYM_ADMIN_PASSWORD_HASH", HASH)
    return request.getfixturevalue("mp_app")


async def test_ending_a_stuck_match_lets_both_members_go_on(duo_app):
    client, csrf = await logged_in(duo_app)
    pages = []
    for pid in ("a", "b"):
        page = await participant(duo_app, pid)
        await page.submit({})
        await send(page, {"type": "lobby_join", "scene_id": "play", "attributes": {}})
        pages.append(page)
    match = await until(pages[0], "match")
    await until(pages[1], "match")  # neither sends its probe: the match is stuck validating
    nobody = await post(client, "participants/nobody/end", {}, csrf)
    assert nobody.status_code == 400
    done = await post(client, "participants/a/end", {"reason": "stuck in validation"}, csrf)
    assert done.status_code == 200, await done.get_data(as_text=True)
    ended = await until(pages[0], "match_ended")
    assert ended["match_id"] == match["match_id"] and ended["reason"] == "ended_by_researcher"
    assert (await until(pages[1], "requeued"))["match_id"] == match["match_id"]
    assert (await pages[0].submit({}))[1]["scene"]["kind"] == "end"  # a goes on
    again = await post(client, "participants/a/end", {}, csrf)
    assert again.status_code == 400 and "no game session" in (await again.get_json())["error"]
    detail = await (await client.get("/admin/api/participants/a")).get_json()
    event = next(e for e in detail["timeline"] if e["kind"] == "admin:end_session")
    assert event["data"]["reason"] == "stuck in validation"
    assert event["data"]["sessions"] == [
        {"scene_id": "play", "match_id": match["match_id"], "phase": "validating"}
    ]
    matches = (await (await client.get("/admin/api/matches")).get_json())["matches"]
    assert matches[0]["match_id"] == match["match_id"] and matches[0]["status"] == "requeued"


async def test_the_dashboard_and_lists_follow_the_study(admin_app):
    client, _ = await logged_in(admin_app)
    done = await participant(admin_app, "done")
    await done.submit({"agree": True})
    await done.submit({"age": 30, "hand": "left", "note": "<img src=x onerror=alert(1)>"})
    assert done.scene["scene"]["kind"] == "end"
    here = await participant(admin_app, "here")
    await here.submit({"agree": True})
    await here.send(
        {
            "type": "event",
            "token": here.token,
            "seq": 9,
            "name": "game_error",
            "data": {"code": "game_failed", "message": "the worker died"},
        }
    )
    await here.recv()
    summary = await (await client.get("/admin/api/summary")).get_json()
    counts = summary["counts"]
    assert counts["total"] == 2 and counts["completed"] == 1 and counts["active"] == 1
    assert summary["completion_rate"] == 0.5
    consent = summary["scenes"][0]
    assert consent["id"] == "consent" and consent["reached"] == 2 and consent["finished"] == 2
    assert consent["median_s"] is not None and summary["scenes"][1]["here_now"] == 1
    problem = summary["problems"][0]
    assert problem["participant_id"] == "here" and problem["label"] == "browser error"
    assert problem["message"] == "the worker died"
    rows = {
        p["participant_id"]: p
        for p in (await (await client.get("/admin/api/participants")).get_json())["participants"]
    }
    assert rows["done"]["state"] == "completed" and rows["here"]["online"] is True
    assert rows["here"]["flags"] == {"browser_error": 1} and rows["here"]["scene_id"] == "survey"
    detail = await (await client.get("/admin/api/participants/done")).get_json()
    answers = {s["scene_id"]: s["responses"] for s in detail["scenes"]}
    assert answers["survey"]["note"] == "<img src=x onerror=alert(1)>"  # data, shown as text
    assert (await client.get("/admin/api/participants/ghost")).status_code == 404


async def test_the_stream_sends_the_dashboard_again_when_someone_arrives(admin_app):
    async with admin_app.test_app() as test_app:
        client, _ = await logged_in(test_app)
        async with client.request("/admin/api/stream") as stream:
            await stream.send_complete()

            async def next_summary() -> dict:
                buffer = b""
                while b"\n\n" not in buffer or b"event: summary" not in buffer:
                    buffer += await asyncio.wait_for(stream.receive(), 5)
                    if b"event: summary" not in buffer:
                        buffer = buffer.split(b"\n\n")[-1]
                block = buffer[buffer.index(b"event: summary") :]
                data = next(line for line in block.split(b"\n") if line.startswith(b"data: "))
                return json.loads(data[6:])

            first = await next_summary()
            assert first["counts"]["total"] == 0 and first["version"] >= 1
            await participant(test_app, "newcomer")
            second = await next_summary()
            while second["counts"]["total"] == 0:
                second = await next_summary()
            assert second["counts"]["total"] == 1 and second["version"] > first["version"]
            await stream.disconnect()


async def test_the_export_downloads_as_one_zip(admin_app):
    client, _ = await logged_in(admin_app)
    page = await participant(admin_app, "p1")
    await page.submit({"agree": True})
    response = await client.get("/admin/export.zip")
    assert response.status_code == 200 and response.mimetype == "application/zip"
    assert "attachment" in response.headers["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(await response.get_data()))
    names = set(archive.namelist())
    assert {"study/csv/participants.csv", "study/jsonl/responses.jsonl"} <= names
    assert "p1" in archive.read("study/csv/participants.csv").decode()
    summary = await (await client.get("/admin/api/summary")).get_json()
    assert summary["admin_actions"][0]["action"] == "export"


async def test_excluding_a_player_closes_their_episode_as_partial(tmp_path, plugins):
    from tests.integration.test_game_recording import ToyPlugin, game_experiment, record, request

    plugins.register(ToyPlugin(), name="toy-plugin")
    settings = Settings(data_dir=tmp_path / "data", admin_password_hash=HASH)
    app = create_app(game_experiment(), settings, plugins=plugins)
    client, csrf = await logged_in(app)
    page = await participant(app, "g1")
    await page.submit({})
    assert (await request(page, {"type": "episode_start", "episode": 0}))["type"] == "ack"
    chunk = {"type": "frames", "episode": 0, "records": [record(f) for f in range(5)]}
    assert (await request(page, chunk))["type"] == "ack"
    done = await post(client, "participants/g1/exclude", {"reason": "walked away"}, csrf)
    assert done.status_code == 200
    detail = await (await client.get("/admin/api/participants/g1")).get_json()
    assert [(e["status"], e["frames"]) for e in detail["episodes"]] == [("partial", 5)]
    assert (await client.get("/admin")).status_code == 200  # no redirect: the page itself
