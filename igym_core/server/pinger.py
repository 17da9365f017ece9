"""The server's own measure of a page's websocket round trip: a ``probe_ping`` out, the page's
``probe_pong`` back, timed on the server's monotonic clock (a page cannot make itself look
faster than it is)."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable

from igym_core.server.protocol import Outgoing, ProbePing

#: pings waiting for an answer per connection: older ones are forgotten
MAX_WAITING = 8


class Pinger:
    """One connection's pings. ``send`` queues a message for the page."""

    def __init__(self, send: Callable[[Outgoing], None]) -> None:
        self.send = send
        self._ids = itertools.count(1)
        self._waiting: dict[int, tuple[float, asyncio.Future[float]]] = {}

    async def ping(self, timeout_s: float) -> float:
        """One round trip in ms; ``timeout_s`` (as ms) when the page did not answer in time."""
        ping_id = next(self._ids)
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        while len(self._waiting) >= MAX_WAITING:  # never answered: as slow as a timeout
            _, old = self._waiting.pop(next(iter(self._waiting)))
            if not old.done():
                old.set_result(timeout_s * 1000.0)
        self._waiting[ping_id] = (time.monotonic(), future)
        self.send(ProbePing(ping_id))
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout_s)
        except TimeoutError:
            return timeout_s * 1000.0
        finally:
            self._waiting.pop(ping_id, None)

    def pong(self, ping_id: int) -> None:
        """The page answered ping ``ping_id`` (an unknown or late one is ignored)."""
        waiting = self._waiting.get(ping_id)
        if waiting is not None and not waiting[1].done():
            waiting[1].set_result((time.monotonic() - waiting[0]) * 1000.0)
