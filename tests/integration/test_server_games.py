"""Server-authoritative scenes over the websocket: the server steps the env at the scene's fps,
takes inputs, sends every frame to every member and records the frames itself; many games per
server, a raising env ends only its own game; humans alone, with AI, in pairs, turn by turn."""

from __future__ import annotations

import asyncio
import base64
import io

import pytest

from igym_core.config import EndScene, Experiment, GameScene, StaticScene
from igym_core.server.app import create_app
from igym_core.settings import Settings
from igym_core.specs import EnvironmentSpec
from tests.integration.conftest import Page

gymnasium = pytest.importorskip("gymnasium")
pytest.importorskip("PIL")

CARTPOLE = EnvironmentSpec(
    name="cartpole",
    factory="gymnasium:make",
    kwargs={"id": "CartPole-v1", "render_mode": "rgb_array"},
    agent_ids=("agent_0",),
    action_labels={0: "push left", 1: "push right"},
    default_action=0,
    key_bindings={"ArrowLeft": 0, "ArrowRight": 1},
)


class Exploding:
    """A Gymnasium-style env that raises at its 5th step."""

    def reset(self, seed=None, options=None):
        self.t = 0
        return 0, {}

    def step(self, action):
        self.t += 1
        if self.t == 5:
            raise RuntimeError("the simulator lost its mind")
        return self.t, 1.0, False, False, {}

    def render(self):
        return [{"kind": "rect", "x": self.t, "y": 0, "w": 1, "h": 1, "color": "#f00"}]


EXPLODING = EnvironmentSpec(
    name="exploding",
    factory="tests.integration.test_server_games:Exploding",
    agent_ids=("agent_0",),
    action_labels={0: "wait", 1: "go"},
    default_action=0,
)
OVERCOOKED = "overcooked.cramped_room"
TICTACTOE = EnvironmentSpec(
    name="tictactoe",
    factory="pettingzoo.classic.tictactoe_v3:env",
    agent_ids=("player_1", "player_2"),
    action_labels={i: f"cell {i}" for i in range(9)},
    default_action=0,
)


def make_app(tmp_path, scene: GameScene, environments=()) -> object:
    experiment = Experiment(
        id="srv",
        environments=list(environments),
        scenes=[StaticScene(id="hi"), scene, EndScene(id="end", completion_code="S")],
    )
    return create_app(experiment, Settings(data_dir=tmp_path, ice_servers=()))


async def until(page: Page, kind: str, seen: list | None = None, timeout: float = 20) -> dict:
    while True:
        message = await asyncio.wait_for(page.recv(), timeout=timeout)
        if seen is not None:
            seen.append(message)
        if message["type"] == kind:
            return message


async def fire(page: Page, message: dict) -> None:
    await page.send({"token": page.token, "seq": 0, **message})


async def enter(page: Page, pid: str) -> dict:
    """hello, past the first page, into the waiting room, matched and started."""
    await page.hello(subject_id=pid)
    await page.submit({})
    scene = page.scene["scene"]
    assert scene["mode"] == "server" and "factory" not in scene["env"]
    assert "packages_url" not in scene["env"] and scene["multiplayer"] is None
    page.seq += 1
    await page.send(
        {"token": page.token, "seq": page.seq, "type": "lobby_join", "scene_id": scene["id"]}
    )
    match = await until(page, "match")
    await until(page, "match_start")
    await fire(page, {"type": "server_ready", "match_id": match["match_id"], "now": 0.0})
    return match


async def play_out(page: Page, match_id: str, press=None, clock: float | None = None) -> list[dict]:
    """Read frames until the game ends, pressing keys on the way and reporting each frame
    drawn; returns every server message."""
    seen: list[dict] = []
    t = 1000.0 if clock is None else clock
    reported = {}
    while True:
        message = await asyncio.wait_for(page.recv(), timeout=20)
        seen.append(message)
        if message["type"] == "server_game_end" or message["type"] == "match_ended":
            return seen
        if message["type"] != "server_frame":
            continue
        t += 10.0
        frames = message["frames"]
        first = reported.get(message["episode"], 0)
        reported[message["episode"]] = frames
        await fire(
            page,
            {
                "type": "server_drawn",
                "match_id": match_id,
                "episode": message["episode"],
                "now": t,
                "frames": [[f, t] for f in range(first, frames)],
            },
        )
        if press is not None:
            action = press(message)
            if action is not None:
                for kind in ("down", "up"):
                    await fire(
                        page,
                        {
                            "type": "server_input",
                            "match_id": match_id,
                            "kind": kind,
                            "action": action,
                            "t": t - 5.0,
                            "now": t,
                        },
                    )


