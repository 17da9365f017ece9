"""The serving process: uvloop's event loop, and a collector that leaves start-up alone."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import asyncio, gc, json
from igym_core.server.process import YOUNG_THRESHOLD, serve_forever

made_before = [object() for _ in range(3)]
async def main():
    loop = asyncio.get_running_loop()
    return {
        "loop": type(loop).__module__,
        "threshold": gc.get_threshold()[0],
        "frozen": gc.get_freeze_count(),
        "young": YOUNG_THRESHOLD,
    }
print(json.dumps(serve_forever(main())))
"""


def test_serving_runs_on_uvloop_with_start_up_frozen():
    # a process of its own: freezing the heap is for a whole serving process, not for pytest's
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, check=True
    )
    seen = json.loads(out.stdout)
    assert seen["loop"].startswith("uvloop")
    assert seen["threshold"] == seen["young"] > 700
    assert seen["frozen"] > 10_000, "the modules and objects made at start-up are frozen"
