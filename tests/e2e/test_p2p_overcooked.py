"""Human-human Overcooked between real Chromium pages: waiting room, matching, WebRTC, rollback.

Each participant is its own browser context (own storage, own page, camera+microphone permission
so that Chromium offers the loopback ICE candidate). Key presses are scripted inside each page.
Latency and loss are emulated per page with CDP ``Network.emulateNetworkConditions``, set before
the page creates its peer connection (TESTING.md). Every test checks what a researcher relies
on: exactly ``max_steps`` rows per episode, identical canonical columns for both members of a
match, and the server's parity verdict. When the data channel stalls (SCTP under emulated loss),
the pages also send through the server's relay; the figures say how much went that way.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from igym_core.experiment import load_experiment
from tests.e2e.conftest import ROOT
from tests.e2e.helpers import export_csv

pytestmark = pytest.mark.e2e

EXAMPLE = ROOT / "examples" / "overcooked_human_human.py"
GAME_TIMEOUT_S = 240.0  # generous: CI shares 2 cores among up to six browsers

#: Presses arrow keys and space while the game is on, like a restless participant (seeded).
KEY_SCRIPT = """
(() => {
  let seed = SEED;
  const rand = () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648; };
  const keys = ["ArrowUp", "ArrowDown", "ArrowLeft", "ArrowRight", " "];
  let held = null;
  const press = { sockets: { opened: 0, closed: 0 }, keys: 0 };
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("open", () => { press.sockets.opened += 1; });
      this.addEventListener("close", () => { press.sockets.closed += 1; });
    }
  };
  window.__press = press;
  setInterval(() => {
    if (document.body?.dataset.game !== "playing") {
      if (held) { window.dispatchEvent(new KeyboardEvent("keyup", { key: held })); held = null; }
      return;
    }
    if (held) { window.dispatchEvent(new KeyboardEvent("keyup", { key: held })); held = null; }
    if (rand() < 0.7) {
      held = keys[Math.floor(rand() * keys.length)];
      window.dispatchEvent(new KeyboardEvent("keydown", { key: held }));
      press.keys += 1;
    }
  }, 90);
})();
"""


def short_copy(tmp_path: Path, max_steps: int, **changes: object) -> Path:
    """The example with shorter episodes and a short countdown (plus other GameScene changes)."""
    fields = {"max_steps": max_steps, "countdown_s": 1, **changes}
    path = tmp_path / f"duo_{max_steps}.py"
    path.write_text(
        "import attrs\n"
        "from igym_core.config import GameScene\n"
        "from igym_core.experiment import load_experiment\n"
        f"_base = load_experiment({str(EXAMPLE)!r})\n"
        "experiment = attrs.evolve(_base, scenes=[\n"
        f"    attrs.evolve(s, **{fields!r})\n"
        "    if isinstance(s, GameScene) else s for s in _base.scenes])\n"
    )
    return path


class Participant:
    """One participant's browser context and page."""

    def __init__(
        self,
        browser,
        name: str,
        seed: int,
        latency_ms: float = 0,
        loss: float = 0,
        gate: bool = False,
    ):
        self.name = name
        self.context = browser.new_context(permissions=["camera", "microphone"])
        self.context.set_default_timeout(60_000)
        self.page = self.context.new_page()
        self.console: list[str] = []
        self.page.on("console", lambda m: self.console.append(f"[{m.type}] {m.text}"))
        self.page.on("pageerror", lambda e: self.console.append(f"[pageerror] {e}"))
        self.requests: list[str] = []
        self.context.on("request", lambda r: self.requests.append(r.url))
        if latency_ms or loss:
            self.emulate(latency_ms, loss)
        self.page.add_init_script(KEY_SCRIPT.replace("SEED", str(1000 + seed)))
        if gate:  # the page makes no peer connection until open_gate() (see net-match.js)
            self.page.add_init_script(
                "window.__igymPeerGate = new Promise((r) => { window.__igymOpenPeerGate = r; });"
            )

    def emulate(self, latency_ms: float, loss: float) -> None:
        """CDP network conditions for this page (peer connections made after this)."""
        cdp = self.cdp = getattr(self, "cdp", None) or self.context.new_cdp_session(self.page)
        cdp.send("Network.enable")
        cdp.send(
            "Network.emulateNetworkConditions",
            {
                "offline": False,
                "latency": latency_ms,
                "downloadThroughput": -1,
                "uploadThroughput": -1,
                "packetLoss": loss,
            },
        )

    def open_gate(self) -> None:
        self.page.evaluate("() => window.__igymOpenPeerGate()")

    def open(self, url: str) -> None:
        page = self.page
        page.goto(url)
        page.wait_for_selector('#scene[data-scene-id="consent"]')
        page.check('input[name="consent"]')
        page.click("#scene button.continue")
        page.wait_for_selector('#scene[data-scene-id="instructions"]')

    def enter_lobby(self) -> None:
        self.page.click("#scene button.continue")
        self.page.wait_for_selector('#scene[data-scene-id="cooking"]')

    def scene_id(self) -> str | None:
        return self.page.evaluate("() => document.querySelector('#scene')?.dataset.sceneId ?? null")

    def game(self) -> dict:
        return self.page.evaluate("() => window.igym.game")

    def close(self) -> None:
        if self.console:
            print(f"{self.name} console:\n  " + "\n  ".join(self.console[-40:]))
        self.context.close()


