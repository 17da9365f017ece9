"""Who went away during a game, decided by the server: closed tabs, lost connections, reloads,
pause reports and the disconnection records they leave (driven with a fake clock)."""

from __future__ import annotations

import pytest

from igym_core.server.lobby.absences import SILENT_S
from igym_core.server.lobby.lobby import GOODBYE_GRACE_S
from igym_core.server.protocol import ProtocolError
from igym_core.server.protocol_lobby import PauseReport
from tests.unit.test_lobby import make_lobby, of, playing  # noqa: F401 (make_lobby: a fixture)


def report(match_id: str, state: str, waiting_for=("peer1",), frame=120, paused_ms=None):
    return PauseReport("pause", "t", 1, match_id, 0, frame, state, list(waiting_for), paused_ms)  # type: ignore[arg-type]


def records(lobby) -> list[dict]:
    lobby.store.flush()
    return list(lobby.store.reader().disconnections())


@pytest.fixture
def heard():
    """When each participant's websocket last spoke (the ParticipantService's answer)."""
    return {}


@pytest.fixture
def duo(make_lobby, heard):  # noqa: F811
    def make(**options):
        lobby, sc, sent, clock = make_lobby(
            lobby_options={"last_heard": heard.get, "left_grace_s": 1.5}, **options
        )
        return lobby, sc, sent, clock, playing(lobby, sc)

    return make


def test_a_closed_tab_ends_the_game_at_once_naming_who_left(duo):
    lobby, sc, sent, clock, match_id = duo()
    lobby.page_requested("p1")  # the partner's reload: nothing to do with p2
    lobby.disconnected("p2", said_bye=True)  # no new page was asked for: the tab closed
    lobby.pause_report("p1", report(match_id, "paused", frame=77))  # p1's game paused for it
    clock.now += GOODBYE_GRACE_S / 2
    lobby.expire()
    assert lobby.tracker.matches[match_id].ended is None and not of(sent, "match_ended")
    clock.now += GOODBYE_GRACE_S
    lobby.expire()
    assert lobby.tracker.matches[match_id].ended == "partner_left:p2"
    [(pid, ended)] = of(sent, "match_ended")
    assert pid == "p1" and ended.message == sc.partner_left_message
    lobby.finish("p1", "play", "partner_left:p2")  # p1 clicks Continue at once
    lobby.leave("p1", "play", "partner_closed")  # (an old page would also say this)
    assert lobby.tracker.matches[match_id].ended == "partner_left:p2"
    [record] = records(lobby)
    assert (record["participant_id"], record["kind"], record["outcome"]) == ("p2", "closed", "left")
    assert (record["episode"], record["frame"]) == (0, 77)


def test_a_dropped_connection_gets_the_long_grace(duo):
    lobby, _sc, _sent, clock, match_id = duo()
    lobby.disconnected("p2")  # no goodbye: the network, not the participant
    clock.now += 5
    lobby.expire()
    assert lobby.tracker.matches[match_id].ended is None
    clock.now += 5
    lobby.expire()
    assert lobby.tracker.matches[match_id].ended == "partner_left:p2"


def test_a_reload_rejoins_the_match_with_new_peer_connections_and_is_recorded(duo):
    lobby, sc, sent, clock, match_id = duo(reload_timeout_s=40)
    lobby.page_requested("p2")  # a reload asks for the new page before the old one goes
    lobby.disconnected("p2", said_bye=True)
    lobby.pause_report("p1", report(match_id, "paused", frame=400))
    clock.now += 1.4
    lobby.expire()  # within left_grace_s: a reload, not a closed tab
    assert lobby.tracker.matches[match_id].ended is None and not of(sent, "match_ended")
    lobby.reconnected("p2")  # the reloaded page said hello
    assert not lobby.tracker.session("p2", "play").reload_requested
    sent.clear()
    lobby.join("p2", sc, {}, None)  # ... and joins the game again
    clock.now += 3
    lobby.expire()
    assert lobby.tracker.matches[match_id].ended is None
    [(to, reset)] = of(sent, "peer_link")[:1]
    assert (to, reset.peer, reset.gen, reset.reason, reset.hold_s) == (
        "p1",
        "peer1",
        1,
        "rejoined",
        40,
    )
    assert len(of(sent, "peer_link")) == 1  # the rejoined page learns its links from "match"
    [(_, found)] = of(sent, "match")
    assert found.links == {"peer0": 1} and found.you == 1
    assert [p for p, _ in of(sent, "match_start")] == ["p2"]
    # the rebuilt page waits for p1's echo: its pause names p1, who never went away
    lobby.pause_report("p2", report(match_id, "paused", waiting_for=("peer0",), frame=403))
    lobby.pause_report("p1", report(match_id, "resumed", paused_ms=3400.0))
    [record] = records(lobby)
    assert record["kind"] == "reload" and record["outcome"] == "reload_resumed"
    assert record["pause_ms"] == 3400.0 and record["frame"] == 400