def stored_frames(app, pid: str, scene_id: str, episode: int) -> list[dict]:
    return app.extensions["igym"].store.frame_rows(pid, scene_id, episode)


async def test_cartpole_in_server_mode_records_what_a_cpython_replay_gives(tmp_path):
    scene = GameScene(
        id="pole",
        env="cartpole",
        mode="server",
        seats={"agent_0": "human"},
        episodes=2,
        max_steps=40,
        fps=60,
        countdown_s=0,
        frame_max_width=300,
    )
    app = make_app(tmp_path, scene, [CARTPOLE])
    client = app.test_client()
    async with client.websocket("/ws") as ws:
        page = Page(ws)
        match = await enter(page, "pole1")
        flip = iter(range(10**6))
        seen = await play_out(page, match["match_id"], press=lambda m: next(flip) % 2)
        end = seen[-1]
        assert end["type"] == "server_game_end" and end["reason"] == "completed", end
        frames = [m for m in seen if m["type"] == "server_frame"]
        image = frames[0]["frame"]["image"]
        assert image["format"] == "jpeg" and image["width"] == 300 and image["height"] == 200
        from PIL import Image

        decoded = Image.open(io.BytesIO(base64.b64decode(image["data"])))
        assert decoded.size == (300, 200)
        assert [m["episode"] for m in seen if m["type"] == "server_episode"] == [0, 1]
        store = app.extensions["igym"].store
        episodes = store.episodes_for("pole1", "pole")
        assert [e["status"] for e in episodes] == ["complete", "complete"]
        for e in episodes:
            rows = stored_frames(app, "pole1", "pole", e["episode"])
            assert [r["frame"] for r in rows] == list(range(e["frames"]))  # rows = steps
            assert rows[-1]["terminated"] or rows[-1]["truncated"]
            # the same actions in a fresh CartPole reset with the episode's seed: same rewards
            env = gymnasium.make("CartPole-v1")
            env.reset(seed=e["seed"])
            for r in rows:
                _obs, reward, terminated, _truncated, _ = env.step(r["actions"]["agent_0"])
                assert r["rewards"]["agent_0"] == reward and r["terminated"] == terminated
            assert {"key", "tick", "step", "drawn"} <= set(rows[0]["t"])
            pressed = [r for r in rows if r["t"]["key"] is not None]
            assert pressed and all(r["t"]["drawn"] is not None for r in pressed[:-1]), [
                (r["frame"], r["t"]) for r in rows if r["t"]["drawn"] is None
            ]
            assert all(r["focused"] is True for r in rows)
        # the page may not upload frames of a server scene
        page.seq += 1
        await page.send(
            {
                "token": page.token,
                "seq": page.seq,
                "type": "episode_start",
                "scene_id": "pole",
                "episode": 0,
            }
        )
        error = await until(page, "error")
        assert error["code"] == "server_recorded"
        # the scene is done: continue
        result = await page.submit({}, scene_id="pole")
        assert result[-1]["scene"]["kind"] == "end"


