"""Replaying a stored episode from its recorded actions (what the admin console shows)."""

from __future__ import annotations

import json

import pytest

from igym_core.runtime.play import LocalPlay
from igym_core.runtime.replay import ReplayError, replay_episode, replay_json
from tests.unit.test_play import cooking_scene


def played(scene: dict, seed: int, steps: int) -> list[dict]:
    """An episode as the worker records it: LocalPlay with a scripted partner."""
    play = LocalPlay(scene)
    play.start(0, seed)
    return [play.tick((i * 5) % 7 if i % 4 else 4)["record"] for i in range(steps)]


def test_a_recorded_episode_replays_with_the_same_rewards_and_renders():
    scene = cooking_scene(max_steps=80)
    records = played(scene, 77, 80)
    out = replay_episode(scene, 77, records)
    assert out["differences"] == [] and out["complete"]
    assert [f["frame"] for f in out["frames"]] == list(range(80))
    assert all(f["rewards"] == r["rewards"] for f, r in zip(out["frames"], records, strict=True))
    stored = sum(r["rewards"]["agent_0"] for r in records)
    assert out["totals"]["agent_0"] == {"stored": stored, "replayed": stored}
    # the frames are drawn with what the env renders, as on the participant's page
    play = LocalPlay(scene)
    play.start(0, 77)
    for r in records[:10]:
        play.tick(r["actions"]["agent_0"])
    assert out["frames"][9]["render"] == play.render() and out["first"]


def test_a_changed_reward_action_or_flag_is_reported_with_its_frame():
    scene = cooking_scene(max_steps=40)
    records = played(scene, 5, 40)
    assert any(r["rewards"]["agent_1"] for r in records)
    tampered = json.loads(json.dumps(records))
    tampered[3]["rewards"]["agent_1"] += 1.5
    tampered[10]["truncated"] = True
    out = replay_episode(scene, 5, tampered)
    assert out["differences"] == [
        {"frame": 3, "field": "reward", "agent": "agent_1", "stored": records[3]["rewards"]["agent_1"] + 1.5,
         "replayed": records[3]["rewards"]["agent_1"]},
        {"frame": 10, "field": "truncated", "stored": True, "replayed": False},
    ]  # fmt: skip
    assert out["totals"]["agent_1"]["stored"] - out["totals"]["agent_1"]["replayed"] == 1.5
    # a wrong seed gives another kitchen: the rewards stop matching at some frame
    assert replay_episode(scene, 6, records)["differences"]


def test_a_gap_or_a_missing_action_stops_the_replay_with_a_reason():
    scene = cooking_scene(max_steps=20)
    records = played(scene, 1, 20)
    out = replay_episode(scene, 1, records[:5] + records[6:])
    assert out["differences"] == [{"frame": 5, "field": "frame", "stored": 6, "replayed": 5}]
    assert len(out["frames"]) == 5 and not out["complete"]
    broken = [dict(records[0], actions={"agent_0": 1})]
    with pytest.raises(ReplayError, match="no action for every agent"):
        replay_episode(scene, 1, broken)


def coin_match(steps: int, seed: int) -> tuple[dict, list[dict]]:
    """A two-human coin-grid episode recorded as a multiplayer page records it: every agent's
    action, rewards, and the state hash after every 5th frame and the last."""
    from igym_core.runtime.toygame import GreedyCoinPolicy, make

    scene = {
        "env": {
            "factory": "igym_core.runtime.toygame:make",
            "kwargs": {"max_steps": steps},
            "agent_ids": ["agent_0", "agent_1"],
        },
        "max_steps": steps,
        "multiplayer": {"human_agents": ["agent_0", "agent_1"]},
    }
    game = make(max_steps=steps, seed=seed)
    game.reset(seed)
    greedy = GreedyCoinPolicy()
    rows = []
    for frame in range(steps):
        actions = [greedy.act(game.observe(0)), (frame * 3) % 7]
        outcome = game.step(actions)
        row = {
            "frame": frame,
            "actions": {"agent_0": actions[0], "agent_1": actions[1]},
            "rewards": {"agent_0": outcome.rewards[0], "agent_1": outcome.rewards[1]},
            "terminated": outcome.terminated,
            "truncated": outcome.truncated,
        }
        if frame % 5 == 4 or frame == steps - 1:
            row["state_hash"] = game.state_hash().hex()
        rows.append(row)
    return scene, rows


def test_state_hashes_of_multiplayer_records_are_checked():
    scene, rows = coin_match(30, seed=3)
    assert any(r["rewards"]["agent_0"] for r in rows)
    out = replay_episode(scene, 3, rows)
    assert out["differences"] == [] and out["complete"]
    rows[-1] = {**rows[-1], "state_hash": "00" * 16}
    assert [d["field"] for d in replay_episode(scene, 3, rows)["differences"]] == ["state_hash"]


def test_json_in_and_out_is_what_the_worker_calls():
    scene = cooking_scene(max_steps=10)
    records = played(scene, 9, 10)
    out = json.loads(replay_json(json.dumps({"scene": scene, "seed": 9, "frames": records})))
    assert out["differences"] == [] and len(out["frames"]) == 10
