"""Smoke test: the peer-to-peer benchmark runs and prints its figures (never timed here)."""

from __future__ import annotations

import pytest

from tests.e2e.helpers import check_benchmark_prints

pytestmark = pytest.mark.e2e


def test_the_p2p_benchmark_runs_briefly(chromium_path, built_client):
    check_benchmark_prints(
        "tests/bench/bench_p2p.py",
        ["--latency", "100", "--episodes", "1", "--steps", "30"],
        chromium_path,
        [
            "== 100 ms added latency per page (input delay 2) ==",
            "rollbacks: ",
            "worker tick that rolled back: p50",
            "input-to-drawn: p50",
            'server parity: {"',
        ],
    )
