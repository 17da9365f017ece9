"""The session state machine, the tracker and the lobby, driven directly with a fake clock."""

from __future__ import annotations

import itertools
import json

import pytest

from igym_core import EnvironmentSpec, hookimpl
from igym_core.config import EndScene, Experiment, GameScene
from igym_core.server.lobby.lobby import Lobby
from igym_core.server.lobby.sessions import TRANSITIONS, GameSession, Phase, TransitionError
from igym_core.server.protocol import ProtocolError
from igym_core.storage.store import Store


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class DuoPlugin:
    @hookimpl
    def igym_environments(self):
        return [
            EnvironmentSpec(
                name="duo",
                factory="igym_core.runtime.toygame:make",
                agent_ids=["a0", "a1"],
                action_labels={0: "stay", 1: "go"},
                default_action=0,
            )
        ]


def scene(**options) -> GameScene:
    return GameScene(id="play", env="duo", seats={"a0": "human", "a1": "human"}, **options)


@pytest.fixture
def make_lobby(tmp_path, plugins):
    plugins.register(DuoPlugin(), name="duo")

    def make(lobby_options=None, **options):
        experiment = Experiment(id="mp", scenes=[scene(**options), EndScene(id="end")])
        store = Store(tmp_path / "mp.sqlite3", "mp")
        sent: list[tuple[str, object]] = []
        clock = Clock()
        lobby = Lobby(
            experiment,
            plugins,
            store,
            lambda pid, msg: sent.append((pid, msg)),
            tmp_path / "assign.jsonl",
            [{"urls": ["turn:example.org"], "username": "u", "credential": "c"}],
            disconnect_grace_s=10,
            clock=clock,
            **(lobby_options or {}),
        )
        for pid in ("p1", "p2", "p3", "p4", "p5", "p6"):
            store.create_participant(pid, "h", {}, 0).result()
        return lobby, experiment.scenes[0], sent, clock

    return make


def of(sent, kind):
    return [(pid, m) for pid, m in sent if m.type == kind]


@pytest.mark.parametrize(
    ("start", "to"),
    [(a, b) for a, b in itertools.product(Phase, Phase) if b not in TRANSITIONS[a]],
)
def test_every_invalid_transition_is_refused(start, to):
    session = GameSession("p", "s", 0.0)
    session.phase = start
    with pytest.raises(TransitionError, match=f"cannot go from {start.value} to {to.value}"):
        session.move(to, 1.0, "test")
    assert session.phase is start


def test_the_happy_path_and_requeue_are_allowed():
    session = GameSession("p", "s", 0.0)
    for phase in (
        Phase.MATCHED,
        Phase.VALIDATING,
        Phase.WAITING,
        Phase.MATCHED,
        Phase.VALIDATING,
        Phase.PLAYING,
        Phase.ENDED,
    ):
        session.move(phase, 1.0, "test")
    assert [h[0] for h in session.history][-1] == "ended"


def test_six_arrivals_make_three_matches_with_one_log_line_each(make_lobby, tmp_path):
    lobby, sc, sent, clock = make_lobby()
    for i, pid in enumerate(["p1", "p2", "p3", "p4", "p5", "p6"]):
        clock.now += 0.1
        lobby.join(pid, sc, {"group": "x" if i < 3 else "y"}, 20.0 + i)
    found = of(sent, "match")
    assert len(found) == 6
    assert {m.match_id for _, m in found} == set(lobby.tracker.matches)
    assert len(lobby.tracker.matches) == 3
    first = next(m for _, m in found if _ == "p1")
    # members know each other by aliases, never by participant (platform) ids
    assert [x["peer"] for x in first.members] == ["peer0", "peer1"] and first.you == 0
    assert "p2" not in json.dumps(first.members)
    assert first.ice_servers[0]["username"] == "u"
    assert len(first.seeds) == 1
    lines = [json.loads(x) for x in (tmp_path / "assign.jsonl").read_text().splitlines()]
    assert len(lines) == 3 and {x["matchmaker"] for x in lines} == {"fifo"}
    assert lines[0]["participants"][1]["server_rtt_ms"] == 21.0
    assert lines[0]["participants"][0]["attributes"] == {"group": "x"}
    assert all(s.phase is Phase.VALIDATING for s in lobby.tracker.sessions.values())


