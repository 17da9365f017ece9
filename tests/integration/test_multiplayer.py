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
def mp_app(tmp_path, plugins):
    plugins.register(DuoPlugin(), name="duo")
    experiment = Experiment(
        id="mp",
        scenes=[
            StaticScene(id="hi"),
            GameScene(id="play", env="duo", seats={"a0": "human", "a1": "human"}, max_steps=STEPS),
            EndScene(id="end", completion_code="MP"),
        ],
    )
    return create_app(experiment, Settings(data_dir=tmp_path, ice_servers=()), plugins=plugins)


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
        assert me["participant_id"] == pid
        others = [m["participant_id"] for m in match["members"] if m["participant_id"] != pid]
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
        assert relayed["sender"] == others[0] and relayed["data"]["sdp"] == f"v=0 {others[0]}"
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
