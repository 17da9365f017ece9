"""The AI partners: scores of two scripted cooks, determinism, rollback safety."""

from __future__ import annotations

import copy

import pytest
from igym_overcooked import LAYOUTS, make
from igym_overcooked.policies import RandomPolicy, ScriptedCook, random_policy, scripted_cook

# Soups two scripted cooks must deliver in 400 steps (issue 3: >= 4 in cramped_room, >= 1
# elsewhere). Measured over seeds 0..9 they deliver 8, 14, 11, 8, 8-9 and 12-14.
MINIMUM = {
    "cramped_room": 4,
    "asymmetric_advantages": 1,
    "coordination_ring": 1,
    "forced_coordination": 1,
    "counter_circuit": 1,
    "three_chefs": 1,
}


def _play(layout: str, seed: int, factories) -> int:
    env = make(layout, max_steps=400)
    obs, _ = env.reset(seed=seed)
    seats = [
        f(a, seed * 10 + i)
        for i, (a, f) in enumerate(zip(env.possible_agents, factories, strict=False))
    ]
    while env.agents:
        obs, *_ = env.step({a: seats[i].act(obs[a]) for i, a in enumerate(env.possible_agents)})
    return env.soups_delivered


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_two_scripted_cooks_deliver(layout: str, seed: int) -> None:
    soups = _play(layout, seed, [scripted_cook] * 3)
    assert soups >= MINIMUM[layout], f"{layout} seed {seed}: {soups} soups"


def test_scripted_cook_with_random_partner_still_cooks() -> None:
    assert _play("cramped_room", 3, [scripted_cook, random_policy]) >= 1


def test_policies_are_pure_functions_of_the_observation() -> None:
    """The same observation gives the same action, whatever was seen before (rollback-safe)."""
    env = make("counter_circuit")
    obs, _ = env.reset(seed=5)
    cook = ScriptedCook("agent_0", 3)
    rnd = RandomPolicy("agent_1", 3)
    seen = []
    for _ in range(120):
        o0, o1 = copy.deepcopy(obs["agent_0"]), copy.deepcopy(obs["agent_1"])
        a0, a1 = cook.act(obs["agent_0"]), rnd.act(obs["agent_1"])
        assert 0 <= a0 <= 6 and 0 <= a1 <= 6
        seen.append((o0, o1, a0, a1))
        obs, *_ = env.step({"agent_0": a0, "agent_1": a1})
    fresh_cook = ScriptedCook("agent_0", 3)
    fresh_rnd = RandomPolicy("agent_1", 3)
    for o0, o1, a0, a1 in reversed(seen):
        assert fresh_cook.act(o0) == a0
        assert fresh_rnd.act(o1) == a1


def test_random_policy_uses_every_action() -> None:
    pol = random_policy("agent_0", 9)
    acts = {
        pol.act({"agent_index": 0, "layout": "cramped_room", "state": {"t": t}}) for t in range(200)
    }
    assert acts == set(range(7))


def test_factories_refuse_unknown_options() -> None:
    with pytest.raises(TypeError, match="no options"):
        scripted_cook("agent_0", 0, greed=3)
    with pytest.raises(TypeError, match="no options"):
        random_policy("agent_0", 0, temperature=1)
