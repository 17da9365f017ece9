"""Smoke test: the rollback benchmark script runs and prints its figures (never timed here)."""

from __future__ import annotations

import pytest

from tests.bench import bench_rollback


def test_the_benchmark_runs_briefly(capsys: pytest.CaptureFixture[str]) -> None:
    code = bench_rollback.main(
        ["--env", "igym_core.runtime.toygame:make", "--iterations", "40", "--matches", "1",
         "--frames", "90"]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert "rollback (restore + 8 steps + 8 snapshots) p50" in out
    assert "p95" in out
    assert "1 simulated 90-frame 2-peer matches, 1 with parity" in out
    assert "matches/min" in out
