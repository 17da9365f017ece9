"""Connection resilience between real Chromium pages (issue 12): outages pause the game for
both and it resumes with exact parity, the data channel comes back, a reloaded page and a
crashed tab opened again rebuild their episode, a closed peer connection and a failed ICE are
repaired (a new peer connection, an ICE restart), a closed tab is announced at once and named in
every record, and latency telemetry is recorded at about 1 Hz.

Network outages are CDP ``offline`` on one page (its data channel and its websocket stall; the
pages are emulated with 1 ms latency from the start so that ``offline`` cuts their peer
connections, see TESTING.md). ICE fails for real when the loopback namespace drops UDP
(iptables): the websockets (TCP) and so the relay keep going. The figures the issue's closing
note asks for are printed. Scenarios share a match where they can (a browser boot and a match
cost about 15 s each).
"""

from __future__ import annotations

import json
import shutil
import socket
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Error as PlaywrightError

from igym_core.experiment import load_experiment
from tests.e2e.conftest import missing
from tests.e2e.helpers import export_csv
from tests.e2e.test_p2p_overcooked import (
    KEY_SCRIPT,
    Participant,
    bring_to_lobby,
    check_matches,
    participants,
    short_copy,
    wait_until_done,
)

pytestmark = pytest.mark.e2e

PLAYING = "() => window.igym.game?.phase === 'playing' && window.igym.game.frames_received > FRAMES"


def playing_past(people: list[Participant], frames: int) -> None:
    for p in people:
        p.page.wait_for_function(PLAYING.replace("FRAMES", str(frames)), timeout=120_000)


def offline(p: Participant, down: bool) -> None:
    """Cut (or restore) the page's network."""
    p.cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": down, "latency": 1, "downloadThroughput": -1, "uploadThroughput": -1},
    )


def store_rows(server, path: Path, sql: str) -> list[tuple]:
    db = server.data_dir / f"{load_experiment(path).id}.sqlite3"
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return conn.execute(sql).fetchall()


def assert_no_frame_played_twice(server, path: Path) -> None:
    """No page sent a frame again with other contents (the store's ``frame_conflict``)."""
    conflicts = store_rows(
        server, path, "SELECT COUNT(*) FROM events WHERE kind = 'frame_conflict'"
    )
    assert conflicts == [(0,)]


def report(record_property, label: str, figures: dict) -> None:
    """The figures the issue's closing note asks for: printed and in the JUnit properties."""
    for key, value in figures.items():
        record_property(key, json.dumps(value))
    print(f"{label}:", json.dumps(figures))


def pauses(p: Participant) -> list[dict]:
    return p.game()["pauses"]


