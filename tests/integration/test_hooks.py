"""One test per hook (``test_hook_<name>``, tests/unit/test_hookspecs.py checks that each exists):
a throw-away plugin implements the hook, the server (or the command) that calls it runs for real,
and the test checks what the plugin received or what its contribution changed."""

from __future__ import annotations

import asyncio
import functools
import inspect
import types

import pytest

from igym_core import Exclusion, ExclusionRule, Exporter, Matchmaker, hookimpl
from igym_core.config import EndScene, Experiment, GameScene, StaticScene
from igym_core.export import export_store
from igym_core.server.app import create_app
from igym_core.settings import Settings
from igym_core.storage.store import Store
from tests.conftest import small_experiment
from tests.integration.conftest import Page
from tests.integration.test_game_recording import ToyPlugin, game_experiment, record, request
from tests.unit.test_lobby import DuoPlugin


def observe(plugins, hook: str):
    """Register a throw-away plugin implementing ``hook`` with the decorated function's
    signature (its body is never run); the decorated name becomes the list of the calls'
    arguments."""

    def register(signature):
        calls: list[dict] = []

        @functools.wraps(signature)
        def implementation(*args, **kwargs):
            calls.append(dict(inspect.signature(signature).bind(*args, **kwargs).arguments))

        plugins.register(
            types.SimpleNamespace(**{hook: hookimpl(implementation)}), name=f"watch-{hook}"
        )
        return calls

    return register


@pytest.fixture
def study_app(tmp_path, plugins):
    return create_app(small_experiment(), Settings(data_dir=tmp_path / "data"), plugins=plugins)


async def _walk_through(app) -> Page:
    async with app.test_client().websocket("/ws") as ws:
        page = Page(ws)
        await page.hello(subject_id="p1", STUDY_ID="s1")
        await page.submit({"agree": True})
        await page.submit({"age": 30, "hand": "left"})
        return page


def test_hook_igym_environments(tmp_path, plugins):
    plugins.register(ToyPlugin(), name="toy-plugin")
    app = create_app(game_experiment(), Settings(data_dir=tmp_path), plugins=plugins)
    state = app.extensions["igym"]
    scene = state.experiment.scene("play")
    described = state.games.describe(scene, "p1")
    assert described["env"]["name"] == "toy"
    assert described["env"]["key_bindings"] == {"ArrowLeft": 1, "ArrowRight": 2}


def test_hook_igym_matchmakers(tmp_path, plugins):
    class Reverse(Matchmaker):
        name = "reverse"

        def match(self, waiting, context):
            ids = sorted((w.participant_id for w in waiting), reverse=True)
            size = context.group_size
            return [tuple(ids[:size])] if len(ids) >= size else []

    plugins.register(DuoPlugin(), name="duo")
    plugins.register(
        types.SimpleNamespace(igym_matchmakers=hookimpl(lambda: [Reverse])), name="reverse"
    )
    experiment = Experiment(
        id="mp",
        scenes=[
            GameScene(
                id="play", env="duo", seats={"a0": "human", "a1": "human"}, matchmaker="reverse"
            ),
            EndScene(id="end"),
        ],
    )
    app = create_app(experiment, Settings(data_dir=tmp_path, ice_servers=()), plugins=plugins)
    lobby = app.extensions["igym"].lobby.engine
    for pid in ("a", "b", "c"):
        lobby.join(pid, experiment.scene("play"), {}, None)
    [match] = lobby.tracker.matches.values()
    assert match.members == ("b", "a") and match.matchmaker == "reverse"  # reversed


def test_hook_igym_exclusion_rules(plugins):
    class Tall(ExclusionRule):
        name = "tall_screen"

        def check(self, context):
            if context.get("screen_height", 0) < 900:
                return Exclusion(self.name, "too short", "Your screen is too small.")
            return None

    plugins.register(types.SimpleNamespace(igym_exclusion_rules=hookimpl(lambda: [Tall])), name="t")
    rule = plugins.exclusion_rules["tall_screen"]()
    assert rule.check({"screen_height": 600}).reason == "too short"
    assert rule.check({"screen_height": 1000}) is None
    assert ("t", Tall) in plugins.collect("igym_exclusion_rules", ExclusionRule, classes=True)


def test_hook_igym_exporters(tmp_path, plugins):
    class Count(Exporter):
        name = "count"

        def export(self, reader, out_dir):
            path = out_dir / "participants.txt"
            path.write_text(f"{sum(1 for _ in reader.participants())}\n")
            return [path]

    plugins.register(types.SimpleNamespace(igym_exporters=hookimpl(lambda: [Count()])), name="c")
    store = Store(tmp_path / "s.sqlite3", "s")
    store.create_participant("p1", "h", {}, 0.0).result()
    result = export_store(store, tmp_path / "out", plugins)
    assert (tmp_path / "out" / "count" / "participants.txt").read_text() == "1\n"
    assert result.problems == ()


