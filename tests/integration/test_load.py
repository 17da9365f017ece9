"""``igym load``'s smoke run: scripted participants through real studies on a real server,
no errors, and every frame the server acknowledged stored exactly once."""

from __future__ import annotations

import sqlite3

import pytest

from igym_core.load.run import run_load
from tests.conftest import ROOT
from tests.hardening.conftest import Server


@pytest.fixture
def serve(tmp_path):
    servers = []

    def start(example: str) -> Server:
        server = Server(
            {"experiment": str(ROOT / "examples" / example), "data_dir": str(tmp_path / "d"),
             "limits": {}, "settings": {}}
        ).start()  # fmt: skip
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.process.kill()
        server.process.wait()


def stored(server: Server, experiment: str) -> dict[str, int]:
    path = server.spec["data_dir"] + f"/{experiment}.sqlite3"
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        return dict(db.execute("SELECT participant_id, COUNT(*) FROM frames GROUP BY 1"))


@pytest.mark.slow
async def test_a_hundred_scripted_participants_play_alone(serve):
    server = serve("overcooked_human_ai.py")
    report = await run_load(
        server.ws_url, 100, duration_s=60, ramp_s=2, sources=100, speed=8, server_pid=server.pid
    )
    print("\n" + report.text())
    assert not report.failures and not report.errors, report.as_dict()
    assert report.finished == 100
    frames = stored(server, "overcooked_human_ai")
    assert sum(frames.values()) == report.frames_acked == 100 * 2 * 450
    assert set(frames.values()) == {2 * 450}, "every acknowledged frame stored once"


@pytest.mark.slow
async def test_forty_scripted_participants_play_in_pairs(serve):
    server = serve("overcooked_human_human.py")
    report = await run_load(
        server.ws_url, 40, duration_s=60, ramp_s=1, sources=40, speed=8, server_pid=server.pid
    )
    print("\n" + report.text())
    assert not report.failures and not report.errors, report.as_dict()
    assert report.finished == 40
    assert "signal" not in report.errors and "probe" in report.samples
    frames = stored(server, "overcooked_human_human")
    assert set(frames.values()) == {2 * 450} and len(frames) == 40
    path = server.spec["data_dir"] + "/overcooked_human_human.sqlite3"
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        parity = [r[0] for r in db.execute("SELECT status FROM parity")]
    assert parity == ["identical"] * 40  # 20 matches x 2 episodes


async def test_pages_still_being_read_when_the_run_ends_send_nothing(serve):
    # a run's end is not a moment everybody clicks Continue: a page whose reading time runs
    # past it stops there, or the run would end on a burst no study makes
    server = serve("static_study.py")
    report = await run_load(server.ws_url, 30, duration_s=2, sources=30, think_s=20)
    assert not report.failures and not report.errors, report.as_dict()
    assert len(report.samples["hello"]) == 30
    assert "submit" not in report.samples
    assert report.seconds < 10
    path = server.spec["data_dir"] + "/static_study.sqlite3"
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        assert db.execute("SELECT COUNT(*) FROM responses").fetchone() == (0,)
