"""The runtime runs unchanged in Pyodide (Python 3.14 in WebAssembly, driven by node) and
produces byte-identical canonical logs to CPython for the same matches."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from igym_core.runtime import toygame
from igym_core.runtime.host import SeatPlan
from igym_core.runtime.simmatch import random_setup, run_match

ROOT = Path(__file__).resolve().parents[2]
PYODIDE = ROOT / "client" / "node_modules" / "pyodide"

RUNNER = """
import { loadPyodide } from "%(pyodide)s/pyodide.mjs";
import { readFileSync, readdirSync } from "node:fs";
const py = await loadPyodide({ indexURL: "%(pyodide)s/" });
py.FS.mkdirTree("/home/pyodide/igym_core/runtime");
py.FS.writeFile("/home/pyodide/igym_core/__init__.py", "");
for (const name of readdirSync("%(runtime)s")) {
  if (name.endsWith(".py")) {
    py.FS.writeFile("/home/pyodide/igym_core/runtime/" + name,
                    readFileSync("%(runtime)s/" + name));
  }
}
console.log(py.runPython(readFileSync("%(script)s", "utf8")));
"""

SCRIPT = """
import hashlib, json, sys
sys.path.insert(0, "/home/pyodide")
from igym_core.runtime import toygame
from igym_core.runtime.host import SeatPlan
from igym_core.runtime.simmatch import random_setup, run_match
from igym_core.runtime.synctest import check_game

def digest(seed):
    r = run_match(random_setup(seed, 2, max_frames=300), lambda s: toygame.make(2, seed=s),
                  SeatPlan.one_seat_each(2),
                  scripted_policy=lambda i, s: toygame.make_policy(f"agent_{i}", s))
    return [r.parity, r.rollbacks, hashlib.sha256(r.logs[0].canonical_bytes()).hexdigest()]

json.dumps({"version": sys.version.split()[0], "matches": [digest(s) for s in (0, 1)],
            "check": check_game(lambda s: toygame.make(seed=s), seeds=(0,), frames=60).ok})
"""


def cpython_digest(seed: int) -> list[object]:
    r = run_match(
        random_setup(seed, 2, max_frames=300),
        lambda s: toygame.make(2, seed=s),
        SeatPlan.one_seat_each(2),
        scripted_policy=lambda i, s: toygame.make_policy(f"agent_{i}", s),
    )
    return [r.parity, r.rollbacks, hashlib.sha256(r.logs[0].canonical_bytes()).hexdigest()]


@pytest.mark.slow
def test_pyodide_plays_the_same_matches_as_cpython(tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None or not (PYODIDE / "pyodide.mjs").is_file():
        pytest.skip("needs node and client/node_modules/pyodide (npm ci in client/)")
    script = tmp_path / "script.py"
    script.write_text(SCRIPT)
    runner = tmp_path / "run.mjs"
    runner.write_text(
        RUNNER % {"pyodide": PYODIDE, "runtime": ROOT / "igym_core" / "runtime", "script": script}
    )
    done = subprocess.run(
        [node, str(runner)], capture_output=True, text=True, timeout=240, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["version"].startswith("3.1")
    assert result["check"] is True
    assert result["matches"] == [cpython_digest(0), cpython_digest(1)]
    assert all(m[0] is True and m[1] > 0 for m in result["matches"])
