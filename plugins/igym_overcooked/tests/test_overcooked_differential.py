"""Differential tests: our Overcooked against cogrid 0.3.2, step for step, through cogrid's public
``env.step()``.

Both envs start from the same state (cogrid's seeded reset, or an explicit start state with
agents placed anywhere, often next to each other, a random state ``rng_key`` and a random
``np_random`` generator state: the stream ``env.step()`` draws each step's key from) and get
the same action sequences. Actions are drawn from a seeded mix of uniformly random actions and
the scripted cook's, so that the sequences reach every rule (cooking, plating, delivering,
items on counters and floor, agents bumping into each other). At every step the views, the
rewards, the truncations, cogrid's state ``rng_key`` and its generator state must be equal.

The 50 long sequences run on cogrid's registered configs with the observation features cut to
one (features only shape observations; computing all of them is most of cogrid's step time);
``test_registered_envs_unchanged`` runs the registered envs exactly as ``cogrid.make`` builds
them.
"""

from __future__ import annotations

import random

import pytest

pytest.importorskip("cogrid")
pytest.importorskip("numpy")

import numpy as np
from igym_overcooked import make
from igym_overcooked.env import DIRECTIONS, get_layout
from igym_overcooked.layouts import CLASSIC
from igym_overcooked.policies import ScriptedCook
from overcooked_cogrid_ref import cogrid_keys, cogrid_reset, cogrid_step, cogrid_view, make_cogrid

STEPS = 400
SEQUENCES_PER_LAYOUT = 10  # 5 layouts x 10 = 50 sequences of 400 steps

_COGRID: dict[str, object] = {}
FAST_FEATURES = ["agent_dir"]


def _cogrid(layout: str, n_agents: int = 2):
    key = f"{layout}-{n_agents}"
    env = _COGRID.get(key)
    if env is None:
        env = _COGRID[key] = make_cogrid(
            layout, max_steps=STEPS, features=FAST_FEATURES, n_agents=n_agents
        )
    return env


def _random_generator_state(rnd: random.Random) -> dict:
    """A numpy PCG64 state somewhere in a stream (sometimes with a buffered half-word)."""
    g = np.random.Generator(np.random.PCG64(rnd.getrandbits(64)))
    g.integers(0, 2**31, size=rnd.randrange(0, 4))
    return g.bit_generator.state


def _start(layout: str, seq: int, rnd: random.Random) -> tuple[int, dict | None]:
    """Even sequences: cogrid's seeded reset. Odd ones: an explicit start state."""
    seed = 1000 * seq + 17
    if seq % 2 == 0:
        return seed, None
    lay = get_layout(layout)
    floor = lay.floor_cells
    first = rnd.choice(floor)
    # Half of the explicit starts put the second chef right next to the first.
    near = [f for d in range(4) if (f := lay.move[d][first]) != first]
    second = (
        rnd.choice(near)
        if near and rnd.random() < 0.5
        else rnd.choice([k for k in floor if k != first])
    )
    return seed, {
        "agent_positions": [lay.rc(first), lay.rc(second)],
        "agent_dirs": [rnd.choice(DIRECTIONS) for _ in range(2)],
        "rng_key": rnd.getrandbits(63),
        "np_random_state": _random_generator_state(rnd),
    }


def _assert_same(ours, ce, where: str) -> None:
    assert ours.state_view() == cogrid_view(ce), f"{where}: views differ"
    key, gen = cogrid_keys(ce)
    state = ours.get_state()
    assert state["rng_key"] == key, f"{where}: rng_key differs"
    assert state["np_random_state"] == gen, f"{where}: generator states differ"


def _run_sequence(layout: str, seq: int) -> dict[str, int]:
    rnd = random.Random(f"{layout}-{seq}")
    seed, options = _start(layout, seq, rnd)
    ours = make(layout, max_steps=STEPS)
    obs, _ = ours.reset(seed=seed, options=options)
    ce = _cogrid(layout)
    if options is None:
        cogrid_reset(ce, seed)
    else:
        cogrid_reset(
            ce,
            seed,
            positions=options["agent_positions"],
            dirs=options["agent_dirs"],
            rng_key=options["rng_key"],
            np_random_state=options["np_random_state"],
        )
    _assert_same(ours, ce, f"{layout} seq {seq}: start")

    cooks = [ScriptedCook(a, seed + i) for i, a in enumerate(ours.possible_agents)]
    # How random this sequence is: from mostly scripted to fully random.
    eps = (0.15, 0.35, 0.6, 1.0)[seq % 4]
    stats = {"soups": 0, "rewarded_steps": 0}
    for t in range(STEPS):
        acts = [
            rnd.randrange(7) if rnd.random() < eps else cooks[i].act(obs[a])
            for i, a in enumerate(ours.possible_agents)
        ]
        c_rewards, c_trunc, _ = cogrid_step(ce, acts)
        obs, rewards, _term, trunc, _ = ours.step(
            dict(zip(ours.possible_agents, acts, strict=True))
        )
        _assert_same(ours, ce, f"{layout} seq {seq}: after step {t}, {acts}")
        assert list(rewards.values()) == c_rewards, f"{layout} seq {seq}: rewards at step {t}"
        assert list(trunc.values()) == c_trunc
        stats["rewarded_steps"] += c_rewards[0] > 0
    stats["soups"] = ours.soups_delivered
    return stats


