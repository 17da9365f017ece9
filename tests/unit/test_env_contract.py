"""The environment contract (igym_core.runtime.game.EnvGame and runtime.adapter): Gymnasium envs
with their wrappers, PettingZoo parallel and AEC envs, Discrete and MultiDiscrete action spaces,
and the generic snapshot of envs without get_state()."""

from __future__ import annotations

import random

import pytest

from igym_core.runtime.adapter import ActionSpace, AdapterError, env_kind, read_space
from igym_core.runtime.game import EnvGame, GameError
from igym_core.runtime.hashing import object_hash
from igym_core.runtime.play import Play, PlayError
from igym_core.runtime.snapshot import clone
from igym_core.runtime.synctest import check_game

gymnasium = pytest.importorskip("gymnasium")
pytest.importorskip("pettingzoo")

from gymnasium import spaces  # noqa: E402
from pettingzoo.classic import tictactoe_v3  # noqa: E402


class Walker:
    """A pure-Python Gymnasium-style env without get_state(): a seeded random walk."""

    def __init__(self) -> None:
        self.rng = random.Random(0)
        self.pos = 0
        self.history: list[int] = []

    def reset(self, seed=None, options=None):
        self.rng = random.Random(seed)
        self.pos = 0
        self.history = []
        return self.pos, {}

    def step(self, action):
        self.pos += (1 if action == 1 else -1) + self.rng.choice((0, 0, 1))
        self.history.append(self.pos)
        return self.pos, float(self.pos), self.pos >= 10, False, {}


class GridMulti(gymnasium.Env):
    """A Gymnasium env with a MultiDiscrete action space: (direction 0..2, speed 0..1)."""

    def __init__(self) -> None:
        self.action_space = spaces.MultiDiscrete([3, 2])
        self.observation_space = spaces.Discrete(100)
        self.x = 50

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self.x = 50
        return self.x, {}

    def step(self, action):
        assert self.action_space.contains(action), action
        direction, speed = (int(v) for v in action)
        self.x += (direction - 1) * (1 + speed)
        return self.x, 0.0, False, False, {"last": [direction, speed]}


def test_gymnasium_make_with_its_wrappers_and_the_generic_snapshot() -> None:
    env = gymnasium.make("CartPole-v1", max_episode_steps=20)
    assert type(env).__name__ == "TimeLimit" and not hasattr(env, "get_state")
    game = EnvGame(env, seed=3)
    assert game.kind == "single" and game.agent_ids == ("agent_0",)
    assert game.action_spaces[0] == ActionSpace("discrete", 2)
    saved = game.get_state()
    assert game.snapshot == "copy"
    before = game.state_hash()
    first = [game.step([t % 2]) for t in range(5)]
    game.set_state(saved)
    assert game.state_hash() == before
    assert [game.step([t % 2]) for t in range(5)] == first  # the same future after a restore
    game.set_state(saved)  # a snapshot can be restored again
    assert game.state_hash() == before
    outcomes = []
    while not outcomes or not (outcomes[-1].terminated or outcomes[-1].truncated):
        outcomes.append(game.step([len(outcomes) % 2]))  # balance: it survives 20 steps
    assert len(outcomes) == 20 and outcomes[-1].truncated  # TimeLimit's truncation


def test_check_env_proves_the_generic_snapshot() -> None:
    report = check_game(lambda seed: EnvGame(Walker(), seed=seed), frames=60, action_count=2)
    assert report.ok, report.problems
    assert any("generic snapshot" in line for line in report.checks)
    report = check_game(
        lambda seed: EnvGame(gymnasium.make("MountainCar-v0"), seed=seed),
        seeds=[0],
        frames=40,
        action_count=3,
    )
    assert report.ok, report.problems


def test_hidden_state_is_caught_by_check_env() -> None:
    """A pure-Python env whose randomness lives outside the env object is not rollback-safe."""
    shared = random.Random(5)

    class Leaky(Walker):
        def step(self, action):
            self.pos += shared.choice((0, 1))
            return self.pos, 0.0, False, False, {}

    report = check_game(lambda seed: EnvGame(Leaky(), seed=seed), frames=40, action_count=2)
    assert not report.ok


def test_multidiscrete_actions_are_flat_ints() -> None:
    game = EnvGame(GridMulti(), seed=0)
    space = game.action_spaces[0]
    assert space.kind == "multi_discrete" and space.nvec == (3, 2) and space.n == 6
    assert list(game.actions(0)) == [0, 1, 2, 3, 4, 5]
    assert [list(space.to_env(a)) for a in range(6)] == [
        [0, 0],
        [0, 1],
        [1, 0],
        [1, 1],
        [2, 0],
        [2, 1],
    ]
    assert all(space.from_env(space.to_env(a)) == a for a in range(6))
    out = game.step([5])  # direction 2, speed 1: +2
    assert game.observe(0) == 52 and out.infos == {"last": [2, 1]}