def test_signals_reach_only_the_partner_and_probes_start_the_game(make_lobby):
    lobby, sc, sent, _clock = make_lobby()
    lobby.join("p1", sc, {}, None)
    lobby.join("p2", sc, {}, None)
    lobby.join("p3", sc, {}, None)
    match_id = lobby.match_of("p1", "play")
    lobby.signal("p1", match_id, "peer1", {"sdp": "offer"})
    assert of(sent, "signal")[-1][0] == "p2" and of(sent, "signal")[-1][1].sender == "peer0"
    with pytest.raises(Exception, match="not another member"):
        lobby.signal("p1", match_id, "p3", {})
    with pytest.raises(Exception, match="not another member"):
        lobby.signal("p1", match_id, "peer0", {})
    with pytest.raises(Exception, match="not in match"):
        lobby.signal("p3", match_id, "peer0", {})
    lobby.probe("p1", match_id, True, 3.0)
    assert not of(sent, "match_start")
    lobby.probe("p2", match_id, True, 4.0)
    assert {pid for pid, _ in of(sent, "match_start")} == {"p1", "p2"}
    assert lobby.tracker.session("p1", "play").phase is Phase.PLAYING
    assert lobby.tracker.session("p3", "play").phase is Phase.WAITING


def test_a_slow_pair_is_requeued_and_never_matched_again(make_lobby, tmp_path):
    lobby, sc, sent, _clock = make_lobby(max_p2p_rtt_ms=100)
    lobby.join("p1", sc, {}, None)
    lobby.join("p2", sc, {}, None)
    match_id = lobby.match_of("p1", "play")
    lobby.probe("p1", match_id, True, 300.0)
    lobby.probe("p2", match_id, True, 310.0)
    assert {pid for pid, m in of(sent, "requeued")} == {"p1", "p2"}
    assert lobby.tracker.session("p1", "play").phase is Phase.WAITING
    assert lobby.match_of("p1", "play") is None  # not matched again with p2
    lobby.join("p3", sc, {}, None)
    assert lobby.match_of("p1", "play") == lobby.match_of("p3", "play") is not None
    assert lobby.tracker.session("p2", "play").phase is Phase.WAITING
    probe_line = [json.loads(x) for x in (tmp_path / "assign.jsonl").read_text().splitlines()][1]
    assert probe_line["accepted"] is False and probe_line["probe"]["p1"]["rtt_ms"] == 300.0


def test_rtt_aware_matchmaker_uses_the_measured_rtts(make_lobby):
    lobby, sc, _sent, _clock = make_lobby(max_p2p_rtt_ms=100, matchmaker="rtt_fifo")
    lobby.join("p1", sc, {}, 10.0)
    lobby.join("p2", sc, {}, 150.0)
    assert lobby.match_of("p1", "play") is None  # 10 + 150 > 100: not grouped
    lobby.join("p3", sc, {}, 20.0)
    assert lobby.match_of("p1", "play") == lobby.match_of("p3", "play") is not None
    assert lobby.tracker.matches[lobby.match_of("p1", "play")].matchmaker == "rtt_fifo"


def test_leaving_in_every_phase_cleans_up_idempotently(make_lobby):
    lobby, sc, sent, clock = make_lobby()
    lobby.join("p1", sc, {}, None)
    lobby.leave("p1", "play", "left")
    lobby.leave("p1", "play", "left")
    assert lobby.tracker.session("p1", "play").end_reason == "left"
    # during validation: the partner goes back to waiting and is matched with the next one
    lobby.join("p2", sc, {}, None)
    lobby.join("p3", sc, {}, None)
    m23 = lobby.match_of("p2", "play")
    lobby.leave("p3", "play", "closed")
    assert lobby.tracker.session("p2", "play").phase is Phase.WAITING
    with pytest.raises(Exception, match="has ended"):
        lobby.probe("p2", m23, True, 1.0)
    clock.now += 1
    lobby.join("p4", sc, {}, None)
    m24 = lobby.match_of("p2", "play")
    lobby.probe("p2", m24, True, 1.0)
    lobby.probe("p4", m24, True, 1.0)
    # mid-game: the game ends for the partner, who is told why
    lobby.leave("p4", "play", "closed")
    lobby.leave("p4", "play", "closed")
    ended = of(sent, "match_ended")
    assert [(pid, m.reason) for pid, m in ended] == [("p2", "partner_left:p4")]
    assert lobby.tracker.session("p2", "play").phase is Phase.ENDED
    lobby.finish("p2", "play")  # after: nothing left to do
    lobby.leave("p2", "play", "closed")
    assert lobby.tracker.session("p2", "play").end_reason == "partner_left:p4"
    lobby.store.flush()  # the lobby's writes are background ones
    rows = list(lobby.store.reader().matches())
    assert [r["status"] for r in rows] == ["requeued", "ended"]