def bring_to_lobby(people: list[Participant], server, prefix: str) -> None:
    """Every participant (id ``<prefix>-<name>``) through consent and instructions, then all of
    them into the waiting room, one after the other."""
    for p in people:
        p.open(server.url(f"/?PROLIFIC_PID={prefix}-{p.name}"))
    for p in people:
        p.enter_lobby()


@contextmanager
def participants(browser, count: int, **options: Any) -> Iterator[list[Participant]]:
    people = [Participant(browser, f"p{i}", i, **options) for i in range(count)]
    try:
        yield people
    finally:
        for person in people:
            person.close()
        foreign = [
            u
            for p in people
            for u in p.requests
            # (chrome://crash: how test_p2p_resilience.py crashes a tab)
            if not u.startswith(
                ("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:", "chrome://crash")
            )
        ]
        assert not foreign, f"the browser contacted non-loopback hosts: {foreign[:5]}"


def wait_until_done(people: list[Participant], timeout_s: float = GAME_TIMEOUT_S) -> None:
    """Until every page left the game scene (or failed)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        states = [p.scene_id() for p in people]
        for p in people:
            if p.page.evaluate("() => document.body.dataset.game") in ("error", "ended"):
                game = p.game()
                overlay = p.page.inner_text(".game-overlay")
                detail = {
                    q.name: {
                        k: q.game().get(k)
                        for k in ("phase", "episode", "ended", "events", "frames_received")
                    }
                    for q in people
                }
                pytest.fail(
                    f"{p.name}: the game ended: {game.get('error')} {game.get('ended')} "
                    f"{overlay} {json.dumps(detail)[:3000]}"
                )
        if all(s not in (None, "cooking") for s in states):
            return
        time.sleep(0.25)
    dump = {
        p.name: {
            k: p.game().get(k) for k in ("phase", "episode", "match", "requeued", "parity", "ended")
        }
        for p in people
    }
    pytest.fail(f"the games did not finish in {timeout_s} s: {json.dumps(dump)}")


def server_parity(
    server, experiment_file: Path, timeout_s: float = 20.0, episodes: int = 2
) -> dict[str, list[str]]:
    """The server's parity verdicts per match (in episode order), once it has them all
    (``episodes`` per match; waiting for more than were played would wait out the timeout)."""
    experiment_id = load_experiment(experiment_file).id
    deadline = time.monotonic() + timeout_s
    sql = "SELECT match_id, status FROM parity ORDER BY match_id, episode"
    while True:
        found: dict[str, list[str]] = {}
        for match_id, status in parity_rows(server, experiment_id, sql):
            found.setdefault(match_id, []).append(status)
        if time.monotonic() > deadline or (
            found and all(len(v) >= episodes for v in found.values())
        ):
            return found
        time.sleep(0.2)


def parity_rows(server, experiment_id: str, sql: str) -> list[tuple]:
    """Rows of a query on the server's store (its SQLite file, or its PostgreSQL schema)."""
    if server.database:
        import psycopg

        with psycopg.connect(server.database) as conn:
            conn.execute(f"SET search_path TO igym_{experiment_id}")
            return conn.execute(sql).fetchall()
    db = server.data_dir / f"{experiment_id}.sqlite3"
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return conn.execute(sql).fetchall()


