"""The kitchen as a PettingZoo ParallelEnv (CPython with gymnasium and pettingzoo installed):
PettingZoo's own API test on every layout, spaces, rgb_array images, cogrid's feature vectors
step for step, and an episode igym recorded replayed in cogrid itself."""

from __future__ import annotations

import random
import warnings

import pytest

pytest.importorskip("pettingzoo")
pytest.importorskip("cogrid")

import numpy as np
import pettingzoo
from igym_overcooked import LAYOUTS, make
from igym_overcooked.env import OvercookedEnv
from igym_overcooked.layouts import CLASSIC, COGRID_NAMES
from igym_overcooked.parallel import OvercookedParallelEnv
from overcooked_cogrid_ref import cogrid_reset, cogrid_step, cogrid_view, make_cogrid
from pettingzoo.test import parallel_api_test


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_parallel_api_test_passes(layout: str) -> None:
    env = make(layout, max_steps=120)
    assert isinstance(env, pettingzoo.ParallelEnv) and env.unwrapped is env
    with warnings.catch_warnings(record=True):
        parallel_api_test(env, num_cycles=200)
    obs, _ = env.reset(seed=3)
    for agent in env.agents:
        assert env.observation_space(agent).contains(obs[agent])
        assert env.action_space(agent).n == 7
    if layout in COGRID_NAMES:
        feat = make(layout, max_steps=60, observations="features")
        with warnings.catch_warnings(record=True):
            parallel_api_test(feat, num_cycles=80)
        obs, _ = feat.reset(seed=3)
        assert all(feat.observation_space(a).contains(obs[a]) for a in feat.agents)
        assert obs["agent_0"].shape == (892,) and obs["agent_0"].dtype == np.float32


def test_state_space_rejects_what_is_not_a_state() -> None:
    env = make("cramped_room")
    obs, _ = env.reset(seed=0)
    space = env.observation_space("agent_0")["state"]
    state = obs["agent_0"]["state"]
    assert space.contains(state) and space.contains(space.sample())
    assert not space.contains({**state, "pos": [0, 1]})  # counters, not floor
    assert not space.contains({**state, "dir": [0, 9]})
    assert not space.contains({**state, "layout": "counter_circuit"})
    assert not space.contains({k: v for k, v in state.items() if k != "rng_key"})
    assert not space.contains({**state, "np_random_state": {"bit_generator": "MT19937"}})


def test_unknown_reset_options_warn_and_known_ones_apply() -> None:
    env = make("cramped_room")
    with pytest.warns(UserWarning, match="ignores unknown reset option"):
        env.reset(seed=0, options={"options": 1, "agent_dirs": ["up", "up"]})
    assert [a["dir"] for a in env.state_view()["agents"]] == ["up", "up"]
    # The standard-library env stays strict.
    with pytest.raises(ValueError, match="unknown reset option"):
        OvercookedEnv("cramped_room").reset(seed=0, options={"options": 1})


def test_same_dynamics_and_observations_as_the_stdlib_env() -> None:
    a, b = make("coordination_ring"), OvercookedEnv("coordination_ring")
    assert isinstance(a, OvercookedParallelEnv) and not isinstance(b, pettingzoo.ParallelEnv)
    oa, _ = a.reset(seed=9)
    ob, _ = b.reset(seed=9)
    rnd = random.Random(9)
    for _ in range(150):
        assert oa == ob and a.state_hash() == b.state_hash()
        acts = {x: rnd.randrange(7) for x in a.possible_agents}
        oa, *_ = a.step(acts)
        ob, *_ = b.step(acts)


def test_rgb_array_render() -> None:
    env = make("cramped_room", render_mode="rgb_array")
    env.reset(seed=0)
    img = env.render()
    assert img.shape == (4 * 32, 5 * 32, 3) and img.dtype == np.uint8
    # The floor cell (1, 1) and the counter (0, 0) are drawn from their sprites.
    assert not np.array_equal(img[40, 40], img[8, 8])
    env.step({"agent_0": 2, "agent_1": 3})
    assert not np.array_equal(env.render(), img)  # the chefs turned
    with pytest.raises(ValueError, match="render_mode"):
        make("cramped_room", render_mode="human")
    assert isinstance(make("cramped_room").render(), list)  # draw objects by default


@pytest.mark.parametrize("layout", CLASSIC)
def test_feature_vectors_match_registered_cogrid(layout: str) -> None:
    """``observations="features"`` against cogrid's own registered env, unchanged, through
    its public reset/step: the 892 numbers of both agents at every step."""
    ce = make_cogrid(layout)
    ours = make(layout, max_steps=1000, observations="features")
    rnd = random.Random(layout)
    for seed in (0, 7):
        c_obs, _ = ce.reset(seed=seed)
        obs, _ = ours.reset(seed=seed)
        for t in range(150):
            for i, agent in enumerate(ours.possible_agents):
                assert np.array_equal(obs[agent], c_obs[i]), f"{layout} seed {seed} step {t}"
            acts = [rnd.choice((0, 1, 2, 3, 4, 4, 4, 6)) for _ in range(2)]
            c_rewards, _, c_obs = cogrid_step(ce, acts)
            obs, rewards, *_ = ours.step(dict(zip(ours.possible_agents, acts, strict=True)))
            assert list(rewards.values()) == c_rewards


