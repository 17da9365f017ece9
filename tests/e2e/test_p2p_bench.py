"""Smoke test: the peer-to-peer benchmark runs and prints its figures (never timed here)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.e2e.conftest import ROOT

pytestmark = pytest.mark.e2e


def test_the_p2p_benchmark_runs_briefly(chromium_path, built_client):
    done = subprocess.run(
        [sys.executable, "tests/bench/bench_p2p.py", "--latency", "100", "--episodes", "1",
         "--steps", "30"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "IGYM_CHROMIUM": chromium_path},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    for line in (
        "== 100 ms added latency per page (input delay 2) ==",
        "rollbacks: ",
        "worker tick that rolled back: p50",
        "input-to-drawn: p50",
        'server parity: {"',
    ):
        assert line in out, out