def test_a_3_s_outage_pauses_both_resumes_with_parity_and_the_data_channel_comes_back(
    browser, igym_server, tmp_path, record_property
):
    # 600 frames: ~15 s of play after the outage, so the ~1 s a repaired link is relayed is
    # measured against a share of the game, not against what is left of a short one
    path = short_copy(tmp_path, 600, episodes=1)
    server = igym_server(path)
    with participants(browser, 2, latency_ms=1) as people:
        bring_to_lobby(people, server, "blip")
        playing_past(people, 120)
        cut = people[0]
        offline(cut, True)
        time.sleep(3.0)
        # each page's clock just before the network is back (so resumed - back is an upper bound)
        back = {p.name: p.page.evaluate("() => performance.now()") for p in reversed(people)}
        offline(cut, False)
        wait_until_done(people)
        states = check_matches(people, server, path, tmp_path, 600, episodes=1)
        figures = {}
        for p in people:
            mine = pauses(p)
            assert [e["state"] for e in mine] == ["paused", "resumed"], (p.name, mine)
            paused, resumed = mine
            assert paused["waiting_for"] == [f"peer{1 - people.index(p)}"]
            assert 2000 <= resumed["paused_ms"] <= 6000, resumed
            summary = states[p.name]["summaries"][0]
            # after the outage the data channel carries the game again
            rest = summary["packets_out"] - resumed["packets_out"]
            relayed = summary["relayed_packets"] - resumed["relayed_packets"]
            # (an association stuck after the outage is replaced; one that recovers is kept)
            repairs = p.game()["repairs"]
            figures[p.name] = {
                "paused_at_frame": paused["frame"],
                "resumed_at_frame": resumed["frame"],
                "pause_ms": resumed["paused_ms"],
                "resumed_after_outage_ms": round(resumed["at"] - back[p.name]),
                "relayed_share_after": round(relayed / rest, 3),
                "repairs": [{k: r[k] for k in ("how", "repair_ms", "rtt_ms")} for r in repairs],
            }
            assert relayed / rest < 0.10, json.dumps(figures)
            assert summary["pauses"] == 1 and summary["paused_ms"] >= 2000
        # telemetry: about one sample a second of every metric, stored and exported
        telemetry = store_rows(
            server, path, "SELECT participant_id, metric, COUNT(*), MIN(t), MAX(t) FROM telemetry "
            "GROUP BY participant_id, metric",
        )  # fmt: skip
        for pid in ("blip-p0", "blip-p1"):
            metrics = {m: (n, lo, hi) for who, m, n, lo, hi in telemetry if who == pid}
            assert set(metrics) >= {
                "p2p_rtt_ms", "engine_rtt_ms", "ws_rtt_ms", "rollbacks", "rollback_depth",
                "stalls", "stalled_ms", "relayed", "paused", "candidate_type",
            }, metrics  # fmt: skip
            n, lo, hi = metrics["rollbacks"]
            assert 0.8 <= n / (hi - lo + 1) <= 1.2 and n >= 15, (pid, n, lo, hi)
        paused_samples = store_rows(
            server,
            path,
            "SELECT COUNT(*) FROM telemetry WHERE metric = 'paused' AND CAST(value AS REAL) = 1",
        )[0][0]
        assert paused_samples >= 4  # both pages, a few seconds each
        kinds = store_rows(
            server, path, "SELECT DISTINCT value FROM telemetry WHERE metric = 'candidate_type'"
        )
        assert kinds == [('"host"',)]  # values are JSON text
        tables = export_csv(server, path, tmp_path)
        assert {r["metric"] for r in tables["telemetry"]} >= {"p2p_rtt_ms", "ws_rtt_ms"}
        for row in tables["episodes"]:
            assert row["termination.reason"] == "completed"
            assert float(row["telemetry.p2p_rtt_ms.p95"]) >= float(row["telemetry.p2p_rtt_ms.p50"])
        assert_no_frame_played_twice(server, path)
        report(record_property, "3 s outage", figures)


def closed_tab_scenario(browser, server, scene) -> dict:
    """A partner closes the tab mid-episode: the stayer is told at once, clicks Continue at
    once, and the leaver stays the one who left. Returns the figures."""
    with participants(browser, 1) as [stay]:
        leaver = Participant(browser, "leaver", 7)
        try:
            stay.open(server.url("/?PROLIFIC_PID=stay"))
            leaver.open(server.url("/?PROLIFIC_PID=leaver"))
            stay.enter_lobby()
            leaver.enter_lobby()
            playing_past([stay, leaver], 60)
        finally:
            closed_at = time.monotonic()
            leaver.close()  # closes the tab: pagehide, its websocket and peer connection go
        stay.page.wait_for_function("() => window.igym.game?.phase === 'ended'", timeout=10_000)
        told_after = time.monotonic() - closed_at
        overlay = stay.page.inner_text(".game-overlay")
        assert scene.partner_left_message in overlay
        stay.page.click(".game-overlay button.continue")  # at once
        stay.page.wait_for_selector('#scene[data-scene-id="survey"]')
        assert stay.game()["ended"] == "partner_left:leaver"
    # a goodbye with no reload of the page on its way: gone at once (the server's grace is
    # 0.1 s and its lobby looks four times a second; main waited 1.5 s, announced in 1.65 s)
    assert told_after < 0.8, told_after
    return {"closed_tab_announced_s": round(told_after, 3)}


