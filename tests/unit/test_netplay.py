"""NetPlay: the worker's multiplayer game, played between peers over the simulated network."""

from __future__ import annotations

import base64
import json
import random

import pytest

from igym_core.runtime.netplay import NetPlay
from igym_core.runtime.netsim import LinkConditions, SimNetwork
from igym_core.runtime.play import PlayError

FPS = 30
FRAME_MS = 1000 / FPS


def overcooked_scene(max_steps: int = 90, humans: int = 2, **multiplayer) -> dict:
    seats = {
        "agent_0": {"kind": "human", "policy": None},
        "agent_1": (
            {"kind": "human", "policy": None}
            if humans > 1
            else {"kind": "policy", "policy": "scripted"}
        ),
    }
    return {
        "env": {
            "factory": "igym_overcooked:make",
            "kwargs": {"layout": "cramped_room", "max_steps": max_steps},
            "agent_ids": ["agent_0", "agent_1"],
            "action_labels": {str(a): str(a) for a in range(7)},
            "default_action": 6,
            "policies": {
                "scripted": {"factory": "igym_overcooked.policies:scripted_cook", "kwargs": {}}
            },
        },
        "seats": seats,
        "max_steps": max_steps,
        "fps": FPS,
        "multiplayer": {
            "human_agents": [a for a, s in seats.items() if s["kind"] == "human"],
            "input_delay": 2,
            "max_prediction": 8,
            "hash_interval": 30,
            **multiplayer,
        },
    }


def toy_scene(max_steps: int = 60, agents: int = 3, ai: tuple[int, ...] = ()) -> dict:
    ids = [f"agent_{i}" for i in range(agents)]
    return {
        "env": {
            "factory": "igym_core.runtime.toygame:make",
            "kwargs": {"n_agents": agents, "max_steps": max_steps},
            "agent_ids": ids,
            "action_labels": {str(a): str(a) for a in range(7)},
            "default_action": 6,
            "policies": {},
        },
        "seats": {
            a: (
                {"kind": "random", "policy": None} if i in ai else {"kind": "human", "policy": None}
            )
            for i, a in enumerate(ids)
        },
        "max_steps": max_steps,
        "fps": FPS,
        "multiplayer": {"human_agents": [a for i, a in enumerate(ids) if i not in ai]},
    }


def match_for(scene: dict, you: int, seeds=(11, 22)) -> dict:
    humans = scene["multiplayer"]["human_agents"]
    return {
        "match_id": "m1",
        "members": [{"participant_id": f"p{i}", "agents": [a]} for i, a in enumerate(humans)],
        "you": you,
        "seeds": list(seeds),
    }


def play_episode(
    plays: list[NetPlay],
    episode: int,
    link: LinkConditions,
    seed: int = 0,
    start_offsets: tuple[float, ...] | None = None,
    via_json: bool = False,
    limit_ms: float = 60_000,
) -> dict:
    """Run one episode between the peers over a simulated network, like the workers do."""
    n = len(plays)
    net = SimNetwork(n, seed=seed, default=link)
    rng = random.Random(seed)
    settled: list[list[dict]] = [[] for _ in range(n)]
    stats = {"rollbacks": 0, "depth": 0, "events": []}
    for p in plays:
        p.start(episode)
    offsets = start_offsets or tuple(0.0 for _ in range(n))
    next_tick = list(offsets)
    held = [6] * n
    done = [False] * n
    while not all(done):
        p = min(range(n), key=next_tick.__getitem__)
        t = next_tick[p]
        assert t < limit_ms, "the episode did not finish"
        next_tick[p] = t + FRAME_MS
        net.advance_to(t)
        if done[p]:
            continue
        if rng.random() < 0.3:
            held[p] = rng.randrange(7)
        endpoint = net.endpoint(p)
        packets = endpoint.receive()
        if via_json:
            text = plays[p].tick_json(
                json.dumps(
                    {
                        "now": t,
                        "action": held[p] % len(plays[p].actions),
                        "focused": True,
                        "packets": [[s, base64.b64encode(d).decode()] for s, d in packets],
                    }
                )
            )
            out = json.loads(text)
            outgoing = [(to, base64.b64decode(d)) for to, d in out["packets_out"]]
        else:
            out = plays[p].tick(t, held[p] % len(plays[p].actions), True, packets)
            outgoing = out["packets_out"]
        for to, data in outgoing:
            endpoint.send(to, data)
        settled[p].extend(out["settled"])
        stats["rollbacks"] += out["rollbacks"]
        stats["depth"] = max(stats["depth"], out["rollback_depth"])
        stats["events"].extend(out["events"])
        done[p] = out["done"]
    stats["settled"] = settled
    return stats


