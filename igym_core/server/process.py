"""How a serving process runs: its event loop and its garbage collector.

:func:`serve_forever` runs the server's main coroutine, and every process that serves igym
(``igym run``, the test and benchmark servers) goes through it, so that what is measured is
what is hosted:

- **The event loop is uvloop's** where uvloop is installed (a core dependency on Linux and
  macOS; asyncio's own loop elsewhere). Every message a page sends costs a few socket calls and
  callbacks; uvloop does them in C.
- **The collector leaves start-up alone.** What exists once the apps are made (modules, the
  experiment, parsers, the plugin manager: ~65,000 objects) lives as long as the process, yet
  a full collection walks it every time (~40 ms here, more when the machine is busy): that
  pause lands on whichever participants' messages are waiting. It is frozen
  (:func:`gc.freeze`) so collections look only at what was made since, and young collections
  run less often (each message makes and drops many small objects; few of them survive).
- **What survives moves on in small batches.** An open connection is ~220 objects
  (Hypercorn's, Quart's, asyncio's and ours) that live as long as the page. With CPython's
  default of ten young collections per middle one, 1,000 pages arriving in 10 s made one middle
  collection walk ~210,000 of them (~170 ms, every page's messages waiting). A middle
  collection after every two young ones walks ~55,000 (25-50 ms); full collections stay about
  as rare as before (one in ~150 collections; the defaults made it one in ~120).
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

#: allocations between young collections (CPython's default is 700)
YOUNG_THRESHOLD = 20_000
#: young collections after which the next one is a middle one (CPython's default is 10)
MIDDLE_THRESHOLD = 1
#: middle collections after which the next one is a full one (CPython's default is 10)
OLD_THRESHOLD = 50


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop where it is installed, else None (asyncio's)."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - a platform without uvloop (Windows)
        return None
    return uvloop.new_event_loop


def settle_heap() -> None:
    """Collect once, then freeze what is left: the process's start-up objects."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, MIDDLE_THRESHOLD, OLD_THRESHOLD)


def serve_forever(main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` (the process's servers) to its end, as igym serves."""
    settle_heap()
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(main)
