"""Item 9 of issue 10 and the privacy of item 8: response headers, no Host header in any
redirect, the websocket's Origin, bad numbers and bad text in messages, a store that is not
ours, what a page may claim about itself, and what partners learn of each other."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from igym_core.server.gate import origin_problem
from tests.conftest import ROOT
from tests.integration.conftest import Page


async def test_every_response_says_nosniff_and_the_page_has_a_policy(app):
    client = app.test_client()
    for path in ("/", "/healthz", "/nope", "/static/nope.js", "/selftest"):
        response = await client.get(path)
        assert response.headers["X-Content-Type-Options"] == "nosniff", path
    page = await client.get("/")
    if page.status_code == 200:  # the client is built
        policy = page.headers["Content-Security-Policy"]
        assert "frame-ancestors 'self'" in policy and "script-src 'self'" in policy
        assert "object-src 'none'" in policy


async def test_no_redirect_echoes_the_host_header(app):
    client = app.test_client()
    for path in ("//healthz", "/healthz/", "//evil.example/", "/static//style.css"):
        response = await client.get(path, headers={"Host": "evil.example"})
        assert response.status_code != 308 and response.status_code != 301, path
        assert "evil.example" not in response.headers.get("Location", ""), path


@pytest.mark.parametrize(
    ("origin", "host", "allowed", "ok"),
    [
        (None, "study.org", (), True),  # not a browser
        ("http://study.org", "study.org", (), True),
        ("https://evil.example", "study.org", (), False),
        ("http://study.org.evil.example", "study.org", (), False),
        ("https://study.org", "127.0.0.1:8000", ("https://study.org",), True),
        ("https://other.org", "127.0.0.1:8000", ("https://study.org",), False),
    ],
)
def test_the_websocket_checks_the_origin(origin, host, allowed, ok):
    headers = [(b"host", host.encode())] + ([(b"origin", origin.encode())] if origin else [])
    assert (origin_problem(headers, allowed) is None) is ok


async def test_a_page_of_another_site_cannot_open_the_websocket(app):
    client = app.test_client()
    with pytest.raises(Exception) as refused:
        async with client.websocket("/ws", headers={"Origin": "https://evil.example"}) as ws:
            await ws.send(json.dumps({"type": "hello", "params": {}}))
            await ws.receive()
    assert "403" in repr(refused.value) or "evil.example" in repr(refused.value)


async def test_huge_numbers_and_lone_surrogates_get_clear_errors(app):
    client = app.test_client()
    async with client.websocket("/ws") as ws:
        page = Page(ws)
        await page.hello(subject_id="strings")
        await page.send(
            f'{{"type":"submit","token":"{page.token}","seq":{10**40},"scene_id":"consent",'
            '"responses":{}}'
        )
        error = await page.recv()
        assert error["code"] == "invalid" and "seq must be an integer" in error["message"]
        await page.send(
            f'{{"type":"event","token":"{page.token}","seq":5,"name":"x",'
            '"data":{"note":"\\ud800"}}'
        )
        error = await page.recv()
        assert error["code"] == "invalid" and "lone UTF-16 surrogate" in error["message"]
        assert error["seq"] == 5
        await page.send('{"type":"ping","t":NaN}')
        assert (await page.recv())["code"] == "not_json"
        # a proper surrogate pair (an emoji) is fine
        await page.send(
            f'{{"type":"event","token":"{page.token}","seq":6,"name":"x",'
            '"data":{"note":"\\ud83d\\ude00"}}'
        )
        assert await page.recv() == {"type": "ack", "seq": 6}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"PK\x03\x04 this is a zip file, not a database" * 10, "is not an SQLite database"),
        (None, "another program, not an igym store"),
    ],
)
def test_a_store_that_is_not_ours_stops_the_start_in_one_line(tmp_path, content, message):
    data = tmp_path / "data"
    data.mkdir()
    store = data / "static_study.sqlite3"
    if content is None:
        import sqlite3

        db = sqlite3.connect(store)
        db.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
        db.commit()
        db.close()
    else:
        store.write_bytes(content)
    result = subprocess.run(
        [sys.executable, "-m", "igym_core.cli", "run", str(ROOT / "examples/static_study.py"),
         "--port", "0", "--data-dir", str(data)],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    )  # fmt: skip
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert "Traceback" not in result.stderr + result.stdout


async def test_a_page_cannot_claim_other_parameters_or_answers(tmp_path, plugins):
    from igym_core.config import EndScene, Experiment, FormField, GameScene, StaticScene
    from igym_core.server.app import create_app
    from igym_core.settings import Settings
    from tests.unit.test_lobby import DuoPlugin

    plugins.register(DuoPlugin(), name="duo")
    experiment = Experiment(
        id="claims",
        scenes=[
            StaticScene(id="about", fields=[FormField("skill", "Skill", kind="number")]),
            GameScene(id="play", env="duo", seats={"a0": "human", "a1": "human"}),
            EndScene(id="end"),
        ],
    )
    app = create_app(experiment, Settings(data_dir=tmp_path, ice_servers=()), plugins=plugins)
    client = app.test_client()
    async with client.websocket("/ws") as ws:
        page = Page(ws)
        await page.hello(PROLIFIC_PID="honest-id", cohort="A")
        await page.submit({"skill": 3})
        page.seq += 1
        claimed = {"PROLIFIC_PID": "someone-else", "cohort": "B", "about.skill": 99, "lang": "en"}
        await page.send(
            {"type": "lobby_join", "token": page.token, "seq": page.seq, "scene_id": "play",
             "attributes": claimed}
        )  # fmt: skip
        assert (await page.recv())["type"] in ("ack", "lobby")
    session = app.extensions["igym"].lobby.engine.tracker.session("honest-id", "play")
    assert session.attributes == {
        "PROLIFIC_PID": "honest-id",
        "cohort": "A",
        "about.skill": 3,
        "lang": "en",
    }
