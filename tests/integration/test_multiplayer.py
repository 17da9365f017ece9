"""Multiplayer scenes over the websocket: six arrivals, three games, signaling, parity."""

from __future__ import annotations

import asyncio
import json

import pytest

from igym_core.config import EndScene, Experiment, GameScene, StaticScene
from igym_core.server.app import create_app
from igym_core.settings import Settings
from tests.integration.conftest import Page
from tests.unit.test_lobby import DuoPlugin

STEPS = 12


@pytest.fixture
def mp_app(tmp_path, plugins, database):
    plugins.register(DuoPlugin(), name="duo")
    experiment = Experiment(
        id="mp",
        scenes=[
            StaticScene(id="hi"),
            GameScene(id="play", env="duo", seats={"a0": "human", "a1": "human"}, max_steps=STEPS),
            EndScene(id="end", completion_code="MP"),
        ],
    )
    app = create_app(
        experiment, Settings(data_dir=tmp_path, ice_servers=(), database=database), plugins=plugins
    )
    yield app
    app.extensions["igym"].store.close()  # (served or not: its writer must not outlive the test)


async def until(page: Page, kind: str) -> dict:
    while True:
        message = await asyncio.wait_for(page.recv(), timeout=10)
        if message["type"] == kind:
            return message


async def send(page: Page, message: dict) -> None:
    page.seq += 1
    await page.send({"token": page.token, "seq": page.seq, **message})


def frames(flip: int | None = None) -> list[dict]:
    return [
        {
            "frame": f,
            "actions": {"a0": f % 2, "a1": 1 if f == flip else 0},
            "rewards": {"a0": 0.0, "a1": 0.0},
            "terminated": False,
            "truncated": f == STEPS - 1,
            "focused": {"a0": True, "a1": f % 5 != 0},
            "t": {"tick": float(f)},
        }
        for f in range(STEPS)
    ]


async def player(client, pid: str, results: dict, arrive: asyncio.Event, flip: int | None):
    async with client.websocket("/ws") as ws:
        page = Page(ws)
        await page.hello(subject_id=pid)
        await page.submit({})
        assert page.scene["scene"]["multiplayer"]["human_agents"] == ["a0", "a1"]
        await arrive.wait()  # everybody joins the waiting room at the same moment
        await send(page, {"type": "lobby_join", "scene_id": "play", "attributes": {"cohort": "x"}})
        match = await until(page, "match")
        me = match["members"][match["you"]]
        assert me["peer"] == f"peer{match['you']}"  # an alias: the partner never sees our id
        assert pid not in json.dumps(match)
        others = [m["peer"] for m in match["members"] if m is not me]
        # signaling: an offer to the partner, who gets it with our id
        await send(
            page,
            {
                "type": "signal",
                "match_id": match["match_id"],
                "to": others[0],
                "data": {"kind": "offer", "sdp": f"v=0 {pid}"},
            },
        )
        relayed = await until(page, "signal")
        assert relayed["sender"] == others[0] and relayed["data"]["sdp"].startswith("v=0 ")
        await send(
            page, {"type": "probe", "match_id": match["match_id"], "ok": True, "rtt_ms": 0.4}
        )
        await until(page, "match_start")
        await send(page, {"type": "episode_start", "scene_id": "play", "episode": 0})
        # the member with index 1 flips one action when asked to: a parity failure
        mine = frames(flip if match["you"] == 1 else None)
        await send(page, {"type": "frames", "scene_id": "play", "episode": 0, "records": mine})
        await send(page, {"type": "episode_end", "scene_id": "play", "episode": 0, "frames": STEPS})
        parity = await until(page, "parity")
        results[pid] = (match["match_id"], parity["status"], match["seeds"])
        await send(page, {"type": "submit", "scene_id": "play", "responses": {}})
        end = await until(page, "scene")
        assert end["scene"]["kind"] == "end"


