"""Game scenes on the server: description, episode seeds, and frames stored exactly once."""

from __future__ import annotations

import csv

import pytest

from igym_core import EnvironmentSpec, PolicySpec, hookimpl
from igym_core.config import ConfigError, EndScene, Experiment, GameScene, StaticScene
from igym_core.export import export_store
from igym_core.server.app import create_app
from igym_core.settings import Settings
from tests.integration.conftest import Page

MAX_STEPS = 25


class ToyPlugin:
    @hookimpl
    def igym_environments(self):
        return [
            EnvironmentSpec(
                name="toy",
                factory="igym_core.runtime.toygame:make",
                agent_ids=["a0", "a1"],
                action_labels={0: "stay", 1: "left", 2: "right"},
                default_action=0,
                key_bindings={"ArrowLeft": 1, "ArrowRight": 2},
                packages=(),
                policies=[PolicySpec("mirror", "igym_core.runtime.toygame:make_policy")],
            )
        ]


def game_experiment(**scene) -> Experiment:
    return Experiment(
        id="gamestudy",
        scenes=[
            StaticScene(id="intro"),
            GameScene(
                id="play",
                env="toy",
                seats={"a0": "human", "a1": "policy:mirror"},
                episodes=2,
                max_steps=MAX_STEPS,
                fps=20,
                **scene,
            ),
            EndScene(id="end", completion_code="DONE"),
        ],
    )


@pytest.fixture
def game_app(tmp_path, plugins, database):
    plugins.register(ToyPlugin(), name="toy-plugin")
    settings = Settings(data_dir=tmp_path / "data", database=database)
    app = create_app(game_experiment(), settings, plugins=plugins)
    yield app
    app.extensions["igym"].store.close()  # (served or not: its writer must not outlive the test)


def record(frame: int, last: bool = False) -> dict:
    return {
        "frame": frame,
        "actions": {"a0": frame % 3, "a1": 0},
        "rewards": {"a0": 1.0 if frame == 3 else 0.0, "a1": 0.0},
        "terminated": False,
        "truncated": last,
        "focused": frame % 10 != 0,
        "infos": {"score": frame},
        "t": {
            "key": None,
            "tick": 10.0 * frame,
            "step": 10.0 * frame + 1,
            "drawn": 10.0 * frame + 5,
        },
    }


async def request(page: Page, message: dict) -> dict:
    page.seq += 1
    await page.send({"token": page.token, "seq": page.seq, "scene_id": "play", **message})
    return await page.recv()


def test_unknown_environment_or_seat_fails_at_start(tmp_path, plugins):
    with pytest.raises(ConfigError, match=r"GameScene\('play'\).env: no plugin provides 'toy'"):
        create_app(game_experiment(), Settings(data_dir=tmp_path), plugins=plugins)
    plugins.register(ToyPlugin(), name="toy-plugin")
    bad = Experiment(
        id="x",
        scenes=[
            GameScene(id="g", env="toy", seats={"a0": "human", "a1": "policy:nope"}),
            EndScene(id="e"),
        ],
    )
    with pytest.raises(ConfigError, match=r"seats\['a1'\]: 'toy' offers no policy 'nope'"):
        create_app(bad, Settings(data_dir=tmp_path), plugins=plugins)


