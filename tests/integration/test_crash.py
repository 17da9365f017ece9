"""A write acknowledged to the browser survives ``kill -9`` of the server."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from websockets.sync.client import connect

from igym_core.load.scripted import ScriptedParticipant
from tests.conftest import ROOT


def start_server(
    data_dir: Path, database: str | None = None, example: str = "static_study.py"
) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "igym_core.cli",
            "run",
            str(ROOT / "examples" / example),
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--data-dir",
            str(data_dir),
            *(["--database", database] if database else []),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
    )
    deadline = time.monotonic() + 30
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if "hosting" in line:
            url = line.split(" at ")[1].strip()
            return process, url.replace("http://", "ws://") + "ws"
        if not line and process.poll() is not None:
            break
    process.kill()
    pytest.fail(f"server did not start: {process.stdout.read()}")


def send(ws, message: dict) -> None:
    ws.send(json.dumps(message))


def recv(ws) -> dict:
    return json.loads(ws.recv(timeout=10))


@pytest.mark.slow
def test_sigkill_mid_flow_loses_nothing_acknowledged(tmp_path, database):
    data = tmp_path / "data"
    server, url = start_server(data, database)
    try:
        with connect(url) as ws:
            send(ws, {"type": "hello", "params": {"PROLIFIC_PID": "crash1"}})
            welcome = recv(ws)
            assert recv(ws)["scene"]["id"] == "consent"
            token = welcome["token"]
            send(
                ws,
                {
                    "type": "submit",
                    "token": token,
                    "seq": 1,
                    "scene_id": "consent",
                    "responses": {"consent": True},
                },
            )
            assert recv(ws) == {"type": "ack", "seq": 1}
            assert recv(ws)["scene"]["id"] == "instructions"
            # kill -9 the moment the acknowledgement arrived
            os.kill(server.pid, signal.SIGKILL)
            server.wait(timeout=10)
    finally:
        if server.poll() is None:
            server.kill()
    assert server.returncode == -signal.SIGKILL

    server, url = start_server(data, database)
    try:
        with connect(url) as ws:
            send(
                ws,
                {
                    "type": "hello",
                    "params": {"PROLIFIC_PID": "crash1"},
                    "participant_id": "crash1",
                    "token": token,
                },
            )
            welcome = recv(ws)
            assert welcome["resumed"] is True
            scene = recv(ws)
            assert scene["scene"]["id"] == "instructions"
            send(
                ws,
                {
                    "type": "submit",
                    "token": token,
                    "seq": 2,
                    "scene_id": "instructions",
                    "responses": {"age": 25, "games": "Weekly"},
                },
            )
            assert recv(ws)["type"] == "ack"
            assert recv(ws)["scene"]["completion_code"] == "IGYM-STATIC-7F3A"
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=10)

    from igym_core.settings import Settings
    from igym_core.storage.store import Store

    store = Store(
        Settings(data_dir=data, database=database).store_target("static_study"), "static_study"
    )
    assert store.integrity_ok()
    assert store.responses_for("crash1", "consent") == {"consent": True}
    assert store.participant("crash1").status == "completed"


@pytest.mark.slow
async def test_sigkill_during_frame_uploads_loses_no_acknowledged_frame(tmp_path, database):
    """A page uploads an episode's frames in chunks, as a browser does; the server is killed
    while chunks are in flight. Every chunk it acknowledged is in the store, once."""
    data = tmp_path / "data"
    server, url = start_server(data, database, "overcooked_human_ai.py")
    page = ScriptedParticipant(url, "uploader", lambda kind, ms: None, speed=4)
    upload = asyncio.ensure_future(page.run(time.monotonic() + 60))
    try:
        deadline = time.monotonic() + 60
        while page.frames_acked < 300 and not upload.done() and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
        assert page.frames_acked >= 300, "the page never got going"
        os.kill(server.pid, signal.SIGKILL)  # mid-upload: the next chunk is on its way
        server.wait(timeout=10)
        with pytest.raises(Exception):  # noqa: B017 - the connection just dies
            await asyncio.wait_for(upload, 30)
    finally:
        if server.poll() is None:
            server.kill()
    acked = page.frames_acked  # every ack the page read, also those sent just before the kill

    from igym_core.settings import Settings
    from igym_core.storage.store import Store

    target = Settings(data_dir=data, database=database).store_target("overcooked_human_ai")
    store = Store(target, "overcooked_human_ai")
    try:
        assert store.integrity_ok()
        stored = [
            row["frame"]
            for episode in (0, 1)
            for row in store.frame_rows("uploader", "cooking", episode)
        ]
    finally:
        store.close()
    assert len(stored) >= acked, f"{acked} frames acknowledged, {len(stored)} stored"
    assert len(stored) <= acked + 15 * 2, "at most the chunks in flight beyond the acked ones"
    print(f"\n{acked} frames acknowledged before the kill, {len(stored)} stored")