def test_waiting_timeout_and_disconnect_grace(make_lobby):
    lobby, sc, sent, clock = make_lobby(
        waiting_timeout_s=60, waiting_timeout_redirect="https://x.org/back"
    )
    lobby.join("p1", sc, {}, None)
    clock.now += 30
    lobby.expire()
    assert lobby.tracker.session("p1", "play").phase is Phase.WAITING
    clock.now += 31
    lobby.expire()
    [(pid, timeout)] = of(sent, "lobby_timeout")
    assert pid == "p1" and timeout.redirect_url == "https://x.org/back"
    assert lobby.tracker.session("p1", "play").end_reason == "waiting_timeout"
    # an offline participant is not matched, and leaves after the grace time
    lobby.join("p2", sc, {}, None)
    lobby.disconnected("p2")
    lobby.join("p3", sc, {}, None)
    assert lobby.match_of("p3", "play") is None
    clock.now += 5
    lobby.reconnected("p2")
    lobby.join("p4", sc, {}, None)
    assert lobby.match_of("p2", "play") is not None  # back in time: matched
    lobby.disconnected("p3")
    clock.now += 11
    lobby.expire()
    assert lobby.tracker.session("p3", "play").end_reason == "disconnected"


def test_waiting_count_is_broadcast_unless_hidden(make_lobby):
    lobby, sc, sent, _clock = make_lobby()
    lobby.join("p1", sc, {}, None)
    assert of(sent, "lobby")[-1][1].waiting == 1


def test_a_broken_matchmaker_matches_nobody_and_is_logged(make_lobby, caplog):
    lobby, sc, _sent, _clock = make_lobby()

    class Bad:
        name = "bad"

        def match(self, waiting, context):
            return [("p1", "p1"), ("ghost", "p2"), "nonsense"]

    lobby._matchmakers["play"] = Bad()
    lobby.join("p1", sc, {}, None)
    lobby.join("p2", sc, {}, None)
    assert not lobby.tracker.matches
    assert "matchmaker 'bad' proposed" in caplog.text


def playing(lobby, sc) -> str:
    """p1 and p2 in a match being played; p3 waiting. Returns the match id."""
    for pid in ("p1", "p2", "p3"):
        lobby.join(pid, sc, {}, None)
    match_id = lobby.match_of("p1", "play")
    lobby.probe("p1", match_id, True, 3.0)
    lobby.probe("p2", match_id, True, 4.0)
    return match_id


def test_relay_forwards_packets_and_controls_to_the_partner_and_counts_them(make_lobby, tmp_path):
    lobby, sc, sent, _clock = make_lobby()
    match_id = playing(lobby, sc)
    packets = ["AAECAw==", "/w=="]
    controls = [{"t": "ready", "episode": 1}]
    lobby.relay("p1", match_id, "peer1", packets, controls)
    lobby.relay("p2", match_id, "peer0", [], [{"t": "go", "in_ms": 500}])
    lobby.relay("p1", match_id, "peer1", ["AA=="], [])
    relayed = of(sent, "relay")
    assert [pid for pid, _ in relayed] == ["p2", "p1", "p2"]
    first = relayed[0][1]
    assert (first.match_id, first.sender) == (match_id, "peer0")
    assert first.packets == packets and first.controls == controls
    assert relayed[1][1].sender == "peer1" and relayed[1][1].packets == []
    match = lobby.tracker.matches[match_id]
    assert match.relayed == {
        "p1": {"messages": 2, "packets": 3, "controls": 1},
        "p2": {"messages": 1, "packets": 0, "controls": 1},
    }
    # the counts are logged with the end of the match (not per message)
    lobby.leave("p2", "play", "closed")
    end = [json.loads(x) for x in (tmp_path / "assign.jsonl").read_text().splitlines()][-1]
    assert end["match_id"] == match_id and end["ended"] == "partner_left:p2"
    assert end["relayed"] == match.relayed


def test_relay_counts_are_logged_when_both_finish(make_lobby, tmp_path):
    lobby, sc, _sent, _clock = make_lobby()
    match_id = playing(lobby, sc)
    lobby.relay("p1", match_id, "peer1", ["AA=="], [])
    lobby.finish("p1", "play")
    lobby.relay("p2", match_id, "peer0", ["AA=="], [])  # p1 left the scene: dropped, not counted
    lobby.finish("p2", "play")
    end = [json.loads(x) for x in (tmp_path / "assign.jsonl").read_text().splitlines()][-1]
    assert end["match_id"] == match_id and end["ended"] == "completed"
    assert end["relayed"] == {"p1": {"messages": 1, "packets": 1, "controls": 0}}


