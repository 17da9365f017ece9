"""A browser scene whose environment cannot run in Pyodide (Gymnasium needs numpy, a compiled
extension) is refused before anyone plays: by ``igym validate`` and by ``igym run`` at start-up,
each with the fix: ``mode="server"``."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.e2e.conftest import ROOT, igym_command

pytest.importorskip("gymnasium")

STUDY = """
from igym_core import EnvironmentSpec
from igym_core.config import EndScene, Experiment, GameScene

CARTPOLE = EnvironmentSpec(
    name="cartpole",
    factory="gymnasium:make",
    kwargs={"id": "CartPole-v1"},
    agent_ids=("agent_0",),
    action_labels={0: "left", 1: "right"},
    default_action=0,
    packages=("gymnasium",),
)
experiment = Experiment(
    id="pole_in_browser",
    environments=[CARTPOLE],
    scenes=[
        GameScene(id="pole", env="cartpole", seats={"agent_0": "human"}, mode=MODE),
        EndScene(id="end"),
    ],
)
"""


def igym(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*igym_command(), *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


def test_validate_and_run_refuse_c_extensions_and_suggest_server_mode(tmp_path: Path):
    path = tmp_path / "pole.py"
    path.write_text(STUDY.replace("MODE", "'browser'"))
    checked = igym("validate", str(path))
    assert checked.returncode != 0
    assert "GameScene('pole')" in checked.stderr and "cannot run in the browser" in checked.stderr
    assert "gymnasium requires 'numpy'" in checked.stderr and "compiled extension" in checked.stderr
    assert "mode='server'" in checked.stderr
    hosted = igym("run", str(path), "--port", "0", "--data-dir", str(tmp_path / "data"))
    assert hosted.returncode != 0 and "mode='server'" in hosted.stderr
    assert "hosting" not in hosted.stdout  # it never served anyone
    path.write_text(STUDY.replace("MODE", "'server'"))
    ok = igym("validate", str(path))
    assert ok.returncode == 0, ok.stderr
    assert "(single, server) built" in ok.stdout