def test_two_peers_settle_identical_records_in_the_servers_format():
    scene = overcooked_scene(max_steps=90)
    plays = [NetPlay(scene, match_for(scene, i)) for i in range(2)]
    result = play_episode(plays, 0, LinkConditions(latency_ms=50.0, jitter_ms=10.0), seed=3)
    a, b = result["settled"]
    assert a == b
    assert [r["frame"] for r in a] == list(range(90))
    assert result["rollbacks"] > 0
    last = a[-1]
    assert last["truncated"] and "state_hash" in last
    assert set(last["focused"]) == {"agent_0", "agent_1"}
    assert a[29]["state_hash"] and "state_hash" not in a[28]
    assert all(
        isinstance(v, int | float | str | bool | type(None)) for r in a for v in r["infos"].values()
    )
    assert any(e["type"] == "agreed" for e in result["events"])
    assert plays[0].summary()["agreed"] and plays[1].summary()["desyncs"] == 0
    assert plays[0].validation()["final_hash"] == plays[1].validation()["final_hash"]


def test_lossy_latency_and_a_late_starter_still_give_parity_over_two_episodes():
    scene = overcooked_scene(max_steps=120)
    plays = [NetPlay(scene, match_for(scene, i)) for i in range(2)]
    link = LinkConditions(latency_ms=50.0, jitter_ms=5.0, loss=0.15, reorder=0.05, duplicate=0.05)
    for episode in range(2):
        result = play_episode(plays, episode, link, seed=episode, start_offsets=(0.0, 120.0))
        a, b = result["settled"]
        assert a == b and len(a) == 120
        assert result["rollbacks"] > 0
        assert plays[0].hud()["episode"] == episode


def test_the_json_glue_carries_packets_as_base64():
    scene = overcooked_scene(max_steps=45)
    plays = [NetPlay(scene, match_for(scene, i)) for i in range(2)]
    result = play_episode(plays, 1, LinkConditions(latency_ms=20.0), seed=9, via_json=True)
    a, b = result["settled"]
    assert a == b and len(a) == 45


def test_three_peers_with_an_ai_seat_computed_identically():
    scene = toy_scene(max_steps=60, agents=4, ai=(3,))
    plays = [NetPlay(scene, match_for(scene, i)) for i in range(3)]
    result = play_episode(plays, 0, LinkConditions(latency_ms=30.0, loss=0.05), seed=5)
    a, b, c = result["settled"]
    assert a == b == c and len(a) == 60
    assert all(r["focused"]["agent_3"] is None for r in a)
    assert len({r["actions"]["agent_3"] for r in a}) > 1  # the random seat really plays


def test_a_silent_partner_pauses_the_game_then_ends_it_after_the_reconnect_timeout():
    scene = overcooked_scene(max_steps=300, reconnect_timeout_s=2)
    play = NetPlay(scene, match_for(scene, 0))
    play.start(0)
    events: list = []
    t = 0.0
    out: dict = {}
    while t < 12_000:
        out = play.tick(t, 1, True, [])
        events += out["events"]
        if out["done"]:
            break
        t += FRAME_MS
    assert out["done"] and play.disconnected == 1
    kinds = [e["type"] for e in events]
    assert kinds.index("paused") < kinds.index("disconnected")
    paused = next(e for e in events if e["type"] == "paused")
    assert paused["waiting_for"] == [1] and paused["frame"] <= 9
    assert 2_400 <= t <= 2_700  # paused after 0.5 s of silence, then 2 s of waiting
    assert play.summary()["pauses"] == 1 and play.summary()["disconnected_peer"] == 1


def test_a_peer_cannot_run_ahead_past_the_prediction_window():
    scene = overcooked_scene(max_steps=300)
    play = NetPlay(scene, match_for(scene, 1))
    play.start(0)
    frames = [play.tick(i * FRAME_MS, 2, True, [])["frame"] for i in range(40)]
    assert max(frames) == 8  # max_prediction frames past the last confirmed one (none)
    assert play.frames == 0


def test_bad_descriptions_are_refused():
    scene = overcooked_scene()
    with pytest.raises(PlayError, match="not a multiplayer scene"):
        NetPlay({**scene, "multiplayer": None}, match_for(scene, 0))
    with pytest.raises(PlayError, match="unknown agent"):
        NetPlay(scene, {**match_for(scene, 0), "members": [{"agents": ["x"]}, {"agents": []}]})
    single = overcooked_scene(humans=1)
    with pytest.raises(PlayError, match="not a human seat"):
        NetPlay(
            single,
            {"members": [{"agents": ["agent_0"]}, {"agents": ["agent_1"]}], "you": 0, "seeds": [1]},
        )
    play = NetPlay(scene, match_for(scene, 0))
    with pytest.raises(PlayError, match="no episode"):
        play.tick(0.0)
    with pytest.raises(PlayError, match="no seed"):
        play.start(5)
    play.start(0)
    with pytest.raises(PlayError, match="not one of"):
        play.tick(0.0, 99)