@pytest.mark.parametrize(
    ("sender", "to", "packets", "controls", "code", "error"),
    [
        ("p3", "peer0", ["AA=="], [], "invalid", "you are not in match"),
        ("p1", "peer0", ["AA=="], [], "invalid", "'peer0' is not another member"),
        ("p1", "p2", ["AA=="], [], "invalid", "'p2' is not another member"),  # ids are not names
        ("p1", "peer2", ["AA=="], [], "invalid", "'peer2' is not another member"),
        ("p1", "peer1", ["AA=="] * 17, [], "invalid", r"17 packets in one relay message \(at most"),
        ("p1", "peer1", ["AA==", "not base64!"], [], "invalid", "packet 1 is not valid base64"),
        ("p1", "peer1", ["AAA"], [], "invalid", "packet 0 is not valid base64"),  # bad padding
        ("p1", "peer1", ["A" * 2052], [], "invalid", r"2052 characters \(at most 2048"),
        ("p1", "peer1", [], [{"x": "y" * 1020}], "invalid", r"as JSON \(at most 1024"),
        ("p1", "peer1", [], [{}] * 5, "invalid", r"5 controls in one relay message \(at most 4"),
        ("p1", "peer1", [], [], "invalid", "needs at least one packet or control"),
    ],
)
def test_relay_refuses_what_it_should_not_forward(
    make_lobby, sender, to, packets, controls, code, error
):
    lobby, sc, sent, _clock = make_lobby()
    match_id = playing(lobby, sc)
    with pytest.raises(ProtocolError, match=error) as caught:
        lobby.relay(sender, match_id, to, packets, controls)
    assert caught.value.code == code
    assert not of(sent, "relay") and not lobby.tracker.matches[match_id].relayed


def test_relay_accepts_the_largest_message(make_lobby):
    lobby, sc, sent, _clock = make_lobby()
    match_id = playing(lobby, sc)
    control = {"x": "y" * (1024 - len('{"x":""}'))}
    lobby.relay("p1", match_id, "peer1", ["A" * 2048] * 16, [control] * 4)
    [(pid, relayed)] = of(sent, "relay")
    assert pid == "p2" and len(relayed.packets) == 16 and len(relayed.controls) == 4


def test_relay_only_while_playing(make_lobby):
    lobby, sc, sent, _clock = make_lobby()
    lobby.join("p1", sc, {}, None)
    lobby.join("p2", sc, {}, None)
    match_id = lobby.match_of("p1", "play")
    # validating: the pages measure their P2P RTT, a relayed ping would fake it
    with pytest.raises(ProtocolError, match=r"playing phase; your session .* is validating") as c:
        lobby.relay("p1", match_id, "peer1", ["AA=="], [])
    assert c.value.code == "not_playing"
    lobby.probe("p1", match_id, True, 3.0)
    lobby.probe("p2", match_id, True, 4.0)
    lobby.finish("p1", "play")
    with pytest.raises(ProtocolError, match="is ended"):
        lobby.relay("p1", match_id, "peer1", ["AA=="], [])
    lobby.leave("p2", "play", "closed")
    with pytest.raises(ProtocolError, match="has ended") as c:
        lobby.relay("p2", match_id, "peer0", ["AA=="], [])
    assert c.value.code == "match_ended"
    assert not of(sent, "relay")


def test_a_member_leaving_after_the_other_finished_ends_the_match_without_requeue(
    make_lobby, tmp_path
):
    lobby, sc, sent, _clock = make_lobby()
    match_id = playing(lobby, sc)
    lobby.finish("p1", "play")
    lobby.leave("p2", "play", "closed")
    assert lobby.tracker.matches[match_id].ended == "partner_left:p2"
    assert not of(sent, "requeued")
    assert all(
        s.phase.value == "ended" for s in lobby.tracker.members(lobby.tracker.matches[match_id])
    )
    end = [json.loads(x) for x in (tmp_path / "assign.jsonl").read_text().splitlines()][-1]
    assert end["match_id"] == match_id and end["ended"] == "partner_left:p2"
    lobby.leave("p2", "play", "closed")  # idempotent


