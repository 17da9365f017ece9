"""The serving process: uvloop's event loop, and a collector that leaves start-up alone."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import asyncio, gc, json
from igym_core.server.process import YOUNG_THRESHOLD, serve_forever

walked = []  # objects a middle collection looks at: the young and the middle generations
def watch(phase, info):
    if phase == "start" and info["generation"] == 1:
        walked.append(len(gc.get_objects(0)) + len(gc.get_objects(1)))

async def main():
    loop = asyncio.get_running_loop()
    gc.callbacks.append(watch)
    pages = [[[] for _ in range(200)] for _ in range(2_000)]  # long-lived, as open pages are
    gc.callbacks.remove(watch)
    return {
        "loop": type(loop).__module__,
        "threshold": gc.get_threshold()[0],
        "frozen": gc.get_freeze_count(),
        "young": YOUNG_THRESHOLD,
        "kept": len(pages) * len(pages[0]),
        "walked": walked,
    }
print(json.dumps(serve_forever(main())))
"""


def probe() -> dict:
    # a process of its own: freezing the heap is for a whole serving process, not for pytest's
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, check=True
    )
    return json.loads(out.stdout)


def test_serving_runs_on_uvloop_with_start_up_frozen():
    seen = probe()
    assert seen["loop"].startswith("uvloop")
    assert seen["threshold"] == seen["young"] > 700
    assert seen["frozen"] > 10_000, "the modules and objects made at start-up are frozen"


def test_objects_that_survive_are_walked_in_small_batches():
    # 400,000 long-lived objects made in one go, as a burst of arriving pages makes them: no
    # middle collection looks at more than a few young collections' worth of them at once
    seen = probe()
    assert seen["kept"] == 400_000
    assert len(seen["walked"]) >= 3, seen["walked"]
    assert max(seen["walked"]) <= 4 * seen["young"], seen["walked"]
