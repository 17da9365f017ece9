"""``igym run --reload`` serves an edited env pack and an edited experiment without anyone
restarting it; a server without ``--reload`` warns that an installed plugin changed."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import subprocess
import sys
import time
import urllib.request
import zipfile

import pytest
from websockets.sync.client import connect

from igym_core.reloader import free_port
from igym_core.server.app import create_app
from igym_core.settings import Settings
from tests.conftest import small_experiment
from tests.plugin_dists import env_with, generate, pip_install
from tests.unit.test_watch import install, touch

STUDY = """\
from igym_core.config import EndScene, Experiment, GameScene
experiment = Experiment(id="reload", scenes=[
    GameScene(id="play", env="rl_gems.gems", title="{title}",
              seats={{"agent_0": "human", "agent_1": "policy:greedy"}}),
    EndScene(id="end")])
"""


def first_scene(base: str) -> dict:
    """What the page is told to play first (a fresh participant each time)."""
    with connect(base.replace("http", "ws") + "/ws", open_timeout=5) as ws:
        ws.send(json.dumps({"type": "hello", "params": {}, "participant_id": None, "token": None}))
        assert json.loads(ws.recv(5))["type"] == "welcome"
        return json.loads(ws.recv(5))["scene"]


def served_env_py(base: str) -> tuple[str, str]:
    """The scene's title and the env.py inside the package zip the server ships to browsers."""
    scene = first_scene(base)
    with urllib.request.urlopen(base + scene["env"]["packages_url"], timeout=5) as reply:
        zipped = zipfile.ZipFile(io.BytesIO(reply.read()))
    return scene["title"], zipped.read("igym_rl_gems/env.py").decode()


def poll(check, timeout_s: float = 60.0):
    """``check()`` until it returns something truthy (and that); fails after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    last: object = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except OSError as exc:  # the server is restarting
            last = exc
        if last and not isinstance(last, Exception):
            return last
        time.sleep(0.2)
    pytest.fail(f"gave up waiting; last: {last!r}")


def test_reload_serves_an_edited_env_and_experiment(tmp_path):
    root = generate("env", "rl_gems", tmp_path)
    site = tmp_path / "site"
    pip_install([root], site)
    study = tmp_path / "study" / "study.py"
    study.parent.mkdir()
    study.write_text(STUDY.format(title="First"))
    port = free_port("127.0.0.1")
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "igym_core.cli", "run", str(study), "--reload"]
    command += ["--port", str(port), "--data-dir", str(tmp_path / "data")]
    log_path = tmp_path / "server.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(command, env=env_with(site), stdout=log, stderr=subprocess.STDOUT)
    try:
        title, env_py = poll(lambda: served_env_py(base))
        assert title == "First" and 'GEM = "#f5c542"' in env_py

        # the researcher changes the env and reinstalls the pack
        source = root / "igym_rl_gems" / "env.py"
        source.write_text(source.read_text().replace('GEM = "#f5c542"', 'GEM = "#44dd88"'))
        pip_install([root], site)
        title, env_py = poll(lambda: (got := served_env_py(base)) and '"#44dd88"' in got[1] and got)
        assert title == "First"

        # ... and then the experiment
        study.write_text(STUDY.format(title="Second"))
        poll(lambda: served_env_py(base)[0] == "Second")
        assert server.poll() is None, "the supervisor itself kept running"
    finally:
        server.terminate()
        server.wait(20)
    text = log_path.read_text()
    assert "plugin igym-rl-gems changed (igym_rl_gems/env.py" in text
    assert "the experiment changed (study.py): restarting the server" in text
    assert text.count("hosting 'reload'") == 3


def watched(caplog) -> list:
    return [r for r in caplog.records if r.name == "igym.watch"]


async def test_a_server_without_reload_warns_when_a_plugin_changes(tmp_path, monkeypatch, caplog):
    site = tmp_path / "site"
    monkeypatch.syspath_prepend(str(site))
    files = {"wlive/__init__.py": "", "wlive/plugin.py": "", "wlive/env.py": "A = 1\n"}
    install(site, "wlive", "1.0", files)
    app = create_app(small_experiment(), Settings(data_dir=tmp_path, plugin_check_s=0.05))
    with caplog.at_level(logging.WARNING, logger="igym.watch"):
        async with app.test_app():
            await asyncio.sleep(0.3)  # the watch takes its first look
            touch(site / "wlive" / "env.py", "A = 2\n")
            for _ in range(100):
                if watched(caplog):
                    break
                await asyncio.sleep(0.05)
    [record] = watched(caplog)
    assert record.getMessage().startswith("plugin wlive changed (wlive/env.py) since the server")
