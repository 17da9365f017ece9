"""The capacity benchmark runs (its figures are printed, not asserted)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT


@pytest.mark.slow
def test_the_capacity_benchmark_runs():
    result = subprocess.run(
        [sys.executable, "tests/bench/bench_capacity.py", "--participants", "20", "--games", "5",
         "--seconds", "4", "--pairs", "8", "--baseline"],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "== 20 participants on static pages" in result.stdout
    assert "frames stored/s" in result.stdout and "errors           none" in result.stdout
    assert "== the same over two processes + Redis + PostgreSQL" in result.stdout
    assert "ratios to one process: round trip p99" in result.stdout
    assert "static pages against the baseline: round trip p99" in result.stdout
    assert "games against the baseline: round trip p99" in result.stdout
    assert "generator        loop lag p50" in result.stdout
