"""Connection resilience over the websocket: a goodbye, a reload that rejoins the game, pause
reports, latency telemetry within its budget, and what the export says about all of it."""

from __future__ import annotations

import asyncio
import time

import pytest

from igym_core.config import EndScene, Experiment, GameScene, StaticScene
from igym_core.export import export_store
from igym_core.server.app import create_app
from igym_core.server.limits import Limits
from igym_core.settings import Settings
from tests.integration.conftest import Page
from tests.integration.test_multiplayer import STEPS, frames, send, until
from tests.unit.test_lobby import DuoPlugin


@pytest.fixture
def duo_app(tmp_path, plugins):
    plugins.register(DuoPlugin(), name="duo")
    experiment = Experiment(
        id="mp",
        scenes=[
            StaticScene(id="hi"),
            GameScene(
                id="play", env="duo", seats={"a0": "human", "a1": "human"}, max_steps=STEPS,
                reload_timeout_s=45,
            ),
            EndScene(id="end", completion_code="MP"),
        ],
    )  # fmt: skip
    settings = Settings(
        data_dir=tmp_path, ice_servers=(), left_grace_s=0.3, limits=Limits(telemetry_per_episode=50)
    )
    return create_app(experiment, settings, plugins=plugins)


async def into_game(client, pid: str, joined: asyncio.Queue) -> tuple[Page, dict, object]:
    """A page of ``pid`` in the game scene, matched and started (its websocket stays open)."""
    context = client.websocket("/ws")
    ws = await context.__aenter__()
    page = Page(ws)
    await page.hello(subject_id=pid)
    await page.submit({})
    await send(page, {"type": "lobby_join", "scene_id": "play"})
    match = await until(page, "match")
    await send(page, {"type": "probe", "match_id": match["match_id"], "ok": True, "rtt_ms": 1.0})
    await until(page, "match_start")
    await send(page, {"type": "episode_start", "scene_id": "play", "episode": 0})
    await acked(page)
    await joined.put(pid)
    return page, match, context


async def pair_in_game(client, first: str, second: str) -> list[tuple[Page, dict, object]]:
    """Two pages matched with each other and playing (see :func:`into_game`)."""
    joined: asyncio.Queue = asyncio.Queue()
    return list(
        await asyncio.gather(into_game(client, first, joined), into_game(client, second, joined))
    )


async def acked(page: Page) -> None:
    """Until the page's last message is acked (acks of earlier ones may come later)."""
    while True:
        message = await asyncio.wait_for(page.recv(), timeout=10)
        if message["type"] == "ack" and message["seq"] == page.seq:
            return
        assert message["type"] != "error", message


def state(app):
    return app.extensions["igym"]


async def test_a_goodbye_ends_the_game_for_the_partner_naming_who_left(duo_app):
    client = duo_app.test_client()
    (a, match, ca), (b, _, cb) = await pair_in_game(client, "stay", "leaver")
    records = frames()[:5]
    await send(a, {"type": "frames", "scene_id": "play", "episode": 0, "records": records})
    await acked(a)
    await send(a, {"type": "pause", "match_id": match["match_id"], "episode": 0, "frame": 5,
                   "state": "paused", "waiting_for": ["peer1" if match["you"] == 0 else "peer0"]})  # fmt: skip
    await acked(a)
    await b.send({"type": "bye"})
    await cb.__aexit__(None, None, None)  # the tab closes
    lobby = state(duo_app).lobby.engine
    for _ in range(100):
        await asyncio.sleep(0.05)
        lobby.expire()
        if lobby.tracker.matches[match["match_id"]].ended:
            break
    ended = await until(a, "match_ended")
    assert ended["reason"] == "partner_left:leaver"
    await send(a, {"type": "submit", "scene_id": "play", "responses": {}})  # Continue at once
    assert (await until(a, "scene"))["scene"]["kind"] == "end"
    await ca.__aexit__(None, None, None)
    store = state(duo_app).store
    store.flush()
    reader = store.reader()
    (m,) = [r for r in reader.match_outcomes() if r["status"] == "ended"]
    assert m["end_reason"] == "partner_left:leaver" and m["left"] == "leaver"
    assert (m["disconnections"], m["ended_episode"], m["ended_frame"]) == (1, 0, 5)
    episodes = {e["participant_id"]: e for e in reader.episodes()}
    assert episodes["stay"]["termination"]["reason"] == "partner_left"
    assert episodes["leaver"]["termination"]["reason"] == "left"
    for e in episodes.values():
        assert e["termination"]["disconnected"] == "leaver"
        assert e["termination"]["frame"] == 5
    (record,) = reader.disconnections()
    assert (record["participant_id"], record["kind"], record["outcome"]) == (
        "leaver", "closed", "left",
    )  # fmt: skip