def canonical(rows: list[dict], episode: int) -> list[dict]:
    """One member's rows of an episode without the page's timestamps (t.*) and identity."""
    skip = ("t.", "participant_id", "id")
    picked = sorted(
        (r for r in rows if r["episode"] == str(episode)), key=lambda r: int(r["frame"])
    )
    return [{k: v for k, v in r.items() if not k.startswith(skip)} for r in picked]


def check_matches(people, server, path, tmp_path, max_steps: int, episodes: int = 2) -> dict:
    """Every match: complete episodes of max_steps rows, identical canonical columns, parity."""
    states = {p.name: p.game() for p in people}
    pids = {p.name: p.page.evaluate("() => window.igym.welcome.participant_id") for p in people}
    matches: dict[str, list[str]] = {}
    for name, state in states.items():
        assert state["match"], f"{name} was never matched"
        matches.setdefault(state["match"]["match_id"], []).append(name)
        # a page opened again mid-scene (reload, crashed tab) summarises from its episode on
        first = state["summaries"][0]["episode"] if state["summaries"] else 0
        played = [(s["episode"], s["frames"]) for s in state["summaries"]]
        assert played == [(e, max_steps) for e in range(first, episodes)], name
        assert not any(s["partial"] for s in state["summaries"]), name
    parity = server_parity(server, path, episodes=episodes)
    for match_id in matches:
        assert parity.get(match_id) == ["identical"] * episodes, (match_id, parity)
    tables = export_csv(server, path, tmp_path)
    frames, episode_rows = tables["frames"], tables["episodes"]
    for members in matches.values():
        assert len(members) == 2
        rows = {m: [r for r in frames if r["participant_id"] == pids[m]] for m in members}
        for e in range(episodes):
            a, b = (canonical(rows[m], e) for m in members)
            assert len(a) == max_steps and [int(r["frame"]) for r in a] == list(range(max_steps))
            assert a == b, "the two members' canonical columns differ"
            for agent in ("agent_0", "agent_1"):  # both humans really played
                assert len({r[f"actions.{agent}"] for r in a}) >= 3
        for m in members:
            mine = [r for r in episode_rows if r["participant_id"] == pids[m]]
            assert sorted((r["episode"], r["status"]) for r in mine) == [
                (str(e), "complete") for e in range(episodes)
            ]
    return states


def sum_rollbacks(states: dict) -> int:
    return sum(len(s["samples"]["rollback_ms"]) for s in states.values())


def test_two_participants_play_two_episodes_with_parity(browser, igym_server, tmp_path):
    path = short_copy(tmp_path, 90)
    server = igym_server(path)
    with participants(browser, 2) as people:
        bring_to_lobby(people, server, "duo")
        wait_until_done(people)
        states = check_matches(people, server, path, tmp_path, 90)
        for p in people:
            press = p.page.evaluate("() => window.__press")
            assert press["sockets"] == {"opened": 1, "closed": 0}, "the websocket dropped"
            assert press["keys"] > 10
            assert p.scene_id() == "survey"
        probe = [s["probe_rtt_ms"] for s in states.values()]
        assert all(r is not None and r < 50 for r in probe), probe
        # on a clean link the data channel carries the game: the server relays only each
        # member's end-of-episode report and the odd packet around the start of an episode
        relayed = [e["relayed_out"] for s in states.values() for e in s["summaries"]]
        assert all(1 <= n <= 10 for n in relayed), relayed
        print("p2p loopback:", json.dumps({n: s["summaries"] for n, s in states.items()})[:2000])


