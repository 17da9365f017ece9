"""LocalPlay: the single-human game loop the worker runs, with PettingZoo and Gymnasium envs."""

from __future__ import annotations

import pytest

from igym_core.runtime.play import LocalPlay, PlayError, flatten_infos, replay


class Corridor:
    """A Gymnasium-style env: walk right to the goal; deterministic given the seed."""

    def __init__(self, length: int = 5) -> None:
        self.length = length
        self.pos = 0

    def reset(self, seed=None, options=None):
        self.pos = (seed or 0) % 2
        return self.pos, {}

    def step(self, action):
        self.pos = max(
            0, min(self.length, self.pos + (1 if action == 1 else -1 if action == 2 else 0))
        )
        done = self.pos == self.length
        return self.pos, (1.0 if done else 0.0), done, False, {"pos": self.pos, "path": [self.pos]}

    def get_state(self):
        return {"pos": self.pos}

    def set_state(self, state):
        self.pos = state["pos"]

    def render(self):
        return [{"kind": "rect", "x": self.pos, "y": 0, "w": 1, "h": 1, "color": "#f00"}]


def make_corridor(**kwargs):
    return Corridor(**kwargs)


def corridor_scene(max_steps: int = 20) -> dict:
    return {
        "env": {
            "factory": "tests.unit.test_play:make_corridor",
            "kwargs": {"length": 4},
            "agent_ids": ["agent_0"],
            "action_labels": {"0": "stay", "1": "right", "2": "left"},
            "default_action": 0,
            "policies": {},
        },
        "seats": {"agent_0": {"kind": "human", "policy": None}},
        "max_steps": max_steps,
    }


def cooking_scene(layout: str = "cramped_room", max_steps: int = 60) -> dict:
    return {
        "env": {
            "factory": "igym_overcooked:make",
            "kwargs": {"layout": layout, "max_steps": max_steps},
            "agent_ids": ["agent_0", "agent_1"],
            "action_labels": {str(a): str(a) for a in range(7)},
            "default_action": 6,
            "policies": {
                "scripted": {"factory": "igym_overcooked.policies:scripted_cook", "kwargs": {}}
            },
        },
        "seats": {
            "agent_0": {"kind": "human", "policy": None},
            "agent_1": {"kind": "policy", "policy": "scripted"},
        },
        "max_steps": max_steps,
    }


def test_gymnasium_env_episode_ends_on_termination():
    play = LocalPlay(corridor_scene())
    first = play.start(0, seed=1)
    assert first["render"] == [{"kind": "rect", "x": 1, "y": 0, "w": 1, "h": 1, "color": "#f00"}]
    out = [play.tick(1) for _ in range(3)]
    assert [o["record"]["frame"] for o in out] == [0, 1, 2]
    assert out[-1]["record"]["terminated"] and out[-1]["done"]
    assert out[-1]["record"]["rewards"] == {"agent_0": 1.0}
    assert out[-1]["hud"]["score"] == 1.0
    assert out[0]["record"]["infos"] == {"pos": 2, "path": "[2]"}
    with pytest.raises(PlayError, match="episode is over"):
        play.tick(1)


def test_max_steps_truncates_exactly():
    play = LocalPlay(corridor_scene(max_steps=7))
    play.start(0, seed=0)
    records = []
    while not play.done:
        records.append(play.tick(None, focused=False)["record"])
    assert len(records) == 7
    assert records[-1]["truncated"] and not any(r["truncated"] for r in records[:-1])
    assert all(r["actions"] == {"agent_0": 0} and r["focused"] is False for r in records)


def test_bad_action_is_refused():
    play = LocalPlay(corridor_scene())
    play.start(0, seed=0)
    with pytest.raises(PlayError, match="action 9 is not one of"):
        play.tick(9)