def test_features_are_refused_where_cogrid_has_none() -> None:
    with pytest.raises(ValueError, match="two-chef kitchens"):
        make("three_chefs", observations="features")
    with pytest.raises(ValueError, match="observations"):
        make("cramped_room", observations="pixels")


def test_an_igym_recorded_episode_replays_identically_in_cogrid() -> None:
    """A human-AI episode as igym records it (LocalPlay, what the browser worker runs: one
    record per frame with every agent's action and reward) replays frame for frame in cogrid's
    registered ``Overcooked-CrampedRoom-V0``, reset with the episode's seed."""
    pytest.importorskip("igym_core")
    from igym_core.config import GameScene
    from igym_core.plugins import PluginManager
    from igym_core.runtime.play import LocalPlay
    from igym_core.server.games import GameService
    from igym_core.server.packages import Bundles

    scene = GameScene(
        id="cook",
        env="overcooked.cramped_room",
        seats={"agent_0": "human", "agent_1": "policy:scripted"},
        max_steps=400,
    )
    described = GameService(None, PluginManager(), Bundles(), "x").describe(scene, "p1")
    seed = described["seeds"][0]
    play = LocalPlay(described)
    play.start(0, seed)
    rnd = random.Random(seed)
    records = play.advance([(rnd.choice((0, 1, 2, 3, 4, 4, 6)), True) for _ in range(400)])[
        "records"
    ]
    assert len(records) == 400 and records[-1]["truncated"]
    assert sum(r["rewards"]["agent_0"] for r in records) > 0  # the scripted cook scored

    ce = make_cogrid("cramped_room")
    cogrid_reset(ce, seed)
    ours = make("cramped_room", max_steps=400)
    ours.reset(seed=seed)
    for r in records:
        acts = [r["actions"]["agent_0"], r["actions"]["agent_1"]]
        c_rewards, _, _ = cogrid_step(ce, acts)
        assert c_rewards == [r["rewards"]["agent_0"], r["rewards"]["agent_1"]], r["frame"]
        ours.step(dict(zip(ours.possible_agents, acts, strict=True)))
        assert cogrid_view(ce) == ours.state_view(), r["frame"]


@pytest.mark.parametrize("layout", CLASSIC)
def test_state_from_features_gives_back_what_the_cook_reads(layout: str) -> None:
    from igym_overcooked.features import features, state_from_features
    from igym_overcooked.policies import ScriptedCook

    env = OvercookedEnv(layout, max_steps=300)
    obs, _ = env.reset(seed=3)
    cooks = [ScriptedCook(a, 1) for a in env.possible_agents]
    rnd = random.Random(layout)
    for _ in range(300):
        state = env.get_state()
        for i in range(2):
            got = state_from_features(env.layout, features(env.layout, state, i), i)
            for key in ("pos", "dir", "held", "items", "timers"):
                assert got[key] == state[key], key
            assert [sorted(c) for c in got["pots"]] == [sorted(c) for c in state["pots"]]
        acts = {
            a: cook.act(obs[a]) if rnd.random() < 0.7 else rnd.randrange(7)
            for a, cook in zip(env.possible_agents, cooks, strict=True)
        }
        obs, *_ = env.step(acts)


def test_feature_cooks_score_in_cogrid_itself() -> None:
    """Two scripted cooks that see only cogrid's own observations cook in cogrid's env."""
    import cogrid
    from igym_overcooked.policies import feature_cook

    env = cogrid.make("Overcooked-CrampedRoom-V0")
    obs, _ = env.reset(seed=5)
    cooks = [feature_cook(str(a), 7) for a in env.possible_agents]
    score = 0.0
    for _ in range(300):
        acts = {a: c.act(obs[a]) for a, c in zip(env.possible_agents, cooks, strict=True)}
        obs, rewards, *_ = env.step(acts)
        score += rewards[0]
    assert score >= 60  # at least two soups delivered (and their onions and platings)


@pytest.mark.parametrize("layout", CLASSIC)
def test_cogrid_drawn_with_our_sprites_looks_like_our_kitchen(layout: str) -> None:
    """cogrid_render.make(...) is cogrid's env; its draw objects, built from cogrid's
    get_state(), are what our own env draws in the same state."""
    from igym_overcooked.cogrid_render import make as cogrid_drawn

    ce = cogrid_drawn(COGRID_NAMES[layout])
    ours = make(layout, max_steps=1000)
    ce.reset(seed=11)
    ours.reset(seed=11)
    assert ce.possible_agents == [0, 1]  # still cogrid's env
    rnd = random.Random(layout)
    for t in range(120):
        if t % 10 == 0:
            assert ce.render() == ours.render(), f"{layout} step {t}"
        acts = [rnd.choice((0, 1, 2, 3, 4, 4, 6)) for _ in range(2)]
        ce.step({0: acts[0], 1: acts[1]})
        ours.step(dict(zip(ours.possible_agents, acts, strict=True)))
    with pytest.raises(ValueError, match="render_mode"):
        cogrid_drawn("Overcooked-CrampedRoom-V0", render_mode="rgb_array")