async def test_hook_igym_on_participant_joined(plugins, study_app):
    @observe(plugins, "igym_on_participant_joined")
    def seen(experiment_id, participant_id, params, resumed): ...

    client = study_app.test_client()
    async with client.websocket("/ws") as ws:
        page = Page(ws)
        await page.hello(subject_id="p1", STUDY_ID="s1")
    async with client.websocket("/ws") as ws:
        again = Page(ws)
        again.participant_id, again.token = page.participant_id, page.token
        await again.hello(subject_id="p1", STUDY_ID="s1")
    first, second = seen
    assert first == {
        "experiment_id": "study",
        "participant_id": "p1",
        "params": {"subject_id": "p1", "STUDY_ID": "s1"},
        "resumed": False,
    }
    assert second["resumed"] is True


async def test_hook_igym_on_scene_started(plugins, study_app):
    @observe(plugins, "igym_on_scene_started")
    def seen(experiment_id, participant_id, scene_id, scene_index): ...

    await _walk_through(study_app)
    assert [(c["scene_id"], c["scene_index"]) for c in seen] == [
        ("consent", 0),
        ("survey", 1),
        ("end", 2),
    ]
    assert {c["participant_id"] for c in seen} == {"p1"}


async def test_hook_igym_on_scene_finished(plugins, study_app):
    @observe(plugins, "igym_on_scene_finished")
    def seen(experiment_id, participant_id, scene_id, scene_index, responses): ...

    await _walk_through(study_app)
    assert [(c["scene_id"], c["responses"]) for c in seen] == [
        ("consent", {"agree": True}),
        ("survey", {"age": 30, "hand": "left", "note": None}),
    ]


async def test_hook_igym_on_session_end(plugins, study_app):
    @observe(plugins, "igym_on_session_end")
    def seen(experiment_id, participant_id, reason): ...

    await _walk_through(study_app)
    assert seen == [{"experiment_id": "study", "participant_id": "p1", "reason": "completed"}]


async def test_hook_igym_on_match(tmp_path, plugins):
    @observe(plugins, "igym_on_match")
    def seen(experiment_id, scene_id, match_id, participant_ids, matchmaker): ...

    plugins.register(DuoPlugin(), name="duo")
    experiment = Experiment(
        id="mp",
        scenes=[
            StaticScene(id="hi"),
            GameScene(id="play", env="duo", seats={"a0": "human", "a1": "human"}),
            EndScene(id="end"),
        ],
    )
    app = create_app(experiment, Settings(data_dir=tmp_path, ice_servers=()), plugins=plugins)
    client = app.test_client()

    async def join(pid: str) -> None:
        async with client.websocket("/ws") as ws:
            page = Page(ws)
            await page.hello(subject_id=pid)
            await page.submit({})
            page.seq += 1
            await page.send(
                {"type": "lobby_join", "token": page.token, "seq": page.seq, "scene_id": "play"}
            )
            while (await asyncio.wait_for(page.recv(), 10))["type"] != "match":
                pass

    await asyncio.gather(join("m1"), join("m2"))
    [call] = seen
    assert sorted(call["participant_ids"]) == ["m1", "m2"]
    assert call["matchmaker"] == "fifo" and call["scene_id"] == "play"
    assert call["experiment_id"] == "mp" and len(call["match_id"]) == 16


async def test_hook_igym_on_episode_end(tmp_path, plugins):
    @observe(plugins, "igym_on_episode_end")
    def seen(experiment_id, participant_id, scene_id, episode, frames, partial): ...

    plugins.register(ToyPlugin(), name="toy-plugin")
    app = create_app(game_experiment(), Settings(data_dir=tmp_path), plugins=plugins)
    async with app.test_client().websocket("/ws") as ws:
        page = Page(ws)
        await page.hello(subject_id="g1")
        await page.submit({})
        assert (await request(page, {"type": "episode_start", "episode": 0}))["type"] == "ack"
        chunk = {"type": "frames", "episode": 0, "records": [record(f) for f in range(5)]}
        assert (await request(page, chunk))["type"] == "ack"
        end = {"type": "episode_end", "episode": 0, "frames": 5, "partial": True}
        assert (await request(page, end))["type"] == "ack"
    assert seen == [
        {
            "experiment_id": "gamestudy",
            "participant_id": "g1",
            "scene_id": "play",
            "episode": 0,
            "frames": 5,
            "partial": True,
        }
    ]
