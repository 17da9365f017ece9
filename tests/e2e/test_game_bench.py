"""Smoke test: the browser benchmark runs and prints its figures (never timed here)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.e2e.conftest import ROOT

pytestmark = pytest.mark.e2e


def test_the_browser_benchmark_runs_briefly(chromium_path, built_client):
    done = subprocess.run(
        [sys.executable, "tests/bench/bench_browser.py", "--boots", "1", "--episodes", "1",
         "--steps", "60"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "IGYM_CHROMIUM": chromium_path},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    for line in (
        "pyodide ready (worker start -> READY): cold median",
        "env step in the worker (one Python call per tick): p50",
        "main -> worker -> Python -> main round trip during play: p50",
        "input-to-drawn: p50",
        "worker clock: tick lateness p50",
        "main-thread 500 ms heartbeat while Pyodide boots: worst",
        "websocket: {'opened': 1, 'closed': 0}",
    ):
        assert line in out, out
