"""Smoke test: the server-mode benchmark runs and prints its figures (never timed here)."""

from __future__ import annotations

import pytest

from tests.e2e.helpers import check_benchmark_prints

pytestmark = pytest.mark.e2e


def test_the_server_mode_benchmark_runs_briefly(chromium_path, built_client):
    pytest.importorskip("gymnasium")
    pytest.importorskip("cogrid")
    check_benchmark_prints(
        "tests/bench/bench_server_games.py",
        ["--max-games", "1", "--seconds", "1", "--latency-seconds", "3"],
        chromium_path,
        [
            "server-mode CartPole in Chromium, input-to-drawn",
            "cartpole   1 games:",
            "cogrid     1 games:",
            "one core sustains",
        ],
    )