async def test_many_games_at_once_and_a_raising_env_ends_only_its_own(tmp_path):
    scene = GameScene(
        id="pole",
        env="cartpole",
        mode="server",
        seats={"agent_0": "human"},
        max_steps=30,
        fps=60,
        countdown_s=0,
    )
    app = make_app(tmp_path, scene, [CARTPOLE])
    bad = make_app(
        tmp_path / "bad",
        GameScene(
            id="boom",
            env="exploding",
            mode="server",
            seats={"agent_0": "human"},
            fps=60,
            countdown_s=0,
            max_steps=30,
        ),
        [EXPLODING],
    )
    results: dict[str, str] = {}

    async def one(the_app, pid: str) -> None:
        async with the_app.test_client().websocket("/ws") as ws:
            page = Page(ws)
            match = await enter(page, pid)
            seen = await play_out(page, match["match_id"])
            results[pid] = (seen[-1]["reason"], seen[-1]["message"])
            # completed or not, the participant goes on (an error ended the match for them)
            scene_id = page.scene["scene"]["id"]
            while (await page.submit({}, scene_id=scene_id))[-1]["type"] != "scene":
                await asyncio.sleep(0.05)  # (the match_ended message may come first)
            assert page.scene["scene"]["kind"] == "end"

    pids = [f"m{i}" for i in range(8)]
    await asyncio.wait_for(
        asyncio.gather(*(one(app, p) for p in pids), one(bad, "boom1")), timeout=60
    )
    assert {results[p][0] for p in pids} == {"completed"}
    reason, message = results["boom1"]
    assert reason == "error" and "RuntimeError: the simulator lost its mind" in message
    [episode] = bad.extensions["igym"].store.episodes_for("boom1", "boom")
    assert episode["status"] == "partial" and episode["frames"] == 4
    store = app.extensions["igym"].store
    assert all(store.episodes_for(p, "pole")[0]["status"] == "complete" for p in pids)


async def test_two_humans_cook_on_the_server_and_both_are_recorded(tmp_path):
    pytest.importorskip("igym_overcooked")
    scene = GameScene(
        id="cook",
        env=OVERCOOKED,
        mode="server",
        seats={"agent_0": "human", "agent_1": "human"},
        max_steps=60,
        fps=60,
        countdown_s=0,
    )
    app = make_app(tmp_path, scene)
    async with (
        app.test_client().websocket("/ws") as ws1,
        app.test_client().websocket("/ws") as ws2,
    ):
        a, b = Page(ws1), Page(ws2)
        matches = await asyncio.gather(enter(a, "cookA"), enter(b, "cookB"))
        assert matches[0]["match_id"] == matches[1]["match_id"]
        match_id = matches[0]["match_id"]
        seen_a, seen_b = await asyncio.gather(
            play_out(a, match_id, press=lambda m: 3), play_out(b, match_id, press=lambda m: 2)
        )
    frames_a = [m["frames"] for m in seen_a if m["type"] == "server_frame"]
    frames_b = [m["frames"] for m in seen_b if m["type"] == "server_frame"]
    assert frames_a == frames_b and frames_a[-1] == 60  # every member gets each frame
    assert "render" in next(m for m in seen_a if m["type"] == "server_frame")["frame"]
    rows_a = stored_frames(app, "cookA", "cook", 0)
    rows_b = stored_frames(app, "cookB", "cook", 0)
    assert len(rows_a) == len(rows_b) == 60
    strip = lambda rows: [{k: v for k, v in r.items() if k != "t"} for r in rows]  # noqa: E731
    assert strip(rows_a) == strip(rows_b)
    assert rows_a[-1]["truncated"] and rows_a[0]["focused"] == {"agent_0": True, "agent_1": True}
    # who plays which agent is the order they reached the waiting room in
    mine = {m["you"]: m["members"][m["you"]]["agents"][0] for m in matches}
    pressed = {mine[matches[0]["you"]]: 3, mine[matches[1]["you"]]: 2}
    assert any(r["actions"] == pressed for r in rows_a), [r["actions"] for r in rows_a]


async def test_human_ai_overcooked_with_a_server_side_policy(tmp_path):
    pytest.importorskip("igym_overcooked")
    scene = GameScene(
        id="cook",
        env=OVERCOOKED,
        mode="server",
        seats={"agent_0": "human", "agent_1": "policy:scripted"},
        max_steps=60,
        fps=120,
        countdown_s=0,
    )
    app = make_app(tmp_path, scene)
    async with app.test_client().websocket("/ws") as ws:
        page = Page(ws)
        match = await enter(page, "solo")
        seen = await play_out(page, match["match_id"])
    assert seen[-1]["reason"] == "completed"
    rows = stored_frames(app, "solo", "cook", 0)
    assert len(rows) == 60 and any(r["actions"]["agent_1"] != 6 for r in rows)