def test_unreadable_action_spaces_are_named() -> None:
    with pytest.raises(AdapterError, match=r"Discrete or MultiDiscrete.*Box"):
        read_space(spaces.Box(0, 1, (2,)))


def test_pettingzoo_aec_moves_one_player_at_a_time() -> None:
    game = EnvGame(tictactoe_v3.env(), seed=0)
    assert game.kind == "aec" and game.agent_ids == ("player_1", "player_2")
    assert game.turn == 0
    game.step([4, 0])  # player_1 takes cell 4; player_2's action is ignored
    assert game.turn == 1
    game.step([0, 8])  # player_2 takes cell 8
    assert game.observe(0)["action_mask"].tolist() == [1, 1, 1, 1, 0, 1, 1, 1, 0]
    saved = game.get_state()  # mid-game: a pickle of this env would start a new game
    rest = [1, 2, 3, 5, 6, 7, 0]
    first = []
    for move in rest:
        first.append(game.step([move, move]))
        if first[-1].terminated:
            break
    assert first[-1].terminated and sorted(first[-1].rewards) == [-1.0, 1.0]
    game.set_state(saved)
    assert game.turn == 0 and game.observe(0)["action_mask"].tolist()[8] == 0
    assert [game.step([m, m]) for m in rest[: len(first)]] == first


def test_play_waits_for_the_human_whose_turn_it_is() -> None:
    scene = {
        "env": {
            "factory": "pettingzoo.classic.tictactoe_v3:env",
            "kwargs": {},
            "agent_ids": ["player_1", "player_2"],
            "action_labels": {str(a): f"cell {a}" for a in range(9)},
            "default_action": 0,
            "policies": {},
        },
        "seats": {
            "player_1": {"kind": "human", "policy": None},
            "player_2": {"kind": "human", "policy": None},
        },
        "max_steps": 9,
    }
    play = Play(scene)
    play.start(0, seed=0)
    assert play.turn == "player_1" and play.hud()["turn"] == "player_1"
    assert play.step({"player_1": None, "player_2": 3}) is None  # not player_2's move
    record = play.step({"player_1": 4, "player_2": None})
    assert record["frame"] == 0 and record["infos"]["turn"] == "player_1"
    assert record["actions"] == {"player_1": 4, "player_2": 0}
    assert record["focused"] == {"player_1": True, "player_2": True}
    assert play.turn == "player_2" and play.frame == 1
    with pytest.raises(PlayError, match="not a human seat"):
        play.step({"nobody": 1})


def test_random_seat_plays_from_the_action_space() -> None:
    scene = {
        "env": {
            "factory": "tests.unit.test_env_contract:GridMulti",
            "kwargs": {},
            "agent_ids": ["agent_0"],
            "action_labels": {"0": "left slow", "4": "right slow"},
            "default_action": 0,
            "policies": {},
        },
        "seats": {"agent_0": {"kind": "human", "policy": None}},
        "max_steps": 5,
        "step_on": "input",
    }
    play = Play(scene)
    play.start(0, seed=0)
    assert play.step({"agent_0": None}) is None and play.frame == 0  # no key, no step
    assert play.step({"agent_0": 4})["frame"] == 0 and play.game.observe(0) == 51


def test_agent_ids_come_from_the_env() -> None:
    from igym_overcooked import make

    with pytest.raises(GameError, match=r"the env's agents are \['agent_0', 'agent_1'\]"):
        EnvGame(make("cramped_room"), agent_ids=["a", "b"])
    with pytest.raises(GameError, match="single-agent env"):
        EnvGame(Walker(), agent_ids=["a", "b"])
    assert EnvGame(Walker(), agent_ids=["pilot"]).agent_ids == ("pilot",)
    assert env_kind(tictactoe_v3.env()) == "aec"
    assert env_kind(tictactoe_v3.raw_env()) == "aec"


def test_old_gym_step_api_is_refused_with_a_reason() -> None:
    class OldGym(Walker):
        def step(self, action):
            return self.pos, 0.0, False, {}

    game = EnvGame(OldGym(), seed=0)
    with pytest.raises(GameError, match="old Gym API returns 4"):
        game.step([1])


def test_object_hash_ignores_identity_and_follows_state() -> None:
    shared = [1, 2]
    a = {"x": shared, "y": shared, "w": Walker()}
    b = clone(a)
    assert b["x"] is b["y"] and b["x"] is not shared
    c = {"x": [1, 2], "y": [1, 2], "w": Walker()}  # the same values, nothing shared
    assert object_hash(a) == object_hash(b) == object_hash(c)
    c["w"].pos = 1
    assert object_hash(a) != object_hash(c)
    loop: list = []
    loop.append(loop)
    assert object_hash(loop) == object_hash(clone(loop))
