"""Item 1 of issue 10: another program holding the store's write lock never wedges the server."""

from __future__ import annotations

import asyncio
import sqlite3
import time
import urllib.request

from tests.hardening.conftest import Page, legit_participant, p99


def healthz_ms(url: str) -> float:
    started = time.perf_counter()
    with urllib.request.urlopen(url + "healthz", timeout=5) as response:
        assert response.status == 200
    return (time.perf_counter() - started) * 1000


async def test_a_locked_store_gives_a_clear_error_and_recovers_when_the_lock_goes(hardened):
    server = hardened("static", settings={"store_write_timeout_s": 1.0})
    # a researcher opens the live store in another SQLite tool and starts writing
    other = sqlite3.connect(server.store_path, isolation_level=None, timeout=10)
    other.execute("BEGIN IMMEDIATE")
    done = asyncio.Event()
    legit = asyncio.ensure_future(legit_participant(server.ws_url, "legit-lock", done))
    try:
        page = await Page.open(server.ws_url)
        started = time.monotonic()
        refused = await page.hello(PROLIFIC_PID="during-lock")
        waited = time.monotonic() - started
        assert refused["type"] == "error" and refused["code"] == "store_busy", refused
        assert "locked by another program" in refused["message"]
        assert 0.9 <= waited < 3, "the write gave up after its timeout, not at once nor never"
        # the event loop is free: the health check and pings answer at once
        health = [await asyncio.to_thread(healthz_ms, server.url) for _ in range(5)]
        assert max(health) < 500, health
        await asyncio.sleep(1.5)
    finally:
        other.execute("ROLLBACK")
        other.close()
    # the moment the lock is gone, the same hello goes through
    welcome = await page.hello(PROLIFIC_PID="during-lock")
    assert welcome["type"] == "welcome", welcome
    await page.close()
    done.set()
    rtts = await asyncio.wait_for(legit, 30)
    assert p99(rtts) < 100, f"p99 {p99(rtts):.1f} ms over {len(rtts)} pings"
    assert "store is locked by another program" in server.output()


async def test_sigterm_ends_the_server_while_another_program_holds_the_lock(hardened):
    server = hardened("static", settings={"store_write_timeout_s": 30.0})
    other = sqlite3.connect(server.store_path, isolation_level=None, timeout=10)
    other.execute("BEGIN IMMEDIATE")
    try:
        pages = [await Page.open(server.ws_url) for _ in range(5)]
        for i, page in enumerate(pages):  # writes that wait for the lock
            await page.send({"type": "hello", "params": {"PROLIFIC_PID": f"stuck{i}"}})
        await asyncio.sleep(0.5)
        took = await asyncio.to_thread(server.stop, 15)
        assert took < 8, f"SIGTERM took {took:.1f} s"
        assert server.process.returncode == 0, server.output()
    finally:
        other.execute("ROLLBACK")
        other.close()