def test_offline_30_s_ends_the_game_cleanly_after_the_timeout_and_a_closed_tab_is_announced_at_once(
    browser, igym_server, tmp_path, record_property
):
    path = short_copy(tmp_path, 450, episodes=1)
    server = igym_server(path)
    scene = next(s for s in load_experiment(path).scenes if s.id == "cooking")
    with participants(browser, 2, latency_ms=1) as people:
        bring_to_lobby(people, server, "gone")
        playing_past(people, 90)
        cut, stay = people
        offline(cut, True)
        cut_at = time.monotonic()
        # the stayer's game pauses, then ends after the reconnect timeout (5 s) with the
        # scene's message and a way on; the server names the member whose connection went
        stay.page.wait_for_function(
            "(text) => document.querySelector('.game-overlay')?.innerText.includes(text)",
            arg=scene.reconnect_timeout_message,
            timeout=20_000,
        )
        ended_after = time.monotonic() - cut_at
        assert 5.0 <= ended_after <= 9.0, ended_after
        assert stay.game()["ended"] == "reconnect_timeout:gone-p0"
        # the offline page gave up too and says so, with its own way on
        cut.page.wait_for_function("() => window.igym.game.phase === 'ended'", timeout=20_000)
        cut.page.wait_for_selector(".game-overlay button.continue", timeout=10_000)
        stay.page.click(".game-overlay button.continue")
        stay.page.wait_for_selector('#scene[data-scene-id="survey"]')
        # while the cut page stays offline, two others meet on the same server, and one of
        # them closes the tab
        figures = closed_tab_scenario(browser, server, scene)
        time.sleep(max(0.0, 30.0 - (time.monotonic() - cut_at)))
        offline(cut, False)  # back after 30 s: its outbox goes out, and the server's verdict in
        cut.page.wait_for_function(
            "() => window.igym.game.ended === 'reconnect_timeout:gone-p0'", timeout=20_000
        )
        cut.page.click(".game-overlay button.continue")
        cut.page.wait_for_selector('#scene[data-scene-id="survey"]', timeout=20_000)
        states = {p.name: p.game() for p in people}
    tables = export_csv(server, path, tmp_path)
    frames = {
        pid: sorted(int(r["frame"]) for r in tables["frames"] if r["participant_id"] == pid)
        for pid in ("gone-p0", "gone-p1", "stay")
    }
    for pid, played in frames.items():
        least = 60 if pid == "stay" else 90
        assert least < len(played) < 450 and played == list(range(len(played))), pid
    episodes = {e["participant_id"]: e for e in tables["episodes"]}
    for pid in ("gone-p0", "gone-p1"):
        episode = episodes[pid]
        assert episode["status"] == "partial" and episode["reason"] == "reconnect_timeout:gone-p0"
        assert episode["termination.reason"] == "reconnect_timeout"
        assert episode["termination.disconnected"] == "gone-p0"
        assert int(episode["termination.frame"]) > 90
    assert episodes["stay"]["reason"] == "partner_left:leaver"
    assert episodes["stay"]["termination.reason"] == "partner_left"
    assert episodes["leaver"]["termination.reason"] == "left"
    for pid in ("stay", "leaver"):
        assert episodes[pid]["termination.disconnected"] == "leaver"
    matches = {m["end_reason"]: m for m in tables["matches"] if m["status"] == "ended"}
    assert set(matches) == {"reconnect_timeout:gone-p0", "partner_left:leaver"}
    assert matches["reconnect_timeout:gone-p0"]["left"] == "gone-p0"
    assert matches["partner_left:leaver"]["left"] == "leaver"
    records = sorted(
        (r["participant_id"], r["kind"], r["outcome"]) for r in tables["disconnections"]
    )
    assert records == [("gone-p0", "network", "reconnect_timeout"), ("leaver", "closed", "left")]
    for state in states.values():
        assert state["summaries"][0]["partial"]
        assert state["summaries"][0]["paused_ms"] >= 4000
    report(record_property, "closed tab", figures)