async def test_six_participants_make_three_games_with_parity(mp_app):
    client = mp_app.test_client()
    results: dict = {}
    arrive = asyncio.Event()
    pids = [f"u{i}" for i in range(6)]
    tasks = [asyncio.ensure_future(player(client, pid, results, arrive, flip=None)) for pid in pids]
    await asyncio.sleep(0.2)
    arrive.set()
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=60)
    matches = {}
    for pid, (match_id, status, _seeds) in results.items():
        matches.setdefault(match_id, []).append(pid)
        assert status == "identical"
    assert sorted(len(v) for v in matches.values()) == [2, 2, 2]
    seeds = {m: {tuple(results[p][2]) for p in members} for m, members in matches.items()}
    assert all(len(s) == 1 for s in seeds.values())  # partners share their episode seeds
    store = mp_app.extensions["igym"].store
    rows = list(store.reader().parity())
    assert len(rows) == 3 and {r["status"] for r in rows} == {"identical"}
    log = mp_app.extensions["igym"].settings.assignment_log("mp").read_text().splitlines()
    assignments = [json.loads(x) for x in log if "participants" in json.loads(x)]
    assert len(assignments) == 3
    assert all(
        a["participants"][0]["attributes"]
        == {"subject_id": a["participants"][0]["participant_id"], "cohort": "x"}
        for a in assignments
    )
    assert {r["status"] for r in store.reader().matches()} == {"ended"}


async def test_a_difference_is_flagged_with_the_first_divergent_frame(mp_app):
    client = mp_app.test_client()
    results: dict = {}
    arrive = asyncio.Event()
    tasks = [
        asyncio.ensure_future(player(client, pid, results, arrive, flip=7)) for pid in ("x1", "x2")
    ]
    await asyncio.sleep(0.1)
    arrive.set()
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=30)
    assert {status for _, status, _ in results.values()} == {"mismatch"}
    [row] = list(mp_app.extensions["igym"].store.reader().parity())
    assert row["first_difference"]["frame"] == 7
    assert row["first_difference"]["column"] == "actions"
    # both logs are kept, and the validation document shows them side by side
    assert {h["frames"] for h in row["hashes"].values()} == {STEPS}
    [validation] = list(mp_app.extensions["igym"].store.reader().validations())
    document = validation["document"]
    assert document["status"] == "mismatch" and document["first_difference"]["frame"] == 7
    actions = [p["frames"][7]["actions"]["a1"] for p in document["peers"].values()]
    assert sorted(actions) == [0, 1]


async def upto(page: Page, kind: str) -> list[dict]:
    """Every message up to and including the first of ``kind``."""
    got = []
    while not got or got[-1]["type"] != kind:
        got.append(await asyncio.wait_for(page.recv(), timeout=10))
    return got


async def relay(page: Page, match_id: str, to: str, **payload) -> None:
    message = {"type": "relay", "match_id": match_id, "to": to, **payload}
    await page.send({"token": page.token, "seq": 0, **message})  # as the client: seq 0


