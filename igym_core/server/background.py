"""Work the server starts and does not wait for, kept until it is done.

A parity check runs after both members' episode ends were acknowledged: a page's ack waits
for its own write, not for reading and comparing everybody's frames. :class:`Background` holds
such tasks (the event loop keeps only weak references to them), logs a failure with what the
work was, and lets the server finish them before its store closes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger("igym.server")


class Background:
    def __init__(self, what: str) -> None:
        self.what = what  # "the parity check": named in the log when one fails
        self._tasks: set[asyncio.Task] = set()

    def __len__(self) -> int:
        return len(self._tasks)

    def start(self, job: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.ensure_future(job)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("%s failed", self.what, exc_info=task.exception())

    async def finish(self, timeout_s: float) -> None:
        """Wait at most ``timeout_s`` for what is running, then cancel the rest."""
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=timeout_s)
        for task in pending:
            task.cancel()
        if pending:
            log.warning(
                "%s: %d cancelled, unfinished after %g s", self.what, len(pending), timeout_s
            )
            await asyncio.gather(*pending, return_exceptions=True)