async def test_play_two_episodes_with_retries_and_a_reconnect(game_app, plugins):
    client = game_app.test_client()
    async with client.websocket("/ws") as ws:
        page = Page(ws)
        await page.hello(subject_id="g1")
        await page.submit({})
        scene = page.scene["scene"]
        assert scene["kind"] == "game" and scene["env"]["name"] == "toy"
        assert scene["env"]["key_bindings"] == {"ArrowLeft": 1, "ArrowRight": 2}
        assert scene["env"]["policies"] == {
            "mirror": {"factory": "igym_core.runtime.toygame:make_policy", "kwargs": {}}
        }
        assert scene["seats"]["a1"] == {"kind": "policy", "policy": "mirror"}
        assert len(scene["seeds"]) == 2 and scene["seeds"][0] != scene["seeds"][1]
        assert scene["progress"] == []
        bundle = await client.get(scene["env"]["packages_url"])
        assert bundle.status_code == 200 and bundle.headers["Content-Type"] == "application/zip"

        # leaving before playing is refused
        assert (await page.submit({}))[0]["code"] == "episodes_incomplete"

        assert (await request(page, {"type": "episode_start", "episode": 0}))["type"] == "ack"
        chunk = {"type": "frames", "episode": 0, "records": [record(f) for f in range(10)]}
        assert (await request(page, chunk))["type"] == "ack"
        page.seq -= 1  # the same chunk again, as after a reconnect: acked, not stored twice
        assert (await request(page, chunk))["type"] == "ack"
        rest = [record(f, last=f == MAX_STEPS - 1) for f in range(10, MAX_STEPS)]
        assert (await request(page, {"type": "frames", "episode": 0, "records": rest}))[
            "type"
        ] == "ack"
        bad = await request(page, {"type": "frames", "episode": 0, "records": [record(MAX_STEPS)]})
        assert bad["code"] == "invalid_frame" and f"outside 0..{MAX_STEPS - 1}" in bad["message"]
        wrong = record(1)
        del wrong["actions"]["a1"]
        bad = await request(page, {"type": "frames", "episode": 0, "records": [wrong]})
        assert bad["code"] == "invalid_frame"
        end = await request(
            page,
            {
                "type": "episode_end",
                "episode": 0,
                "frames": MAX_STEPS,
                "summary": {"score": 1, "latency_p50_ms": 12.5},
            },
        )
        assert end["type"] == "ack"
        assert (await request(page, {"type": "episode_start", "episode": 1}))["type"] == "ack"
        first = {"type": "frames", "episode": 1, "records": [record(f) for f in range(7)]}
        assert (await request(page, first))["type"] == "ack"
    # the tab closed mid-episode: the episode is interrupted, its frames are kept
    store = game_app.extensions["igym"].store
    store.flush()  # marking episodes interrupted is a background write
    assert [e["status"] for e in store.episodes_for("g1", "play")] == ["complete", "interrupted"]

    async with client.websocket("/ws") as ws:
        page.ws = ws
        await page.hello(subject_id="g1")
        assert [e["status"] for e in page.scene["scene"]["progress"]] == ["complete", "interrupted"]
        # an episode that was not played to its end does not count: the page must finish it
        [refused] = await page.submit({})
        assert refused["code"] == "episodes_incomplete"
        assert "episode 1 is interrupted" in refused["message"]
        rest = [record(f, last=f == MAX_STEPS - 1) for f in range(7, MAX_STEPS)]
        assert (await request(page, {"type": "frames", "episode": 1, "records": rest}))[
            "type"
        ] == "ack"
        end = {"type": "episode_end", "episode": 1, "frames": MAX_STEPS}
        assert (await request(page, end))["type"] == "ack"
        ack, end_scene = await page.submit({})
        assert ack["type"] == "ack" and end_scene["scene"]["kind"] == "end"
    assert [e["status"] for e in store.episodes_for("g1", "play")] == ["complete", "complete"]
    [progress] = [p for p in store.reader().scene_progress() if p["scene_id"] == "play"]
    assert progress["status"] == "completed"

    result = export_store(store, game_app.extensions["igym"].settings.data_dir / "out", plugins)
    frames_csv = next(p for p in result.files if p.name == "frames.csv")
    with frames_csv.open() as f:
        rows = list(csv.DictReader(f))
    assert [r["episode"] for r in rows].count("0") == MAX_STEPS
    assert [r["episode"] for r in rows].count("1") == MAX_STEPS
    assert rows[3]["rewards.a0"] == "1.0" and rows[3]["actions.a0"] == "0"
    assert rows[0]["isFocused"] == "False" and rows[1]["isFocused"] == "True"
    assert rows[2]["t.drawn"] == "25.0" and rows[2]["infos.score"] == "2"
    episodes_csv = next(p for p in result.files if p.name == "episodes.csv")
    with episodes_csv.open() as f:
        episodes = list(csv.DictReader(f))
    assert [(e["status"], e["partial"], e["frames"]) for e in episodes] == [
        ("complete", "False", str(MAX_STEPS)),
        ("complete", "False", str(MAX_STEPS)),
    ]
    assert episodes[0]["summary.latency_p50_ms"] == "12.5"