def test_overcooked_with_scripted_partner_replays_exactly():
    scene = cooking_scene(max_steps=120)
    play = LocalPlay(scene)
    play.start(0, seed=1234)
    human = [(i * 7) % 7 if i % 3 else 4 for i in range(120)]
    recorded = [play.tick(a)["record"] for a in human]
    assert len(recorded) == 120 and recorded[-1]["truncated"]
    assert replay(scene, 1234, [r["actions"]["agent_0"] for r in recorded]) == recorded
    assert any(r["actions"]["agent_1"] != 6 for r in recorded)  # the partner really plays


def test_random_seat_is_seeded():
    scene = cooking_scene()
    scene["seats"]["agent_1"] = {"kind": "random", "policy": None}
    a = replay(scene, 7, [6] * 30)
    b = replay(scene, 7, [6] * 30)
    c = replay(scene, 8, [6] * 30)
    assert a == b
    assert [r["actions"]["agent_1"] for r in a] != [r["actions"]["agent_1"] for r in c]


def test_flatten_infos():
    assert flatten_infos({"agent_0": {"x": 1, "d": {"y": None}}, "n": float("nan")}) == {
        "agent_0.x": 1,
        "agent_0.d.y": None,
        "n": None,
    }
    assert flatten_infos(None) == {}


def test_advance_batches_ticks_and_stops_at_the_end():
    scene = cooking_scene(max_steps=10)
    one_by_one = LocalPlay(scene)
    one_by_one.start(0, seed=5)
    expected = [one_by_one.tick(a, focused=a != 2)["record"] for a in [3, 2, 6, 4] * 2 + [1, 1]]
    batched = LocalPlay(scene)
    batched.start(0, seed=5)
    first = batched.advance([[3, True]])
    assert first["records"] == expected[:1] and not first["done"]
    rest = batched.advance([[a, a != 2] for a in [2, 6, 4, 3, 2, 6, 4, 1, 1, 5, 5]])
    assert rest["records"] == expected[1:] and rest["done"]
    assert rest["render"] == one_by_one.render() and rest["hud"]["frame"] == 10
    assert batched.advance([[0, True]])["records"] == []


@pytest.mark.parametrize("at", [0, 1, 37, 119])
def test_resume_replays_the_recorded_frames_and_goes_on_identically(at):
    """A reloaded page replays what it recorded and plays on: same state, same AI, same
    records as if it had never stopped."""
    scene = cooking_scene(max_steps=120)
    human = [(i * 5 + i // 7) % 7 for i in range(120)]
    whole = LocalPlay(scene)
    whole.start(0, seed=99)
    recorded = [whole.tick(a, focused=i % 11 != 0)["record"] for i, a in enumerate(human)]
    again = LocalPlay(scene)
    resumed = again.resume(0, 99, recorded[:at])
    assert resumed["resumed_at"] == at and resumed["done"] is False
    assert resumed["hud"]["score"] == sum(r["rewards"]["agent_0"] for r in recorded[:at])
    rest = [again.tick(a, focused=(at + i) % 11 != 0)["record"] for i, a in enumerate(human[at:])]
    assert rest == recorded[at:]
    assert again.render() == whole.render()


def test_resume_of_a_finished_episode_is_done_and_a_foreign_recording_is_refused():
    scene = cooking_scene(max_steps=20)
    play = LocalPlay(scene)
    play.start(0, seed=3)
    recorded = [play.tick(4)["record"] for _ in range(20)]
    assert LocalPlay(scene).resume(0, 3, recorded)["done"] is True
    forged = [
        dict(r, actions={**r["actions"], "agent_1": (r["actions"]["agent_1"] + 1) % 7})
        for r in recorded
    ]
    with pytest.raises(PlayError, match=r"agent_1 acts .* but .* was recorded"):
        LocalPlay(scene).resume(0, 3, forged)
    with pytest.raises(PlayError, match="must be 0, 1"):
        LocalPlay(scene).resume(0, 3, recorded[1:])