REBUILT = "() => window.igym.game?.rejoined?.rebuild_ms !== undefined"


def poll(condition, timeout_s: float, state=lambda: None) -> None:
    """Until ``condition()`` holds (checked every 50 ms), or fail after ``timeout_s`` with
    ``state()``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {timeout_s} s: {json.dumps(state())[:3000]}")
        time.sleep(0.05)


def reopen(p: Participant, url: str) -> None:
    """The participant opens the study URL again in the same browser (its storage, with the
    participant's credentials, is kept), in a new tab that plays on like the old one."""
    page = p.context.new_page()
    page.on("console", lambda m: p.console.append(f"[{m.type}] {m.text}"))
    page.on("pageerror", lambda e: p.console.append(f"[pageerror] {e}"))
    page.add_init_script(KEY_SCRIPT.replace("SEED", "4242"))
    p.page = page
    page.goto(url)


def crash(p: Participant) -> None:
    """Kill the page's renderer (Chromium's chrome://crash, as Playwright's own tests do): no
    pagehide, no goodbye, nothing flushed."""
    with p.page.expect_event("crash", timeout=20_000):
        try:
            p.page.goto("chrome://crash", timeout=20_000)
        except PlaywrightError:
            pass  # the navigation fails with its renderer


def back_in_game(member: Participant, stayer: Participant, episode: int, since: float):
    """Until the member's page rebuilt its episode and the stayer's game resumed: the
    seconds from ``since`` to the rebuild, and the page's record of it."""
    member.page.wait_for_function(REBUILT, timeout=60_000)
    seconds = time.monotonic() - since
    stayer.page.wait_for_function(
        "(e) => window.igym.game.pauses.some((p) => p.state === 'resumed' && p.episode === e)",
        arg=episode,
        timeout=20_000,
    )
    return seconds, member.game()["rejoined"]


def test_a_reload_and_a_crashed_tab_rebuild_their_episode_and_both_keep_exactly_max_steps_rows(
    browser, igym_server, tmp_path, record_property
):
    path = short_copy(tmp_path, 450, episodes=2)
    server = igym_server(path)
    with participants(browser, 2) as people:
        bring_to_lobby(people, server, "again")
        playing_past(people, 400)
        stayer, member = people
        url = member.page.url
        # episode 0, frame 400: a reload
        started = time.monotonic()
        member.page.reload()
        reload_s, reloaded = back_in_game(member, stayer, 0, started)
        # episode 1: the same member's tab crashes (no pagehide: what the page had not sent
        # yet is lost) and the participant opens the study URL again
        member.page.wait_for_function(
            "() => window.igym.game.episode === 1 && window.igym.game.frames_received > 250",
            timeout=120_000,
        )
        settled = member.page.evaluate("() => window.igym.game.frames_received")
        crash(member)
        crashed_at = time.monotonic()
        reopen(member, url)
        crash_s, crashed = back_in_game(member, stayer, 1, crashed_at)
        held = stayer.game()["pauses"]
        crash_held = [e for e in held if e["episode"] == 1]
        wait_until_done(people)
        states = check_matches(people, server, path, tmp_path, 450, episodes=2)
    assert reloaded["episode"] == 0 and 380 <= reloaded["frames"] <= 450, reloaded
    # the crashed page had settled this many frames of episode 1; the rebuild starts from what
    # the server stored (and the outbox kept): the partner's echo gives back the rest
    crash_frame = settled - (450 - reloaded["frames"])
    assert crashed["episode"] == 1 and 0 < crashed["frames"] <= crash_frame, (crashed, crash_frame)
    assert [e["state"] for e in held][:2] == ["paused", "resumed"], held
    assert [e["state"] for e in crash_held][:2] == ["paused", "resumed"], held
    assert held[1]["paused_ms"] >= 500 and crash_held[1]["paused_ms"] >= 500
    assert_no_frame_played_twice(server, path)
    records = store_rows(
        server, path, "SELECT participant_id, kind, outcome, episode FROM disconnections "
        "ORDER BY started_at",
    )  # fmt: skip
    assert records == [
        ("again-p1", "reload", "reload_resumed", 0), ("again-p1", "reload", "reload_resumed", 1),
    ], records  # fmt: skip
    tables = export_csv(server, path, tmp_path)
    reasons = {
        (e["participant_id"], e["episode"]): e["termination.reason"] for e in tables["episodes"]
    }
    assert reasons == {
        ("again-p0", "0"): "completed", ("again-p1", "0"): "reload_resumed",
        ("again-p0", "1"): "completed", ("again-p1", "1"): "reload_resumed",
    }  # fmt: skip
    figures = {
        "reloaded_at_frame": reloaded["frames"],
        "reload_replay_ms": reloaded["replay_ms"],
        "reload_rebuild_ms": reloaded["rebuild_ms"],
        "reload_to_playing_s": round(reload_s, 2),
        "partner_paused_ms_reload": held[1]["paused_ms"],
        "crash_at_settled_frame": crash_frame,
        "crash_replayed_frames": crashed["frames"],
        "crash_frames_from_partner_echo": crash_frame - crashed["frames"],
        "crash_rebuild_ms": crashed["rebuild_ms"],
        "crash_to_playing_s": round(crash_s, 2),
        "partner_paused_ms_crash": crash_held[1]["paused_ms"],
        "summaries": {n: s["summaries"][-1].get("resumed_at") for n, s in states.items()},
    }
    report(record_property, "reload at frame 400, crash in episode 2", figures)


LINK = "window.igym.mesh.links.get(1 - window.igym.mesh.you)"
#: the ICE user fragment the peer connection's local description has now
UFRAG = f"() => {LINK}.pc.localDescription?.sdp.match(/a=ice-ufrag:(\\S+)/)?.[1] ?? null"


#: the connection to the partner and its repairs, for a failure message
LINK_STATE = f"""() => ({{gen: {LINK}.gen, pc: {LINK}.pc.connectionState, open: {LINK}.isOpen,
  silent_ms: Math.round(performance.now() - {LINK}.heardAt), link: {LINK}.stats,
  repairs: window.igym.game.repairs, events: window.igym.game.events.slice(-8)}})"""
#: the UDP ports of the candidate pair the peer connection uses now (this end's, the other's)
PAIR_PORTS = f"""async () => {{
  const stats = await {LINK}.pc.getStats();
  let pair = null;
  stats.forEach((s) => {{
    if (s.type === "transport" && s.selectedCandidatePairId) pair = stats.get(s.selectedCandidatePairId);
  }});
  return [stats.get(pair.localCandidateId).port, stats.get(pair.remoteCandidateId).port];
}}"""


@contextmanager
def udp_dropped(ports: list[int]) -> Iterator[None]:
    """Every UDP packet to these loopback ports dropped (a dead network path, as when a laptop
    changes networks: ICE must find another), TCP untouched (the websockets, so the relay).
    Only inside tests/run.sh's loopback-only network namespace, never on the machine's own
    firewall."""
    if [name for _, name in socket.if_nameindex()] != ["lo"]:
        missing("dropping UDP needs the loopback-only network namespace of tests/run.sh")
    iptables = shutil.which("iptables")
    if iptables is None:
        missing("iptables is not installed (make test installs it)")
    rules = [["INPUT", "-p", "udp", "--dport", str(port), "-j", "DROP"] for port in ports]
    for rule in rules:
        subprocess.run([iptables, "-I", *rule], check=True, capture_output=True)
    try:
        yield
    finally:
        for rule in rules:
            subprocess.run([iptables, "-D", *rule], check=True, capture_output=True)


def test_a_closed_peer_connection_and_a_failed_ice_are_repaired_and_the_game_never_stops(
    browser, igym_server, tmp_path, record_property
):
    path = short_copy(tmp_path, 300, episodes=1)
    server = igym_server(path)
    stats = "() => ({...window.igym.mesh.stats})"
    with participants(browser, 2) as people:
        bring_to_lobby(people, server, "fix")
        playing_past(people, 60)
        # 1. a test hook closes the peer connection, which cannot be restarted: a new one
        before = {p.name: p.page.evaluate(stats) for p in people}
        people[0].page.evaluate("() => window.igym.mesh.links.get(1).pc.close()")
        for p in people:
            p.page.wait_for_function(f"() => {LINK}?.gen >= 1 && {LINK}.isOpen", timeout=20_000)
        replaced = {p.name: p.page.evaluate(stats) for p in people}
        people[0].page.wait_for_function(
            "() => window.igym.game.repairs.length >= 1", timeout=10_000
        )
        # 2. ICE fails for real: the path it uses is dead for good (its UDP ports dropped), and
        # only new candidates (an ICE restart) or a new peer connection can carry the game
        gens = {p.name: p.page.evaluate(f"() => {LINK}.gen") for p in people}
        ufrags = {p.name: p.page.evaluate(UFRAG) for p in people}
        earlier = {p.name: len(p.game()["repairs"]) for p in people}
        ports = sorted({port for p in people for port in p.page.evaluate(PAIR_PORTS)})
        dropped_at = time.monotonic()
        has_restart = "() => window.igym.game.repairs.some((r) => r.how === 'ice_restart')"
        with udp_dropped(ports):
            for p in people:  # the same peer connection, connected with new ICE credentials
                p.page.wait_for_function(
                    f"(old) => {LINK}.pc.connectionState === 'connected' && ({UFRAG})() !== old",
                    arg=ufrags[p.name],
                    timeout=20_000,
                )
            poll(
                lambda: any(p.page.evaluate(has_restart) for p in people),
                20.0,
                lambda: {p.name: p.page.evaluate(LINK_STATE) for p in people},
            )
            back_s = time.monotonic() - dropped_at
        restarted = {p.name: p.page.evaluate(stats) for p in people}
        after = {p.name: p.page.evaluate(f"() => {LINK}.gen") for p in people}
        wait_until_done(people)
        states = check_matches(people, server, path, tmp_path, 300, episodes=1)
    figures = {"path_died_to_repaired_s": round(back_s, 2)}
    for name, state in states.items():
        share = {}
        for label, (a, b) in {
            "new_connection": (before, replaced),
            "ice_restart": (replaced, restarted),
        }.items():
            out = b[name]["packets_out"] - a[name]["packets_out"]
            share[label] = round(
                (b[name]["relayed_packets"] - a[name]["relayed_packets"]) / max(1, out), 3
            )
        figures[name] = {
            "repairs": [
                {k: r[k] for k in ("how", "ice_restarts", "repair_ms", "rtt_ms", "gen")}
                for r in state["repairs"]
            ],
            "relayed_share_during": share,
        }
    report(record_property, "repairs: a closed peer connection, then failed ICE", figures)
    # the closed connection: a new one (the next generation), health-checked
    first = states["p0"]["repairs"][0]
    assert first["how"] == "new_connection" and first["gen"] == 1, first
    assert first["rtt_ms"] is not None and first["repair_ms"] < 5000
    # failed ICE: the same peer connection restarted (new ICE credentials, same generation),
    # health-checked on the repaired channel
    later = [r for n, s in states.items() for r in s["repairs"][earlier[n] :]]
    assert later and all(r["how"] == "ice_restart" for r in later), figures
    assert all(r["ice_restarts"] >= 1 and r["rtt_ms"] is not None for r in later), later
    assert after == gens, (after, gens)  # no new peer connection for the ICE failure
    for name, state in states.items():
        assert state["pauses"] == [], (name, state["pauses"])  # the relay carried the game
