"""What already held before issue 10 and must go on holding: 1,000 concurrent sockets are all
served (the budgets per address are raised: they all come from 127.0.0.1 here)."""

from __future__ import annotations

import asyncio
import time

from tests.hardening.conftest import Page, p99

ONE_ADDRESS = {
    "connection_burst": 2000,
    "connections_per_s": 2000,
    "new_participants_per_min": 5000,
}


async def test_a_thousand_concurrent_sockets_are_all_served(hardened):
    server = hardened("static", **ONE_ADDRESS)
    started = time.monotonic()
    pages = await asyncio.gather(*(Page.open(server.ws_url) for _ in range(1000)))
    welcomes = await asyncio.gather(
        *(p.hello(PROLIFIC_PID=f"many-{i}") for i, p in enumerate(pages))
    )
    assert all(w["type"] == "welcome" for w in welcomes), [
        w for w in welcomes if w["type"] != "welcome"
    ][:3]
    for page in pages:
        await page.ping()
    deadline = time.monotonic() + 30
    while any(not p.rtts_ms for p in pages) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    took = time.monotonic() - started
    rtts = [p.rtts_ms[0] for p in pages if p.rtts_ms]
    print(
        f"\n1,000 sockets: all welcomed and answered in {took:.1f} s; ping p99 {p99(rtts):.0f} ms"
    )
    assert len(rtts) == 1000
    await asyncio.gather(*(p.close() for p in pages))