async def test_two_humans_play_tictactoe_turn_by_turn(tmp_path):
    pytest.importorskip("pettingzoo")
    scene = GameScene(
        id="ttt",
        env="tictactoe",
        mode="server",
        seats={"player_1": "human", "player_2": "human"},
        max_steps=9,
        fps=30,
        countdown_s=0,
    )
    app = make_app(tmp_path, scene, [TICTACTOE])
    moves = {"player_1": [4, 0, 8], "player_2": [1, 2]}  # player_1 wins on the diagonal

    async with (
        app.test_client().websocket("/ws") as ws1,
        app.test_client().websocket("/ws") as ws2,
    ):
        a, b = Page(ws1), Page(ws2)
        ma, mb = await asyncio.gather(enter(a, "tA"), enter(b, "tB"))
        me = {
            "tA": ma["members"][ma["you"]]["agents"][0],
            "tB": mb["members"][mb["you"]]["agents"][0],
        }
        assert sorted(me.values()) == ["player_1", "player_2"]
        match_id = ma["match_id"]

        async def player(page: Page, pid: str) -> list[dict]:
            agent = me[pid]
            mine = list(moves[agent])
            seen: list[dict] = []
            episode = await until(page, "server_episode", seen)
            turn = episode["frame"]["hud"]["turn"]
            t = 0.0
            while True:
                if turn == agent and mine:
                    t += 1
                    move = {"type": "server_input", "match_id": match_id, "action": mine.pop(0)}
                    await fire(page, {**move, "kind": "down", "t": t, "now": t})
                    await fire(page, {**move, "kind": "up", "t": t, "now": t})
                message = await until(page, "server_frame", seen)
                turn = message["frame"]["hud"].get("turn")
                if message["done"]:
                    end = await until(page, "server_game_end", seen)
                    assert end["reason"] == "completed"
                    return seen

        await asyncio.wait_for(asyncio.gather(player(a, "tA"), player(b, "tB")), timeout=30)
    rows = stored_frames(app, "tA", "ttt", 0)
    assert [r["infos"]["turn"] for r in rows] == [
        "player_1",
        "player_2",
        "player_1",
        "player_2",
        "player_1",
    ]
    assert [r["actions"][r["infos"]["turn"]] for r in rows] == [4, 1, 0, 2, 8]
    assert rows[-1]["terminated"] and rows[-1]["rewards"] == {"player_1": 1.0, "player_2": -1.0}
    [episode] = app.extensions["igym"].store.episodes_for("tB", "ttt")
    assert episode["status"] == "complete" and episode["frames"] == 5


async def test_three_humans_share_one_server_game(tmp_path):
    pytest.importorskip("igym_overcooked")
    scene = GameScene(
        id="cook3",
        env="overcooked.three_chefs",
        mode="server",
        seats={"agent_0": "human", "agent_1": "human", "agent_2": "human"},
        max_steps=15,
        fps=60,
        countdown_s=0,
    )
    app = make_app(tmp_path, scene)
    async with (
        app.test_client().websocket("/ws") as ws1,
        app.test_client().websocket("/ws") as ws2,
        app.test_client().websocket("/ws") as ws3,
    ):
        pages = [Page(ws1), Page(ws2), Page(ws3)]
        matches = await asyncio.gather(*(enter(p, f"c{i}") for i, p in enumerate(pages)))
        assert len({m["match_id"] for m in matches}) == 1
        agents = sorted(m["members"][m["you"]]["agents"][0] for m in matches)
        assert agents == ["agent_0", "agent_1", "agent_2"]
        seen = await asyncio.gather(*(play_out(p, matches[0]["match_id"]) for p in pages))
    assert all(s[-1]["reason"] == "completed" for s in seen)
    rows = [stored_frames(app, f"c{i}", "cook3", 0) for i in range(3)]
    assert [len(r) for r in rows] == [15, 15, 15]
    assert rows[0][0]["focused"] == {"agent_0": True, "agent_1": True, "agent_2": True}