async def test_relay_forwards_game_packets_while_playing_and_refuses_the_rest(mp_app):
    client = mp_app.test_client()
    async with (
        client.websocket("/ws") as ws1,
        client.websocket("/ws") as ws2,
        client.websocket("/ws") as ws3,
    ):
        a, b, c = Page(ws1), Page(ws2), Page(ws3)
        for page, pid in ((a, "ra"), (b, "rb"), (c, "rc")):
            await page.hello(subject_id=pid)
            await page.submit({})
        for page in (a, b, c):
            await send(page, {"type": "lobby_join", "scene_id": "play"})
            await until(page, "ack")  # b is sent its match before the ack
        match_id = (await until(a, "match"))["match_id"]
        lobby = mp_app.extensions["igym"].lobby.engine
        assert lobby.match_of("rb", "play") == match_id
        assert lobby.match_of("rc", "play") is None  # the third one waits

        async def refused(page: Page, code: str, text: str) -> None:
            error = await until(page, "error")
            assert error["code"] == code and text in error["message"], error
            assert error["seq"] == 0

        # while validating, a relayed ping would fake the P2P RTT
        await relay(a, match_id, "peer1", packets=["AA=="])
        await refused(a, "not_playing", "only allowed in the playing phase")
        for page in (a, b):
            await send(page, {"type": "probe", "match_id": match_id, "ok": True, "rtt_ms": 1.0})
        await until(a, "match_start")
        await until(b, "match_start")

        packets = ["AAECAwQ=", "/+7dzA=="]
        controls = [{"t": "ready", "episode": 0}, {"t": "ping", "id": 3}]
        await relay(a, match_id, "peer1", packets=packets, controls=controls)
        got = await until(b, "relay")
        assert got == {
            "type": "relay",
            "match_id": match_id,
            "sender": "peer0",
            "packets": packets,
            "controls": controls,
        }
        await relay(b, match_id, "peer0", controls=[{"t": "pong", "id": 3}])
        assert (await until(a, "relay"))["controls"] == [{"t": "pong", "id": 3}]
        # no ack, no error: the next thing the sender hears is the pong of a ping
        await relay(a, match_id, "peer1", packets=["AA=="])
        await a.send({"type": "ping", "t": 2.0})
        assert [m["type"] for m in await upto(a, "pong")] == ["pong"]
        assert (await until(b, "relay"))["packets"] == ["AA=="]

        # refused, each with a clear error, and the connection stays open
        await relay(c, match_id, "peer0", packets=["AA=="])
        await refused(c, "invalid", f"you are not in match {match_id!r}")
        cases = [
            ({"to": "peer0", "packets": ["AA=="]}, "'peer0' is not another member"),
            ({"to": "rb", "packets": ["AA=="]}, "'rb' is not another member"),
            ({"to": "peer1", "packets": ["AA=="] * 17}, "17 packets in one relay message"),
            ({"to": "peer1", "packets": ["AA==", "%%%"]}, "relay packet 1 is not valid base64"),
            ({"to": "peer1", "packets": ["A" * 2052]}, "relay packet 0 has 2052 characters"),
            (
                {"to": "peer1", "controls": [{"x": "y" * 1100}]},
                "relay control 0 is 1108 characters",
            ),
            ({"to": "peer1"}, "needs at least one packet or control"),
        ]
        for payload, text in cases:
            to = payload.pop("to")
            await relay(a, match_id, to, **payload)
            await refused(a, "invalid", text)
        await relay(a, match_id, "peer1", packets=["AQ=="])
        await a.send({"type": "ping", "t": 3.0})
        await until(a, "pong")  # the relay was handled: it is in b's queue before b's pong
        await b.send({"type": "ping", "t": 3.0})
        # nothing of the refused ones reached the partner
        assert [m["type"] for m in await upto(b, "pong")] == ["relay", "pong"]
        match = lobby.tracker.matches[match_id]
        assert match.relayed == {
            "ra": {"messages": 3, "packets": 4, "controls": 2},
            "rb": {"messages": 1, "packets": 0, "controls": 1},
        }


async def test_leaving_the_waiting_room_does_not_finish_the_scene(mp_app):
    """Joining then leaving the lobby is not playing: no completion code for it. A waiting
    room that timed out (the server's decision) does let the participant go on."""
    client = mp_app.test_client()
    async with client.websocket("/ws") as ws:
        page = Page(ws)
        await page.hello(subject_id="quitter")
        await page.submit({})
        await send(page, {"type": "lobby_join", "scene_id": "play"})
        await until(page, "ack")
        await send(page, {"type": "lobby_leave", "scene_id": "play", "reason": "left"})
        await until(page, "ack")
        await send(page, {"type": "submit", "scene_id": "play", "responses": {}})
        refused = await until(page, "error")
        assert refused["code"] == "episodes_incomplete", refused
        assert "episode 0 is not played" in refused["message"]
    lobby = mp_app.extensions["igym"].lobby.engine
    async with client.websocket("/ws") as ws:
        page = Page(ws)
        await page.hello(subject_id="patient")
        await page.submit({})
        await send(page, {"type": "lobby_join", "scene_id": "play"})
        await until(page, "ack")
        lobby.tracker.session("patient", "play").waiting_since -= 10_000
        lobby.expire()
        assert (await until(page, "lobby_timeout"))["message"].startswith("Sorry")
        await send(page, {"type": "submit", "scene_id": "play", "responses": {}})
        assert (await until(page, "scene"))["scene"]["kind"] == "end"
    store = mp_app.extensions["igym"].store
    status = {
        (p["participant_id"], p["scene_id"]): p["status"] for p in store.reader().scene_progress()
    }
    assert status[("patient", "play")] == "waiting_timeout"
    assert status[("quitter", "play")] is None
    assert store.participant("quitter").scene_index == 1