async def test_a_reloaded_page_rejoins_its_game_and_gets_its_records_back(duo_app):
    client = duo_app.test_client()
    (a, match, ca), (b, b_match, cb) = await pair_in_game(client, "ra", "rb")
    records = frames()[:6]
    records[5]["state_hash"] = "ab" * 16
    await send(b, {"type": "frames", "scene_id": "play", "episode": 0, "records": records})
    await acked(b)
    # a reload: the browser asks for the new page (with the cookie the page set) ...
    await client.get("/", headers={"Cookie": "igym_pid=rb"})
    await b.send({"type": "bye"})
    await cb.__aexit__(None, None, None)  # ... then the old page goes ...
    await asyncio.sleep(0.2)  # longer than a closed tab's grace, within a reload's
    state(duo_app).lobby.engine.expire()
    assert state(duo_app).lobby.engine.tracker.matches[match["match_id"]].ended is None
    async with client.websocket("/ws") as ws:  # ... and the new one says hello
        page = Page(ws)
        page.participant_id, page.token = b.participant_id, b.token
        await page.hello(subject_id="rb")
        scene = page.scene["scene"]
        assert scene["id"] == "play" and scene["multiplayer"]["reload_timeout_s"] == 45
        resume = scene["resume"]
        assert resume["episode"] == 0 and [f["frame"] for f in resume["frames"]] == list(range(6))
        assert resume["frames"][5]["state_hash"] == "ab" * 16
        assert set(resume["frames"][0]) >= {"actions", "rewards", "terminated", "infos"}
        await asyncio.sleep(0.5)
        state(duo_app).lobby.engine.expire()  # past the goodbye grace: it came back in time
        await send(page, {"type": "lobby_join", "scene_id": "play"})
        again = await until(page, "match")
        assert again["match_id"] == match["match_id"] and again["you"] == b_match["you"]
        assert list(again["links"].values()) == [1]
        await until(page, "match_start")
        reset = await until(a, "peer_link")
        assert (reset["gen"], reset["reason"], reset["hold_s"]) == (1, "rejoined", 45)
        assert state(duo_app).lobby.engine.tracker.matches[match["match_id"]].ended is None
    await ca.__aexit__(None, None, None)


async def test_telemetry_is_stored_once_within_its_budget_and_summarised(duo_app):
    client = duo_app.test_client()
    (a, _match, ca), (_b, _, cb) = await pair_in_game(client, "ta", "tb")
    now = time.time()
    samples = [[now + i, "p2p_rtt_ms", 10.0 + i] for i in range(20)]
    samples += [[now + i, "candidate_type", "host"] for i in range(20)]
    message = {"type": "telemetry", "scene_id": "play", "episode": 0, "samples": samples}
    await send(a, message)
    await acked(a)
    a.seq -= 1
    await send(a, message)  # sent again after a reconnect: stored once
    await acked(a)
    await send(a, {**message, "samples": [[now + 99, "x", 1.0]] * 11})
    error = await until(a, "error")
    assert error["code"] == "telemetry_budget"
    await send(a, {**message, "samples": [[now - 10**6, "rtt", 1.0]]})
    assert (await until(a, "error"))["code"] == "invalid"
    await send(a, {**message, "samples": [[now, "Bad Name", 1.0]]})
    assert "lowercase" in (await until(a, "error"))["message"]
    await send(a, {"type": "episode_end", "scene_id": "play", "episode": 0, "frames": 0,
                   "partial": True})  # fmt: skip
    await acked(a)
    for context in (ca, cb):
        await context.__aexit__(None, None, None)
    store = state(duo_app).store
    store.flush()
    reader = store.reader()
    rows = list(reader.telemetry())
    assert len(rows) == 40
    assert {r["metric"] for r in rows} == {"p2p_rtt_ms", "candidate_type"}
    (episode,) = [e for e in reader.episodes() if e["participant_id"] == "ta"]
    assert episode["telemetry"] == {"p2p_rtt_ms": {"p50": 19.0, "p95": 28.0, "max": 29.0}}


def test_the_export_has_telemetry_disconnections_and_flat_termination_columns(tmp_path, plugins):
    from igym_core.storage.store import Store

    store = Store(tmp_path / "s.sqlite3", "mp")
    store.create_participant("p", "h", {}, 0).result()
    store.start_episode("p", "play", 0, 1, 1.0).result()
    store.save_match("m", "play", ["p", "q"], "fifo", "ended", "reconnect_timeout:q", 0.0, 9.0)
    store.save_disconnection(
        {"record_id": "m:1", "match_id": "m", "scene_id": "play", "participant_id": "q",
         "episode": 0, "kind": "network", "started_at": 5.0, "frame": 130, "ended_at": 10.0,
         "outcome": "reconnect_timeout", "pause_ms": 5000.0}
    )  # fmt: skip
    store.add_telemetry("p", "play", 0, [(5.0, "ws_rtt_ms", 3.5)]).result()
    store.flush()
    result = export_store(store, tmp_path / "out", plugins)
    assert not result.problems
    import csv

    with (tmp_path / "out/csv/episodes.csv").open() as f:
        (row,) = csv.DictReader(f)
    assert row["termination.reason"] == "reconnect_timeout"
    assert row["termination.disconnected"] == "q" and row["termination.frame"] == "130"
    assert row["telemetry.ws_rtt_ms.p95"] == "3.5"
    with (tmp_path / "out/csv/matches.csv").open() as f:
        (match,) = csv.DictReader(f)
    assert match["left"] == "q" and match["pause_ms"] == "5000.0"
    with (tmp_path / "out/csv/telemetry.csv").open() as f:
        assert next(csv.reader(f)) == [
            "participant_id",
            "scene_id",
            "episode",
            "t",
            "metric",
            "value",
        ]
