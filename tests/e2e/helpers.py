"""Helpers shared by the browser tests (tests/e2e) and the browser benchmarks (tests/bench).

Plain functions; the fixtures are in conftest.py. The asserts in here are rewritten by pytest like
the tests' own (conftest.py registers this module).
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.e2e.conftest import CHROMIUM_ARGS, ROOT, chromium_executable, igym_command

# -- igym export --------------------------------------------------------------------------------


def igym_export(server, experiment_file: Path, tmp_path: Path) -> Path:
    """``igym export`` of what ``server`` stored for ``experiment_file``, into
    ``tmp_path / "export"``; returns that folder."""
    out = tmp_path / "export"
    subprocess.run(
        [
            *igym_command(),
            "export",
            str(experiment_file),
            "--data-dir",
            str(server.data_dir),
            *(["--database", server.database] if getattr(server, "database", None) else []),
            "--out",
            str(out),
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    return out


def export_csv(
    server,
    experiment_file: Path,
    tmp_path: Path,
    names: tuple[str, ...] = (
        "frames",
        "episodes",
        "events",
        "matches",
        "disconnections",
        "telemetry",
    ),
) -> dict[str, list[dict]]:
    """Exported tables (by default ``frames``, ``episodes``, ``events``, ``matches``,
    ``disconnections`` and ``telemetry``), as rows of strings."""
    out = igym_export(server, experiment_file, tmp_path)
    tables = {}
    for name in names:
        with (out / "csv" / f"{name}.csv").open() as f:
            tables[name] = list(csv.DictReader(f))
    return tables


# -- benchmarks ---------------------------------------------------------------------------------


def check_benchmark_prints(
    script: str, args: list[str], chromium_path: str, expected: list[str]
) -> None:
    """Run a benchmark script of tests/bench as its docstring describes, with this Chromium, and
    check that it succeeded and that its output contains each of the ``expected`` strings."""
    done = subprocess.run(
        [sys.executable, script, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "IGYM_CHROMIUM": chromium_path},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    for line in expected:
        assert line in out, out


@contextmanager
def benchmark_browser() -> Iterator:
    """Chromium for a benchmark run outside pytest, launched with the tests' flags and closed
    afterwards; exits with a message when there is no Chromium."""
    from playwright.sync_api import sync_playwright

    chromium = chromium_executable()
    if chromium is None:
        raise SystemExit("no Chromium: apt-get install chromium, or set IGYM_CHROMIUM")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=list(CHROMIUM_ARGS))
        try:
            yield browser
        finally:
            browser.close()