@pytest.mark.parametrize("layout", CLASSIC)
def test_differential_against_cogrid(layout: str) -> None:
    soups = 0
    rewarded = 0
    for seq in range(SEQUENCES_PER_LAYOUT):
        stats = _run_sequence(layout, seq)
        soups += stats["soups"]
        rewarded += stats["rewarded_steps"]
    # The sequences must actually exercise cooking and delivery, not just walking.
    assert soups >= 5, f"{layout}: only {soups} soups delivered across the sequences"
    assert rewarded >= 20


@pytest.mark.parametrize("layout", CLASSIC)
def test_seeded_reset_matches_cogrid(layout: str) -> None:
    ce = _cogrid(layout)
    ours = make(layout)
    for seed in (0, 1, 2, 42, 123456789, 2**40 + 3):
        ours.reset(seed=seed)
        cogrid_reset(ce, seed)
        _assert_same(ours, ce, f"{layout} seed {seed}")


def test_head_on_collisions_follow_cogrid_priorities() -> None:
    """Two chefs stepping into the same cell: the winner depends on the key, as in cogrid."""
    ce = _cogrid("counter_circuit")
    ours = make("counter_circuit", max_steps=STEPS)
    winners = set()
    for seed in range(40):
        # (1,2) and (1,4) both step into (1,3); the step key comes from the seeded generator.
        opts = {"agent_positions": [[1, 2], [1, 4]], "agent_dirs": ["up", "up"]}
        ours.reset(seed=seed, options=opts)
        cogrid_reset(ce, seed, positions=opts["agent_positions"], dirs=opts["agent_dirs"])
        cogrid_step(ce, [3, 2])
        ours.step({"agent_0": 3, "agent_1": 2})
        view = ours.state_view()
        assert view == cogrid_view(ce)
        winners.add(0 if view["agents"][0]["pos"] == [1, 3] else 1)
    assert winners == {0, 1}


@pytest.mark.parametrize("seq", range(4))
def test_three_chefs_against_cogrid(seq: int) -> None:
    """The rules for any number of chefs: our three_chefs kitchen run by cogrid too."""
    layout = "three_chefs"
    ce = _cogrid(layout, n_agents=3)
    rnd = random.Random(f"three-{seq}")
    ours = make(layout, max_steps=STEPS)
    seed = 31 * seq + 5
    lay = get_layout(layout)
    if seq % 2:
        # Crowd the chefs into one corner so that three-way conflicts and cascades happen.
        cells = rnd.sample(lay.floor_cells[:8], 3)
        opts = {
            "agent_positions": [lay.rc(k) for k in cells],
            "agent_dirs": [rnd.choice(DIRECTIONS) for _ in range(3)],
            "rng_key": rnd.getrandbits(63),
            "np_random_state": _random_generator_state(rnd),
        }
        obs, _ = ours.reset(seed=seed, options=opts)
        cogrid_reset(
            ce,
            seed,
            positions=opts["agent_positions"],
            dirs=opts["agent_dirs"],
            rng_key=opts["rng_key"],
            np_random_state=opts["np_random_state"],
        )
    else:
        obs, _ = ours.reset(seed=seed)
        cogrid_reset(ce, seed)
    _assert_same(ours, ce, "three_chefs start")
    cooks = [ScriptedCook(a, seed + i) for i, a in enumerate(ours.possible_agents)]
    eps = (0.2, 0.8)[seq % 2]
    for t in range(300):
        acts = [
            rnd.randrange(7) if rnd.random() < eps else cooks[i].act(obs[a])
            for i, a in enumerate(ours.possible_agents)
        ]
        c_rewards, _, _ = cogrid_step(ce, acts)
        obs, rewards, *_ = ours.step(dict(zip(ours.possible_agents, acts, strict=True)))
        _assert_same(ours, ce, f"three_chefs seq {seq}: step {t}, {acts}")
        assert list(rewards.values()) == c_rewards
