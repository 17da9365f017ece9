"""Keeps tests/bench/bench_overcooked.py running: a tiny run, numbers printed, none asserted."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[3] / "tests" / "bench" / "bench_overcooked.py"


@pytest.mark.skipif(not BENCH.is_file(), reason="not in the igym source tree")
def test_benchmark_runs(capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("bench_overcooked", BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert (
        mod.main(["--steps", "300", "--cogrid-steps", "5", "--layout", "forced_coordination"]) == 0
    )
    out = capsys.readouterr().out
    assert "steps/s" in out and "snapshot+restore" in out and "rollback" in out