def test_a_silent_member_is_dropped_and_the_other_requeued_at_the_deadline(make_lobby):
    lobby, sc, sent, clock = make_lobby(validation_timeout_s=15)
    lobby.join("p1", sc, {}, None)
    lobby.join("p2", sc, {}, None)
    match_id = lobby.match_of("p1", "play")
    lobby.probe("p1", match_id, True, 3.0)
    clock.now += 14
    lobby.expire()
    assert lobby.tracker.session("p2", "play").phase is Phase.VALIDATING
    clock.now += 1
    lobby.expire()
    assert lobby.tracker.session("p1", "play").phase is Phase.WAITING
    assert lobby.tracker.session("p2", "play").end_reason == "validation_timeout"
    assert [(p, m.reason) for p, m in of(sent, "requeued")] == [("p1", "validation_timeout")]
    assert [(p, m.reason) for p, m in of(sent, "match_ended")] == [("p2", "validation_timeout")]
    assert lobby.tracker.matches[match_id].ended == "validation_timeout:p2"
    lobby.join("p3", sc, {}, None)  # the one who waited is matched again at once
    assert lobby.match_of("p1", "play") == lobby.match_of("p3", "play") is not None


def test_messages_that_do_not_fit_the_phase_change_nothing(make_lobby):
    lobby, sc, sent, _clock = make_lobby()
    match_id = playing(lobby, sc)
    with pytest.raises(ProtocolError, match="already received") as caught:
        lobby.probe("p1", match_id, False, None)  # a late failed check after play began
    assert caught.value.code == "wrong_phase"
    lobby.probe("p1", match_id, True, 3.0)  # the same check sent again: nothing changes
    match = lobby.tracker.matches[match_id]
    assert match.started and match.ended is None
    assert lobby.tracker.session("p1", "play").phase is Phase.PLAYING
    lobby.relay("p1", match_id, "peer1", ["AA=="], [])
    assert of(sent, "relay")
    lobby.store.flush()
    assert [r["status"] for r in lobby.store.reader().matches()] == ["playing"]
    # signaling is for connecting and playing: not once the member finished the scene
    lobby.finish("p1", "play")
    assert lobby.tracker.matches[match_id].ended is None  # p2 still plays
    with pytest.raises(ProtocolError, match="your session is ended") as caught:
        lobby.signal("p1", match_id, "peer1", {"sdp": "x"})
    assert caught.value.code == "wrong_phase"
    assert not of(sent, "signal")


def test_a_game_played_far_too_long_is_ended(make_lobby):
    lobby, sc, sent, clock = make_lobby(max_steps=300, fps=30, episodes=2)
    match_id = playing(lobby, sc)
    clock.now += sc.play_timeout_s - 1
    lobby.expire()
    assert lobby.tracker.matches[match_id].ended is None
    clock.now += 1
    lobby.expire()
    assert lobby.tracker.matches[match_id].ended == "match_timeout"
    assert {p for p, _ in of(sent, "match_ended")} == {"p1", "p2"}


def test_who_left_is_decided_by_the_server_not_by_who_reports_it(make_lobby):
    """A page that leaves because its partner seems gone names no culprit: the member whose
    websocket closed left; when both are connected the connection was lost for both."""
    lobby, sc, _sent, _clock = make_lobby()
    match_id = playing(lobby, sc)
    lobby.disconnected("p2", said_bye=True)  # p2 closed the tab
    lobby.leave("p1", "play", "partner_closed")  # p1 clicks Continue at once
    assert lobby.tracker.matches[match_id].ended == "partner_left:p2"
    assert lobby.tracker.session("p1", "play").end_reason == "partner_left:p2"
    assert lobby.tracker.session("p2", "play").end_reason == "partner_left:p2"
    lobby, sc, _sent, _clock = make_lobby()
    match_id = playing(lobby, sc)
    lobby.disconnected("p2")  # p2's connection dropped without a goodbye
    lobby.leave("p1", "play", "reconnect_timeout")  # p1's game waited for it in vain
    assert lobby.tracker.matches[match_id].ended == "reconnect_timeout:p2"
    # (with the match's reason: should its page come back, it may move on)
    assert lobby.tracker.session("p2", "play").end_reason == "reconnect_timeout:p2"
    lobby, sc, _sent, _clock = make_lobby()
    match_id = playing(lobby, sc)
    lobby.leave("p2", "play", "p2p_disconnected")  # both still connected to the server
    assert lobby.tracker.matches[match_id].ended == "connection_lost"
    assert {lobby.tracker.session(p, "play").end_reason for p in ("p1", "p2")} == {
        "connection_lost"
    }
    # a page that leaves for its own reasons is the one who left
    lobby, sc, _sent, _clock = make_lobby()
    match_id = playing(lobby, sc)
    lobby.leave("p1", "play", "left")
    assert lobby.tracker.matches[match_id].ended == "partner_left:p1"
    assert lobby.tracker.session("p1", "play").end_reason == "left"