def rollback_figures(states: dict) -> dict:
    """Rollbacks per minute of play and the p95 cost of a worker tick that rolled back."""
    costs = sorted(c for s in states.values() for c in s["samples"]["rollback_ms"])
    played_min = sum(s["samples"]["played_ms"] for s in states.values()) / 60_000
    depths = [d for s in states.values() for d in s["samples"]["rollback_depth"]]
    p95 = costs[max(0, int(len(costs) * 0.95 + 0.5) - 1)] if costs else None
    return {
        "rollbacks": len(costs),
        "rollbacks_per_min": round(len(costs) / played_min, 1) if played_min else None,
        "rollback_tick_p95_ms": p95,
        "max_depth": max(depths, default=0),
        "p2p_rtt_ms": [s["summaries"][-1].get("p2p_p2p_rtt_ms") for s in states.values()],
        "relayed_out": sum(e["relayed_out"] for s in states.values() for e in s["summaries"]),
        "packets_sent": sum(e["p2p_packets_sent"] for s in states.values() for e in s["summaries"]),
    }


@pytest.mark.parametrize(
    ("latency_ms", "loss"),
    [
        (100, 0),
        (50, 15),
    ],
    ids=["latency100", "latency50_loss15"],
)
def test_latency_and_loss_cause_rollbacks_and_parity_stays_exact(
    browser, igym_server, tmp_path, latency_ms, loss, record_property
):
    # the P2P check runs under the emulated loss too: on a loaded machine it may need more
    # than the default 15 s, which is not what this test is about
    path = short_copy(tmp_path, 120, validation_timeout_s=60)
    server = igym_server(path)
    with participants(browser, 2, gate=True) as people:
        bring_to_lobby(people, server, "lag")
        # Python boots at full speed; the conditions apply from the peer connection on
        for p in people:
            p.page.wait_for_function(
                "() => window.igym.game?.boot && window.igym.game.match", timeout=90_000
            )
        for p in people:
            p.emulate(latency_ms, loss)
        for p in people:
            p.open_gate()
        wait_until_done(people)
        states = check_matches(people, server, path, tmp_path, 120)
        figures = rollback_figures(states)
        assert figures["rollbacks"] > 0, figures
        # the conditions applied: the probe (data channel only, before any relay) saw them
        probes = [s["probe_rtt_ms"] for s in states.values()]
        assert all(rtt and rtt > latency_ms for rtt in probes), (probes, figures)
        for key, value in figures.items():
            record_property(key, value)
        print(f"p2p latency {latency_ms} ms loss {loss}%:", json.dumps(figures))


def test_six_arrivals_make_three_games_that_all_finish_with_parity(browser, igym_server, tmp_path):
    path = short_copy(tmp_path, 60)
    server = igym_server(path)
    with participants(browser, 6) as people:
        for p in people:
            p.open(server.url(f"/?PROLIFIC_PID=six-{p.name}"))
        for p in people:  # as close together as one driver can click
            p.page.click("#scene button.continue", no_wait_after=True)
        for p in people:
            p.page.wait_for_selector('#scene[data-scene-id="cooking"]')
        wait_until_done(people, timeout_s=240)
        states = check_matches(people, server, path, tmp_path, 60)
        assert len({s["match"]["match_id"] for s in states.values()}) == 3
        for p in people:
            assert p.page.evaluate("() => window.__press")["sockets"] == {"opened": 1, "closed": 0}


def test_a_participant_too_far_away_is_not_matched(browser, igym_server, tmp_path):
    """max_p2p_rtt_ms = 100: the slow participant's probes fail, the other two play."""
    path = short_copy(tmp_path, 60, max_p2p_rtt_ms=100.0)
    server = igym_server(path)
    slow = Participant(browser, "slow", 9, latency_ms=150)
    try:
        with participants(browser, 2) as people:
            slow.open(server.url("/?PROLIFIC_PID=far-slow"))
            for p in people:
                p.open(server.url(f"/?PROLIFIC_PID=far-{p.name}"))
            slow.enter_lobby()
            slow.page.wait_for_function("() => window.igym.game?.phase === 'waiting'")
            for p in people:
                p.enter_lobby()
            wait_until_done(people, timeout_s=180)
            check_matches(people, server, path, tmp_path, 60)
            state = slow.game()
            assert state["phase"] == "waiting" and state["episode"] == -1
            assert state["requeued"] and set(state["requeued"]) == {"p2p_rtt_too_high"}
            assert state["probe_rtt_ms"] > 100
            played = {p.game()["match"]["match_id"] for p in people}
            assert state["match"]["match_id"] not in played
    finally:
        slow.close()


# A partner leaving, a reload, outages and repairs mid-game: tests/e2e/test_p2p_resilience.py
