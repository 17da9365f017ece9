"""Smoke test: the browser benchmark runs and prints its figures (never timed here)."""

from __future__ import annotations

import pytest

from tests.e2e.helpers import check_benchmark_prints

pytestmark = pytest.mark.e2e


def test_the_browser_benchmark_runs_briefly(chromium_path, built_client):
    check_benchmark_prints(
        "tests/bench/bench_browser.py",
        ["--boots", "1", "--episodes", "1", "--steps", "60"],
        chromium_path,
        [
            "pyodide ready (worker start -> READY): cold median",
            "env step in the worker (one Python call per tick): p50",
            "main -> worker -> Python -> main round trip during play: p50",
            "input-to-drawn: p50",
            "worker clock: tick lateness p50",
            "main-thread 500 ms heartbeat while Pyodide boots: worst",
            "websocket: {'opened': 1, 'closed': 0}",
        ],
    )