def test_a_partner_that_missed_every_end_report_finishes_on_the_farewell():
    """A agreed on the end and lingered, but none of its end reports reached B (a stalled
    link); the farewell A hands on with the next episode's "ready" settles B at once."""
    scene = overcooked_scene(max_steps=60)
    a, b = (NetPlay(scene, match_for(scene, i), linger_ms=1_000) for i in range(2))
    for p in (a, b):
        p.start(0)
        assert p.farewell() is None
    to_a: list = []
    to_b: list = []
    t = 0.0
    out_a = out_b = {"done": False}
    records_a: list = []
    records_b: list = []
    while not out_a["done"] and t < 30_000:
        out_a = a.tick(t, 1, True, [(1, d) for d in to_a])
        out_b = b.tick(t, 2, True, [(0, d) for d in to_b])
        records_a += out_a["settled"]
        records_b += out_b["settled"]
        to_a = [d for _, d in out_b["packets_out"]]
        # A -> B goes dead once A knows the end: B never hears A's end report
        reporting = a.summary()["final_hash"] is not None
        to_b = [] if reporting else [d for _, d in out_a["packets_out"]]
        t += FRAME_MS
    assert out_a["done"] and a.summary()["agreed"]
    assert not out_b["done"] and not b.summary()["agreed"]
    farewell = a.farewell()
    assert farewell is not None
    out_b = b.tick(t, 2, True, [(0, farewell)])
    records_b += out_b["settled"]
    assert out_b["done"] and b.summary()["agreed"] and b.disconnected is None
    assert records_a == records_b and len(records_a) == 60
    assert any(e["type"] == "agreed" for e in out_b["events"])
    # a farewell of another episode is ignored
    b.start(1)
    out = b.tick(t, 2, True, [(0, farewell)])
    assert not out["done"] and not b.summary()["agreed"]


def test_a_reloaded_peer_resumes_from_its_records_and_every_frame_is_settled_once():
    """B's page reloads at frame ~150 (its last 12 settled records never reached the server):
    the new page resumes from the records, its partner is told to wait, and each member ends
    with exactly max_steps records, identical, none of B's settled twice."""
    scene = overcooked_scene(max_steps=300)
    plays = [NetPlay(scene, match_for(scene, i)) for i in range(2)]
    net = SimNetwork(2, seed=4, default=LinkConditions(latency_ms=40.0, jitter_ms=5.0))
    for p in plays:
        p.start(0)
    settled: list[list[dict]] = [[], []]
    rng = random.Random(4)
    next_tick = [0.0, 10.0]
    back_at = None
    done = [False, False]
    resumed = None
    events: list[list[dict]] = [[], []]
    while not all(done):
        p = min(range(2), key=next_tick.__getitem__)
        t = next_tick[p]
        assert t < 60_000, "the episode did not finish"
        next_tick[p] = t + FRAME_MS
        net.advance_to(t)
        if done[p]:
            continue
        if p == 1 and back_at is None and len(settled[1]) >= 150:
            back_at = t + 2500.0  # the page is gone for 2.5 s
            settled[1] = settled[1][:-12]  # uploaded: all but the last 12
            plays[0].hold(1, 30, t)  # the server: its page says hello again
        if p == 1 and back_at is not None and resumed is None:
            if t < back_at:
                continue
            net.drop_inbox(1)
            plays[1] = NetPlay(scene, match_for(scene, 1))
            resumed = plays[1].resume(0, settled[1])
            assert resumed["resumed_at"] == len(settled[1]) and not resumed["done"]
        endpoint = net.endpoint(p)
        out = plays[p].tick(t, rng.randrange(7), True, endpoint.receive())
        for to, data in out["packets_out"]:
            endpoint.send(to, data)
        settled[p].extend(out["settled"])
        events[p].extend(out["events"])
        done[p] = out["done"]
    a, b = settled
    assert [r["frame"] for r in b] == list(range(300))
    assert a == b
    assert plays[0].summary()["pauses"] == 1 and plays[0].summary()["paused_ms"] > 2000
    kinds = [e["type"] for e in events[1]]
    assert kinds[:2] == ["paused", "unpaused"]  # the rebuilt page waited for its echo
    assert plays[1].summary()["agreed"] and plays[1].score == plays[0].score


def test_resume_refuses_records_that_are_not_this_episodes():
    scene = overcooked_scene(max_steps=90)
    plays = [NetPlay(scene, match_for(scene, i)) for i in range(2)]
    records = play_episode(plays, 0, LinkConditions(latency_ms=20.0), seed=2)["settled"][0]
    again = NetPlay(scene, match_for(scene, 1))
    assert again.resume(0, records[:40])["resumed_at"] == 40
    with pytest.raises(PlayError, match="cannot be played again"):
        NetPlay(scene, match_for(scene, 1)).resume(1, records[:40])  # another seed
    with pytest.raises(PlayError, match="0, 1"):
        NetPlay(scene, match_for(scene, 1)).resume(0, records[1:40])
    done = NetPlay(scene, match_for(scene, 1)).resume(0, records)
    assert done["done"] and done["resumed_at"] == 90
    farewell = NetPlay(scene, match_for(scene, 1))
    farewell.resume(0, records)
    assert farewell.farewell() is not None
