"""The shared lobby's state as text (igym_core.server.lobby.snapshot): what a leader commits to
Redis is what the next leader loads, and a commit carries only what changed."""

from __future__ import annotations

from igym_core.server.lobby.sessions import GameSession, Match, Phase, Tracker
from igym_core.server.lobby.snapshot import (
    Mirror,
    encode_match,
    encode_session,
    load_tracker,
    pair_key,
)


def a_tracker() -> Tracker:
    tracker = Tracker()
    waiting = GameSession("w", "play", 10.0, {"group": "x"}, 21.5)
    playing = GameSession("a", "play", 11.0, {}, None)
    partner = GameSession("b", "play", 12.0, {}, 30.0)
    for session in (waiting, playing, partner):
        tracker.add(session)
    match = Match(
        match_id="m1",
        scene_id="play",
        members=("a", "b"),
        agents={"a": ("agent_0",), "b": ("agent_1",)},
        matchmaker="fifo",
        created_at=13.0,
    )
    tracker.matches["m1"] = match
    for session in (playing, partner):
        session.match_id = "m1"
        session.move(Phase.MATCHED, 13.0, "match m1")
        session.move(Phase.VALIDATING, 13.0, "peers connecting")
    match.probes = {"a": (True, 4.5), "b": (True, None)}
    match.started = True
    match.started_at = 14.0
    match.relayed = {"a": {"messages": 2, "packets": 3, "controls": 1}}
    match.parity_checked = {0}
    for session in (playing, partner):
        session.move(Phase.PLAYING, 14.0, "probe passed")
    partner.offline_since = 15.0
    partner.said_bye = partner.reload_requested = True  # a reload on its way
    tracker.pair_rtt[frozenset(("a", "b"))] = 4.5
    tracker.failed_pairs.add(frozenset(("w", "a")))
    return tracker


def dump(tracker: Tracker):
    sessions = {pair_key(frozenset(k)): encode_session(s) for k, s in tracker.sessions.items()}
    matches = {k: encode_match(m) for k, m in tracker.matches.items()}
    return sessions, matches


def test_what_a_leader_commits_is_what_the_next_one_loads():
    tracker = a_tracker()
    mirror = Mirror(Tracker())
    changes = mirror.changes(tracker)
    loaded = load_tracker(changes.sessions, changes.matches, changes.pairs)
    assert dump(loaded) == dump(tracker)
    assert loaded.pair_rtt == tracker.pair_rtt and loaded.failed_pairs == tracker.failed_pairs
    assert loaded.session("b", "play").offline_since == 15.0
    assert loaded.session("b", "play").reload_requested
    assert loaded.session("a", "play").history == tracker.session("a", "play").history
    assert loaded.matches["m1"].parity_checked == {0}
    assert [s.participant_id for s in loaded.waiting("play")] == ["w"]


def test_a_commit_carries_only_what_changed():
    tracker = a_tracker()
    mirror = Mirror(tracker)  # as loaded: nothing to write
    assert not mirror.changes(tracker)
    tracker.matches["m1"].relayed["a"]["messages"] += 1
    assert set(mirror.changes(tracker, matches_only=("m1",)).matches) == {"m1"}
    assert not mirror.changes(tracker)
    tracker.session("w", "play").move(Phase.ENDED, 20.0, "left")
    changes = mirror.changes(tracker)
    assert set(changes.sessions) == {"w|play"} and not changes.matches
    # an ended session never changes again: it is not encoded again
    tracker.session("w", "play").attributes["late"] = True
    assert not mirror.changes(tracker)
    tracker.pair_rtt[frozenset(("a", "w"))] = 9.0
    assert set(mirror.changes(tracker).pairs) == {"a|w"}
