"""Plugin distributions made by ``igym new`` for the tests, pip-installed the way a user would.

They are installed with ``pip install --no-deps --no-build-isolation --target <tmp>/site``: a
real pip build and install of each distribution (wheel, metadata, entry points), into a folder
of the test's own instead of the shared venv, so no other test ever sees them and a test that
dies half-way leaves nothing behind. A test makes them visible by putting the folder on
``sys.path`` (in-process) or on ``PYTHONPATH`` (subprocesses).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from igym_core.cli import main as igym_main


def generate(kind: str, name: str, parent: Path) -> Path:
    """``igym new KIND NAME PARENT``; returns the distribution's folder."""
    assert igym_main(["new", kind, name, str(parent)]) == 0
    return parent / f"igym_{name}"


def pip_install(roots: list[Path], site: Path) -> None:
    """Build and install the distributions in ``roots`` into ``site`` (offline)."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--upgrade",
            "--target",
            str(site),
            *map(str, roots),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def env_with(site: Path) -> dict[str, str]:
    """The environment of a subprocess that sees the distributions installed in ``site``."""
    path = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path, "PYTHONDONTWRITEBYTECODE": "1"}