async def test_no_completion_without_playing(game_app):
    """Starting every episode and uploading nothing does not finish a game scene."""
    client = game_app.test_client()
    async with client.websocket("/ws") as ws:
        page = Page(ws)
        await page.hello(subject_id="lazy")
        await page.submit({})
        for episode in (0, 1):
            assert (await request(page, {"type": "episode_start", "episode": episode}))[
                "type"
            ] == "ack"
            end = {"type": "episode_end", "episode": episode, "frames": MAX_STEPS}
            assert (await request(page, end))["type"] == "ack"
        [refused] = await page.submit({})
        assert refused["code"] == "episodes_incomplete"
        assert "episode 0 is partial (missing_frames)" in refused["message"]
        assert page.scene["scene"]["id"] == "play"
    store = game_app.extensions["igym"].store
    assert store.participant("lazy").status == "active"
    assert [e["reason"] for e in store.episodes_for("lazy", "play")] == ["missing_frames"] * 2


async def test_an_episode_with_a_gap_is_partial_with_the_missing_ranges(game_app):
    client = game_app.test_client()
    async with client.websocket("/ws") as ws:
        page = Page(ws)
        await page.hello(subject_id="gappy")
        await page.submit({})
        await request(page, {"type": "episode_start", "episode": 0})
        kept = [f for f in range(MAX_STEPS) if not 5 <= f <= 9 and f != 17]
        chunk = {"type": "frames", "episode": 0, "records": [record(f, f == 24) for f in kept]}
        assert (await request(page, chunk))["type"] == "ack"
        end = {"type": "episode_end", "episode": 0, "frames": MAX_STEPS}
        assert (await request(page, end))["type"] == "ack"
        # only the last frame stored, and the page says it played just that many: not complete
        await request(page, {"type": "episode_start", "episode": 1})
        only = {"type": "frames", "episode": 1, "records": [record(2)]}
        assert (await request(page, only))["type"] == "ack"
        end = {"type": "episode_end", "episode": 1, "frames": 3}
        assert (await request(page, end))["type"] == "ack"
    store = game_app.extensions["igym"].store
    first, second = store.episodes_for("gappy", "play")
    assert (first["status"], first["reason"], first["frames"]) == (
        "partial",
        "missing_frames",
        MAX_STEPS - 6,
    )
    [row] = [e for e in store.reader().episodes() if e["episode"] == 0]
    assert row["summary"]["missing_ranges"] == [[5, 9], [17, 17]]
    assert row["summary"]["frames_missing"] == 6
    assert (second["status"], second["reason"]) == ("partial", "missing_frames")


async def test_game_messages_outside_the_game_scene_are_refused(game_app):
    client = game_app.test_client()
    async with client.websocket("/ws") as ws:
        page = Page(ws)
        await page.hello(subject_id="g2")
        reply = await request(page, {"type": "episode_start", "episode": 0})
        assert reply["code"] == "wrong_scene" and "current scene is 'intro'" in reply["message"]
        await page.submit({})
        reply = await request(page, {"type": "episode_start", "episode": 5})
        assert reply["code"] == "invalid_episode"
        reply = await request(page, {"type": "frames", "episode": 0, "records": [record(0)]})
        assert reply["code"] == "invalid_episode" and "never started" in reply["message"]


async def test_overcooked_scene_serves_its_atlas(tmp_path, plugins):
    from igym_core.experiment import load_experiment
    from tests.conftest import ROOT

    app = create_app(
        load_experiment(ROOT / "examples/overcooked_human_ai.py"),
        Settings(data_dir=tmp_path),
        plugins=plugins,
    )
    client = app.test_client()
    async with client.websocket("/ws") as ws:
        page = Page(ws)
        await page.hello(subject_id="oc")
        await page.submit({"consent": True})
        await page.submit({})
        scene = page.scene["scene"]
    assert scene["env"]["factory"] == "igym_overcooked:make"
    assert scene["env"]["kwargs"] == {"layout": "cramped_room", "max_steps": 450}
    assert set(scene["env"]["policies"]) == {"scripted"}
    assert scene["env"]["assets"], "the Overcooked plugin ships a sprite atlas"
    for name, url in scene["env"]["assets"].items():
        response = await client.get(url)
        assert response.status_code == 200, url
        if name.endswith(".png"):
            assert response.headers["Content-Type"] == "image/png"
            assert (await response.get_data()).startswith(b"\x89PNG")
    assert (await client.get("/assets/overcooked.cramped_room/nope.png")).status_code == 404
    bundle = await client.get(scene["env"]["packages_url"])
    import io
    import zipfile

    names = zipfile.ZipFile(io.BytesIO(await bundle.get_data())).namelist()
    assert "igym_overcooked/env.py" in names and "igym_core/runtime/play.py" in names
