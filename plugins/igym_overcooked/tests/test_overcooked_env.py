"""The env's API: reset options, state round-trips, hashing, views, bad input, rendering."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from igym_overcooked import LAYOUTS, make
from igym_overcooked.env import OvercookedEnv, get_layout

ALL = list(LAYOUTS)


def _actions(env, rnd: random.Random) -> dict[str, int]:
    return {a: rnd.choice([0, 1, 2, 3, 4, 4, 4, 6]) for a in env.possible_agents}


def test_api_shape() -> None:
    env = make("cramped_room", max_steps=5)
    assert env.possible_agents == ["agent_0", "agent_1"]
    obs, infos = env.reset(seed=3)
    assert set(obs) == set(infos) == set(env.possible_agents)
    assert obs["agent_1"]["agent_index"] == 1 and obs["agent_1"]["layout"] == "cramped_room"
    for t in range(5):
        obs, rew, term, trunc, info = env.step({"agent_0": 6, "agent_1": 6})
        assert set(rew) == set(term) == set(trunc) == set(info) == set(env.possible_agents)
        assert trunc["agent_0"] is (t == 4)
        assert not any(term.values())
    assert env.agents == []
    # Stepping past the end keeps truncating and pays nothing.
    _, rew, _, trunc, _ = env.step({"agent_0": 6, "agent_1": 6})
    assert all(trunc.values()) and not any(rew.values())
    env.reset()
    assert env.agents == env.possible_agents


def test_three_chef_layout_has_three_agents() -> None:
    env = make("three_chefs")
    _obs, _ = env.reset(seed=0)
    assert env.possible_agents == ["agent_0", "agent_1", "agent_2"]
    assert [a["pos"] for a in env.state_view()["agents"]] == [[2, 1], [2, 7], [3, 4]]
    env.step({"agent_0": 3, "agent_1": 2, "agent_2": 0})
    assert len(env.state_view()["agents"]) == 3


def test_explicit_start_state() -> None:
    env = make("counter_circuit")
    env.reset(
        seed=5,
        options={
            "agent_positions": [[3, 6], [1, 1]],
            "agent_dirs": ["left", "up"],
            "rng_key": 1234,
        },
    )
    view = env.state_view()
    assert view["agents"] == [
        {"pos": [3, 6], "dir": "left", "held": None},
        {"pos": [1, 1], "dir": "up", "held": None},
    ]
    assert env.get_state()["rng_key"] == 1234
    assert view["t"] == 0 and view["items"] == []
    assert view["pots"] == [
        {"pos": [0, 3], "contents": [], "timer": 30},
        {"pos": [0, 4], "contents": [], "timer": 30},
    ]


@pytest.mark.parametrize(
    "options, message",
    [
        ({"agent_positions": [[0, 0], [1, 1]]}, "not a floor cell"),
        ({"agent_positions": [[9, 9], [1, 1]]}, "off the grid"),
        ({"agent_positions": [[1, 1]]}, "needs 2"),
        ({"agent_dirs": ["north", "up"]}, "agent_dirs"),
        ({"rng_key": -1}, "rng_key"),
        ({"np_random_state": {"bit_generator": "PCG64"}}, "generator state"),
        ({"np_random_state": 7}, "PCG64"),
        ({"colour": "red"}, "unknown reset option"),
    ],
)
def test_bad_reset_options(options: dict, message: str) -> None:
    env = OvercookedEnv("cramped_room")  # make() may give the PettingZoo class, which warns
    with pytest.raises(ValueError, match=message):
        env.reset(seed=0, options=options)


def test_generator_state_decides_the_steps_and_rolls_back() -> None:
    """The step keys come from the episode generator, which lives in the state: the same
    generator state gives the same future from any start, another one (usually) another."""
    a = make("counter_circuit")
    b = make("counter_circuit")
    opts = {"agent_positions": [[1, 2], [1, 4]], "agent_dirs": ["up", "up"]}
    a.reset(seed=3, options=opts)
    gen = a.get_state()["np_random_state"]
    assert gen["bit_generator"] == "PCG64" and gen["has_uint32"] in (0, 1)
    b.reset(seed=99, options={**opts, "np_random_state": gen})
    assert b.get_state()["np_random_state"] == gen
    winners = set()
    for seed in range(12):
        a.reset(seed=seed, options=opts)
        saved = a.get_state()
        a.step({"agent_0": 3, "agent_1": 2})  # both step into (1, 3)
        first = a.state_view()["agents"]
        winners.add(0 if first[0]["pos"] == [1, 3] else 1)
        a.set_state(saved)
        a.step({"agent_0": 3, "agent_1": 2})
        assert a.state_view()["agents"] == first
    assert winners == {0, 1}
    state = a.get_state()
    del state["np_random_state"]
    with pytest.raises(ValueError, match="np_random_state"):
        b.set_state(state)


def test_bad_actions_raise_clear_errors() -> None:
    env = make("cramped_room")
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"unknown agent id.*'agent_7'"):
        env.step({"agent_0": 1, "agent_7": 1})
    with pytest.raises(ValueError, match=r"no action given for agent.*agent_1"):
        env.step({"agent_0": 1})
    with pytest.raises(ValueError, match=r"action 7 for agent_1 is out of range"):
        env.step({"agent_0": 1, "agent_1": 7})
    with pytest.raises(ValueError, match=r"action -1 for agent_0 is out of range"):
        env.step({"agent_0": -1, "agent_1": 0})
    with pytest.raises(TypeError, match=r"action for agent_0 must be an int"):
        env.step({"agent_0": "up", "agent_1": 0})
    with pytest.raises(TypeError, match=r"must be an int"):
        env.step({"agent_0": 1.0, "agent_1": 0})
    with pytest.raises(ValueError, match="unknown Overcooked layout"):
        make("no_such_kitchen")
    # Nothing moved: bad input never half-applies a step.
    assert env.state_view()["t"] == 0


@pytest.mark.parametrize("layout", ALL)
def test_state_round_trips_through_json(layout: str) -> None:
    rnd = random.Random(layout)
    env = make(layout, max_steps=300)
    env.reset(seed=11)
    other = make(layout, max_steps=300)
    other.reset(seed=99)
    for t in range(300):
        if t % 37 == 0:
            snap = json.loads(json.dumps(env.get_state()))
            assert snap == env.get_state()
            other.set_state(snap)
            assert other.state_hash() == env.state_hash()
            assert other.state_view() == env.state_view()
        acts = _actions(env, rnd)
        r1 = env.step(acts)[1]
        if t % 37 < 10:
            r2 = other.step(acts)[1]
            assert r1 == r2
            assert other.state_hash() == env.state_hash()


def test_rollback_restores_exactly() -> None:
    """Save, run ahead with other inputs, restore, replay: the same states as the first time."""
    env = make("coordination_ring")
    env.reset(seed=4)
    rnd = random.Random(4)
    script = [_actions(env, rnd) for _ in range(200)]
    hashes = []
    for acts in script:
        env.step(acts)
        hashes.append(env.state_hash())
    env.reset(seed=4)
    for f, acts in enumerate(script):
        if f % 8 == 0:
            saved = env.get_state()
            for _ in range(5):
                env.advance(_actions(env, rnd))
            env.set_state(saved)
        env.advance(acts)
        assert env.state_hash() == hashes[f], f"frame {f}"


def test_hash_is_canonical() -> None:
    a = make("cramped_room")
    b = make("cramped_room")
    a.reset(seed=1)
    b.reset(seed=1)
    assert isinstance(a.state_hash(), bytes) and len(a.state_hash()) == 16
    assert a.state_hash() == b.state_hash()
    a.step({"agent_0": 6, "agent_1": 6})
    assert a.state_hash() != b.state_hash()
    b.step({"agent_0": 6, "agent_1": 6})
    assert a.state_hash() == b.state_hash()
    # Pinned: the same on every platform and Python (it is BLAKE2b of a repr of ints).
    c = make("cramped_room")
    c.reset(
        seed=0,
        options={"agent_positions": [[1, 1], [2, 3]], "agent_dirs": ["up", "down"], "rng_key": 7},
    )
    assert c.state_hash().hex() == PINNED_HASH


PINNED_HASH = "8f48828c8589ae2b778d81492cb7f18f"


def test_set_state_refuses_other_layouts() -> None:
    a = make("cramped_room")
    b = make("counter_circuit")
    with pytest.raises(ValueError, match="layout"):
        b.set_state(a.get_state())


def test_state_view_documented_shape() -> None:
    env = make("forced_coordination")
    env.reset(seed=0)
    # Left chef (1,1) fetches an onion and puts it on the middle counter (1,2).
    env.step({"agent_0": 2, "agent_1": 6})  # face the onion stack at (1,0)
    env.step({"agent_0": 4, "agent_1": 6})
    assert env.state_view()["agents"][0]["held"] == "onion"
    env.step({"agent_0": 3, "agent_1": 6})  # turn right towards the counter
    env.step({"agent_0": 4, "agent_1": 6})
    view = env.state_view()
    assert view["agents"][0] == {"pos": [1, 1], "dir": "right", "held": None}
    assert view["items"] == [[1, 2, "onion"]]
    assert view["t"] == 4
    json.dumps(view)


def test_render_draw_objects() -> None:
    env = make("cramped_room")
    env.reset(
        seed=0,
        options={"agent_positions": [[1, 1], [2, 3]], "agent_dirs": ["up", "right"], "rng_key": 0},
    )
    # Fill the pot: agent 0 takes onions from (1,0) and drops them in the pot at (0,2).
    env.set_state(
        {
            **env.get_state(),
            "pots": [[1, 1, 1]],
            "timers": [12],
            "held": [3, 1],
            "items": [0] * 7 + [4] + [0] * 12,
        }
    )
    objs = env.render()
    json.dumps(objs)
    lay = get_layout("cramped_room")
    meta = json.loads(
        (Path(__file__).parents[1] / "igym_overcooked" / "assets" / "overcooked.json").read_text()
    )
    for o in objs:
        assert o["kind"] in {"sprite", "rect", "circle", "text"}
        assert isinstance(o["layer"], int)
        assert 0 <= o["x"] <= lay.width and 0 <= o["y"] <= lay.height
        if o["kind"] == "sprite":
            assert o["atlas"] == "overcooked" and o["frame"] in meta["frames"]
    frames = [o["frame"] for o in objs if o["kind"] == "sprite"]
    assert frames.count("counter") == 9 and frames.count("floor") == 6
    assert "pot" in frames and "delivery" in frames and "plate_stack" in frames
    assert frames.count("onion_stack") == 2
    assert "chef_up_0" in frames and "chef_right_1" in frames
    assert frames.count("onion") == 3 + 1  # three in the pot, one held by agent 1
    assert frames.count("plate") == 1 and frames.count("onion_soup") == 1  # held; on counter
    texts = [o["text"] for o in objs if o["kind"] == "text"]
    assert texts == ["12"]
    # Static objects come first and in reading order.
    assert [o["frame"] for o in objs[:5]] == ["counter", "counter", "pot", "counter", "counter"]
    # A fresh render is not affected by mutating an earlier one.
    objs[0]["frame"] = "wall"
    assert env.render()[0]["frame"] == "counter"