def test_a_member_lost_on_the_network_is_named_when_the_partner_gives_up(duo, heard):
    lobby, sc, sent, clock, match_id = duo()
    heard.update(p1=clock.now, p2=clock.now)
    lobby.pause_report("p1", report(match_id, "paused", frame=150))
    clock.now += SILENT_S + 0.5
    heard["p1"] = clock.now  # p1 keeps talking (relayed packets); p2 went quiet
    lobby.expire()
    assert records(lobby)[0]["kind"] == "network"
    clock.now += 3
    heard["p1"] = clock.now
    lobby.pause_report("p1", report(match_id, "timeout", frame=150))
    assert lobby.tracker.matches[match_id].ended == "reconnect_timeout:p2"
    messages = {p: m.message for p, m in of(sent, "match_ended")}
    assert messages == {"p1": sc.reconnect_timeout_message, "p2": sc.connection_lost_message}
    [record] = records(lobby)
    assert (record["participant_id"], record["outcome"], record["frame"]) == (
        "p2",
        "reconnect_timeout",
        150,
    )
    # p2's session ended with the match's reason: back online, its page may move on
    assert lobby.tracker.session("p2", sc.id).end_reason == "reconnect_timeout:p2"
    # p2's page comes back online: its late reports change nothing, a join is told the end
    lobby.pause_report("p2", report(match_id, "timeout", waiting_for=("peer0",)))
    assert lobby.tracker.matches[match_id].ended == "reconnect_timeout:p2"
    sent.clear()
    lobby.join("p2", sc, {}, None)
    [(pid, ended)] = of(sent, "match_ended")
    assert pid == "p2" and ended.reason == "reconnect_timeout:p2"


def test_when_the_server_hears_everyone_nobody_is_blamed(duo, heard):
    lobby, _sc, _sent, clock, match_id = duo()
    heard.update(p1=clock.now, p2=clock.now)
    lobby.pause_report("p1", report(match_id, "paused"))
    clock.now += 5
    heard.update(p1=clock.now, p2=clock.now)
    lobby.pause_report("p1", report(match_id, "timeout"))
    assert lobby.tracker.matches[match_id].ended == "connection_lost"
    [record] = records(lobby)
    assert (record["kind"], record["outcome"]) == ("p2p", "match_ended")


def test_the_server_ends_a_game_whose_pages_never_report_the_timeout(duo, heard):
    lobby, _sc, _sent, clock, match_id = duo(reconnect_timeout_s=5)
    heard.update(p1=clock.now, p2=clock.now)
    lobby.pause_report("p1", report(match_id, "paused"))
    for _ in range(11):
        clock.now += 1
        heard["p1"] = clock.now
        lobby.expire()
    assert lobby.tracker.matches[match_id].ended is None
    clock.now += 1.1
    lobby.expire()
    assert lobby.tracker.matches[match_id].ended == "reconnect_timeout:p2"


def test_a_new_peer_connection_is_granted_once_per_generation(duo):
    lobby, _sc, sent, _clock, match_id = duo()
    lobby.reconnect("p1", match_id, "peer1", 0)
    lobby.reconnect("p2", match_id, "peer0", 0)  # both asked at once: one new connection
    resets = of(sent, "peer_link")
    assert [(p, m.gen, m.reason) for p, m in resets] == [("p1", 1, "repair"), ("p2", 1, "repair")]
    lobby.reconnect("p1", match_id, "peer1", 1)
    assert len(of(sent, "peer_link")) == 4
    for gen in range(2, 40):
        lobby.reconnect("p1", match_id, "peer1", gen)
    assert len(of(sent, "peer_link")) == 2 * 20  # at most 20 generations per pair


def test_pause_reports_are_bounded_and_checked(duo):
    lobby, _sc, _sent, _clock, match_id = duo()
    with pytest.raises(ProtocolError, match="not in match"):
        lobby.pause_report("p3", report(match_id, "paused"))
    for _ in range(250):
        lobby.pause_report("p1", report(match_id, "paused"))
    assert lobby.tracker.matches[match_id].pause_reports["p1"] == 200
    assert len(records(lobby)) == 1
