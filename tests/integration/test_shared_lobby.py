"""Several igym processes share one lobby through Redis (``--redis``) and one store in
PostgreSQL: participants on different processes are matched and play with parity, and when a
process is killed its participants reconnect to another and are matched there.

Real servers throughout: two ``igym`` server processes, Debian's Redis and PostgreSQL started
by the fixtures, scripted participants speaking the page's protocol over websockets."""

from __future__ import annotations

import asyncio
import json
import time

import psycopg
import pytest
import redis

from igym_core.load.run import run_load
from igym_core.load.scripted import ScriptedParticipant
from tests.conftest import ROOT
from tests.hardening.conftest import Server

EXAMPLE = str(ROOT / "examples" / "overcooked_human_human.py")
SCHEMA = "igym_overcooked_human_human"


@pytest.fixture
def processes(tmp_path, postgres_url, redis_url):
    """Start igym processes sharing ``redis_url`` and ``postgres_url``."""
    started: list[Server] = []

    def start(name: str) -> Server:
        spec = {
            "experiment": EXAMPLE,
            "data_dir": str(tmp_path / name),
            "limits": {},
            "settings": {"database": postgres_url, "redis": redis_url},
        }
        server = Server(spec).start()
        started.append(server)
        return server

    yield start
    for server in started:
        if server.process.poll() is None:
            server.process.kill()
        server.process.wait()


def rows(postgres_url: str, sql: str) -> list[tuple]:
    with psycopg.connect(postgres_url) as db:
        db.execute(f"SET search_path TO {SCHEMA}")
        return db.execute(sql).fetchall()


def leader(redis_url: str) -> str | None:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        return client.get("igym:overcooked_human_human:leader")
    finally:
        client.close()


def where(redis_url: str) -> dict[str, str]:
    """Which process each open page is connected to."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        return client.hgetall("igym:overcooked_human_human:where")
    finally:
        client.close()


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


@pytest.mark.slow
async def test_participants_on_two_processes_are_matched_and_play_with_parity(
    processes, postgres_url, redis_url
):
    a, b = processes("a"), processes("b")
    # one waits on process a, the other joins on process b: they can only be matched together
    one, r1 = await open_page(a.ws_url, "one")
    await one.request({"type": "lobby_join", "scene_id": "cooking"}, "lobby_join")
    await one.until("lobby")
    other, r2 = await open_page(b.ws_url, "other")
    one.speed = other.speed = 8
    deadline = time.monotonic() + 60
    await asyncio.gather(one._multiplayer(deadline), other._multiplayer(deadline))
    assert not one.errors and not other.errors, (one.errors, other.errors)
    for page, reader in ((one, r1), (other, r2)):
        reader.cancel()
        await page.ws.close()
    # and twenty more, taking the two processes in turn
    report = await run_load(
        [a.ws_url, b.ws_url], 20, duration_s=90, ramp_s=1, sources=20, speed=8,
        server_pid=[a.pid, b.pid],
    )  # fmt: skip
    print("\n" + report.text())
    assert not report.failures and not report.errors, report.as_dict()
    assert report.finished == 20
    assert "probe" in report.samples and "lobby_join" in report.samples
    frames = dict(rows(postgres_url, "SELECT participant_id, COUNT(*) FROM frames GROUP BY 1"))
    assert len(frames) == 22 and set(frames.values()) == {2 * 450}
    parity = [r[0] for r in rows(postgres_url, "SELECT status FROM parity")]
    assert parity == ["identical"] * 22  # 11 matches x 2 episodes
    matches = [json.loads(m) for (m,) in rows(postgres_url, "SELECT members FROM matches")]
    assert len(matches) == 11 and ["one", "other"] in matches
    split = [m for m in matches if len({int(p.rsplit("-", 1)[1]) % 2 for p in m if "-" in p}) == 2]
    print(f"{len(split)} of the 10 scripted pairs were split between the processes")


async def open_page(url: str, name: str) -> tuple[ScriptedParticipant, asyncio.Task]:
    """A page that said hello and answered the static scenes up to the game scene."""
    page = ScriptedParticipant(url, name, lambda kind, ms: None)
    from websockets.asyncio.client import connect

    page.ws = await connect(url, max_size=None)
    reader = asyncio.ensure_future(page._read())
    await page._hello()
    while page.scene["kind"] != "game":
        await page._play_scene(time.monotonic() + 60)
    return page, reader


async def reopen(page: ScriptedParticipant, url: str) -> asyncio.Task:
    """The same participant's page, reconnected to another process (its stored token)."""
    from websockets.asyncio.client import connect

    page.ws = await connect(url, max_size=None)
    reader = asyncio.ensure_future(page._read())
    await page._send(
        {
            "type": "hello",
            "params": {"PROLIFIC_PID": page.name},
            "participant_id": page.name,
            "token": page.token,
        }
    )
    welcome = await page.until_any(("welcome", "error"))
    assert welcome["type"] == "welcome" and welcome["resumed"], welcome
    page.scene = (await page.until("scene"))["scene"]
    return reader


@pytest.mark.slow
async def test_a_killed_leader_s_participants_reconnect_to_the_other_process_and_are_matched(
    processes, postgres_url, redis_url
):
    a = processes("a")
    wait_for(lambda: leader(redis_url) is not None, 10, "process a to lead the lobby")
    b = processes("b")
    a_id = leader(redis_url)
    assert str(a.pid) in a_id  # a leads; b forwards
    p1, r1 = await open_page(a.ws_url, "moved")
    _, r3 = await open_page(a.ws_url, "stranded")
    await p1.request({"type": "lobby_join", "scene_id": "cooking"}, "lobby_join")
    assert where(redis_url) == {"moved": a_id, "stranded": a_id}
    a.process.kill()  # kill -9: no goodbye, the lease and the process's key just expire
    a.process.wait()
    for reader in (r1, r3):
        reader.cancel()
    started = time.monotonic()
    r1 = await reopen(p1, b.ws_url)
    assert p1.scene["id"] == "cooking"
    p2, r2 = await open_page(b.ws_url, "partner")
    p1.speed = p2.speed = 8
    deadline = time.monotonic() + 60
    await asyncio.gather(p1._multiplayer(deadline), p2._multiplayer(deadline))
    print(f"\nmatched and played {time.monotonic() - started:.1f} s after the kill")
    assert str(b.pid) in leader(redis_url)
    assert not p1.errors and not p2.errors, (p1.errors, p2.errors)
    [(members,)] = rows(postgres_url, "SELECT members FROM matches WHERE status != 'requeued'")
    assert sorted(json.loads(members)) == ["moved", "partner"]
    parity = [r[0] for r in rows(postgres_url, "SELECT status FROM parity")]
    assert parity == ["identical", "identical"]
    # the page that died with process a and never came back is known to be gone
    b_id = leader(redis_url)
    assert where(redis_url) == {"moved": b_id, "partner": b_id}
    for page, reader in ((p1, r1), (p2, r2)):
        reader.cancel()
        await page.ws.close()
