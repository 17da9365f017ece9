"""Load check: the admin dashboard stays live with 200 scripted participants.

200 websocket participants go through the admin test study (consent, a single-player game,
a two-player game, the end) against a real server, arriving over about 20 s, while an admin's
event stream is open. For every arrival and every completion, the lag is the time from the
participant's own reply (welcome, end scene) to the first dashboard update that counts it; the
requirement is at most 2 s. Prints the percentiles and the server's /healthz latency meanwhile
(the dashboard's reads must not hold up the event loop).
"""

from __future__ import annotations

import asyncio
import http.client
import itertools
import json
import time

import pytest

from tests.e2e.scripted import Outcome, Participant, Plan, run_in_thread
from tests.e2e.test_admin_console import PASSWORD, STUDY

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PARTICIPANTS = 200
ARRIVAL_S = 0.1
MAX_LAG_S = 2.0


def login(port: int) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request(
        "POST",
        "/admin/login",
        body=f"password={PASSWORD.replace(' ', '+')}",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    reply = conn.getresponse()
    assert reply.status == 303, reply.read()
    cookie = reply.getheader("Set-Cookie")
    assert cookie
    return cookie.split(";", 1)[0]


async def stream(
    port: int, cookie: str, updates: list[tuple[float, dict]], stop: asyncio.Event
) -> None:
    """Read the admin event stream; note each summary with the time it arrived."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        f"GET /admin/api/stream HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nCookie: {cookie}\r\n"
        "Accept: text/event-stream\r\n\r\n".encode()
    )
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    assert b" 200 " in head.split(b"\r\n", 1)[0], head
    chunked = b"chunked" in head.lower()
    buffer = b""
    try:
        while not stop.is_set():
            if chunked:
                size = int((await reader.readline()).strip() or b"0", 16)
                data = await reader.readexactly(size + 2)
                buffer += data[:-2]
            else:
                buffer += await reader.read(65536)
            while b"\n\n" in buffer:
                block, buffer = buffer.split(b"\n\n", 1)
                lines = block.split(b"\n")
                if b"event: summary" in lines:
                    data = next(line[6:] for line in lines if line.startswith(b"data: "))
                    updates.append((time.time(), json.loads(data)))
    finally:
        writer.close()


async def healthz(port: int, samples: list[float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        started = time.perf_counter()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        await writer.drain()
        await reader.read()
        writer.close()
        samples.append((time.perf_counter() - started) * 1000)
        await asyncio.sleep(0.1)


def lags(moments: list[float], updates: list[tuple[float, dict]], count: str) -> list[float]:
    """For the j-th moment (sorted), the wait until an update counted at least j."""
    out = []
    for j, moment in enumerate(sorted(moments), start=1):
        seen = next((at for at, snap in updates if snap["counts"][count] >= j), None)
        assert seen is not None, f"no dashboard update ever counted {j} {count}"
        out.append(max(0.0, seen - moment))
    return out


def percentile(xs: list[float], q: float) -> float:
    ordered = sorted(xs)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def test_the_dashboard_stays_live_with_200_participants(igym_server, monkeypatch):
    monkeypatch.setenv("IGYM_ADMIN_PASSWORD", PASSWORD)
    server = igym_server(STUDY)
    cookie = login(server.port)

    async def work() -> tuple[list[Outcome], list[tuple[float, dict]], list[float], dict]:
        updates: list[tuple[float, dict]] = []
        health: list[float] = []
        finished: dict[str, float] = {}
        stop = asyncio.Event()
        watcher = asyncio.ensure_future(stream(server.port, cookie, updates, stop))
        pinger = asyncio.ensure_future(healthz(server.port, health, stop))
        await asyncio.sleep(1)

        async def one(i: int) -> Outcome:
            await asyncio.sleep(i * ARRIVAL_S)
            outcome = await Participant(server.base_url, Plan(f"load{i:03d}", pace_s=0.2)).run()
            finished[outcome.subject] = time.time()
            return outcome

        outcomes = await asyncio.wait_for(
            asyncio.gather(*(one(i) for i in range(PARTICIPANTS))), 240
        )
        await asyncio.sleep(MAX_LAG_S + 1)
        stop.set()
        for task in (watcher, pinger):
            task.cancel()
        return outcomes, updates, health, finished

    thread, result = run_in_thread(work)
    thread.join(300)
    assert not thread.is_alive(), "the load check did not finish in 5 minutes"
    assert "error" not in result, result.get("error")
    outcomes, updates, health, finished = result["value"]
    assert all(o.done for o in outcomes), [o for o in outcomes if not o.done][:3]
    assert updates[-1][1]["counts"]["completed"] == PARTICIPANTS
    assert updates[-1][1]["matches"]["finished"] == PARTICIPANTS // 2
    arrivals = lags([o.welcomed_at for o in outcomes], updates, "total")
    completions = lags(list(finished.values()), updates, "completed")
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(updates)]
    print(
        f"admin dashboard with {PARTICIPANTS} participants: {len(updates)} updates "
        f"(median gap {percentile(gaps, 0.5):.2f} s); lag after an arrival p50 "
        f"{percentile(arrivals, 0.5):.2f} s p95 {percentile(arrivals, 0.95):.2f} s max "
        f"{max(arrivals):.2f} s; after a completion p50 {percentile(completions, 0.5):.2f} s p95 "
        f"{percentile(completions, 0.95):.2f} s max {max(completions):.2f} s; /healthz p50 "
        f"{percentile(health, 0.5):.1f} ms p99 {percentile(health, 0.99):.1f} ms max "
        f"{max(health):.1f} ms"
    )
    assert max(arrivals) <= MAX_LAG_S and max(completions) <= MAX_LAG_S
