"""Focus loss between two real Chromium pages playing Overcooked peer to peer.

One member plays in a Chromium of its own, attached over CDP, whose window can really be
minimised (``document.visibilityState`` "hidden", 1 Hz main-thread timers) and frozen
(``Page.setWebLifecycleState``); pages Playwright opens itself always stay "visible"
(TESTING.md). While that member is away (hidden 5 s; or hidden, and 1 s later frozen for 5 s),
its partner draws every frame as before: the
longest gap between two drawn frames is printed (p100) with the partner's gaps before the
hide, and must stay far below a stall. The data are what a researcher relies on: the server's
parity verdict, identical canonical columns (``isFocused.<agent>`` included) for both members, the
away member's frames unfocused for the time it was away, and its focus period exported.
Hidden past the scene's ``tab_hidden`` timeout: excluded; the partner reads the explanation
(and its completion code) and goes on, and both members' frames are kept with their termination
reasons, ending on the same frame: the one the server chose for every member. In the "hidden"
case the researcher's own rule then excludes the member that came back (an active page): both
again hold exactly that many identical frames.
"""

from __future__ import annotations

import itertools
import json
import pathlib
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.e2e.conftest import CHROMIUM_ARGS
from tests.e2e.helpers import export_csv
from tests.e2e.test_p2p_overcooked import KEY_SCRIPT, canonical, server_parity, short_copy

pytestmark = pytest.mark.e2e

#: every visibility change the page saw, with its time (printed when a check fails)
VISIBILITY_LOG = """
window.__visibility = [];
document.addEventListener("visibilitychange", () =>
  window.__visibility.push([Math.round(performance.now()), document.visibilityState]));
"""
MAX_STEPS = 600  # 20 s at 30 fps
AWAY_S = 5.0
#: in the "hidden" case, a researcher's rule excludes the member that came back at this frame
ENOUGH_AT = 300
BOOT_TIMEOUT_MS = 180_000


@contextmanager
def own_chromium(playwright_sync, chromium_path: str) -> Iterator[object]:
    """A Chromium started here (not by Playwright), attached over CDP: its default context."""
    profile = tempfile.mkdtemp(prefix="igym-chromium-")
    process = subprocess.Popen(
        [
            chromium_path,
            "--headless",
            "--remote-debugging-port=0",
            f"--user-data-dir={profile}",
            *list(CHROMIUM_ARGS),
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        port_file = pathlib.Path(profile) / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()):
            assert time.monotonic() < deadline, "Chromium did not open its debugging port"
            time.sleep(0.1)
        port = port_file.read_text().split()[0]
        browser = playwright_sync.chromium.connect_over_cdp(
            f"http://127.0.0.1:{port}", no_defaults=True
        )
        try:
            yield browser.contexts[0]
        finally:
            browser.close()
    finally:
        process.terminate()
        process.wait(timeout=10)


class Member:
    def __init__(self, name: str, context, seed: int) -> None:
        self.name = name
        self.context = context
        self.context.set_default_timeout(60_000)
        self.page = context.pages[0] if context.pages else context.new_page()
        self.console: list[str] = []
        self.page.on("console", lambda m: self.console.append(f"[{m.type}] {m.text}"))
        self.page.add_init_script(KEY_SCRIPT.replace("SEED", str(1000 + seed)))
        self.page.add_init_script(VISIBILITY_LOG)
        self.cdp = context.new_cdp_session(self.page)

    def enter(self, url: str) -> None:
        page = self.page
        page.goto(url)
        page.wait_for_selector('#scene[data-scene-id="consent"]')
        page.check('input[name="consent"]')
        page.click("#scene button.continue")
        page.wait_for_selector('#scene[data-scene-id="instructions"]')
        page.click("#scene button.continue")
        page.wait_for_selector('#scene[data-scene-id="cooking"]')

    def now_ms(self) -> float:
        return self.page.evaluate("() => performance.now()")  # the clock of t.drawn

    def window(self, state: str) -> None:
        window = self.cdp.send("Browser.getWindowForTarget")["windowId"]
        self.cdp.send(
            "Browser.setWindowBounds", {"windowId": window, "bounds": {"windowState": state}}
        )

    def visibility(self) -> str:
        return self.page.evaluate("() => document.visibilityState")

    def game(self) -> dict:
        return self.page.evaluate("() => window.igym.game")

    def pid(self) -> str:
        return self.page.evaluate("() => window.igym.welcome.participant_id")


def gaps(rows: list[dict], start: float, end: float) -> list[float]:
    drawn = sorted(float(r["t.drawn"]) for r in rows if r.get("t.drawn") not in (None, ""))
    inside = [t for t in drawn if start <= t <= end]
    return [b - a for a, b in itertools.pairwise(inside)]


def settled(member: Member) -> int:
    return int(member.page.evaluate("() => window.igym.game?.frames_received ?? 0"))


def caught_up(away: Member, stay: Member, timeout_s: float = 30.0) -> float:
    """Seconds until the returning page has settled as many frames as its partner (within 3)."""
    start = time.monotonic()
    while time.monotonic() - start < timeout_s:
        if settled(away) >= settled(stay) - 3:
            return time.monotonic() - start
        time.sleep(0.02)
    pytest.fail(f"the returning page did not catch up in {timeout_s} s")


def wait_until_left_game(members: list[Member], timeout_s: float = 240.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        scenes = [
            m.page.evaluate("() => document.querySelector('#scene')?.dataset.sceneId")
            for m in members
        ]
        if all(s not in (None, "cooking") for s in scenes):
            return
        time.sleep(0.5)
    states = {m.name: m.page.evaluate("() => window.igym.game") for m in members}
    pytest.fail(f"the game did not end: {json.dumps(states, default=str)[:3000]}")


@contextmanager
def playing_pair(playwright_sync, browser, chromium_path, server, prefix: str, seed: int):
    """Two members in a match, both playing: ``stay`` (a Playwright page) and ``away`` (a page
    of its own Chromium, which can be minimised and frozen)."""
    local = browser.new_context(permissions=["camera", "microphone"])
    with own_chromium(playwright_sync, chromium_path) as remote_context:
        remote_context.grant_permissions(["camera", "microphone"], origin=server.base_url)
        pair = Member("stay", local, seed), Member("away", remote_context, seed + 1)
        try:
            for m in pair:
                m.enter(server.url(f"/?PROLIFIC_PID={prefix}-{m.name}"))
            for m in pair:
                m.page.wait_for_function(
                    "() => document.body.dataset.game === 'playing'", timeout=BOOT_TIMEOUT_MS
                )
            yield pair
        finally:
            for m in pair:
                if m.console:
                    print(f"{m.name} console:\n  " + "\n  ".join(m.console[-30:]))
            local.close()


def focus_copy(tmp_path: pathlib.Path) -> pathlib.Path:
    """The human-human example, one episode of MAX_STEPS frames, with a researcher's rule: the
    member ``focus-hidden-away`` is excluded once it plays frame ENOUGH_AT (back from away)."""
    path = short_copy(tmp_path, MAX_STEPS, episodes=1)
    path.write_text(
        path.read_text() + "from igym_core.config import Rule\n"
        "def enough(context):\n"
        f"    if context['frame'] >= {ENOUGH_AT} and not context['hidden'] and "
        "context['params'].get('PROLIFIC_PID') == 'focus-hidden-away':\n"
        "        return 'played enough'\n"
        "    return None\n"
        "experiment = attrs.evolve(experiment, scenes=[\n"
        "    attrs.evolve(s, rules=[Rule(enough, message='Thank you, that is enough.')])\n"
        "    if isinstance(s, GameScene) else s for s in experiment.scenes])\n"
    )
    return path


def closed_both(members: list[Member]) -> None:
    """Both pages closed their episode (the excluded one plays on to the end frame behind its
    exclusion page) and the server has all they sent: before the browsers go away."""
    for m in members:
        m.page.wait_for_function(
            "() => (window.igym.game?.summaries?.length ?? 0) >= 1 && window.igym.outbox.size === 0"
        )


def ended_episodes(server, path, tmp_path, names: tuple[str, ...]) -> dict:
    """The exported tables once both members' episodes are closed (an excluded page that
    could not close its own is closed by the server 10 s after the exclusion)."""
    tables: dict = {}
    for _ in range(30):
        tables = export_csv(server, path, tmp_path, names)
        if len(tables["episodes"]) == 2 and all(
            e["status"] == "partial" for e in tables["episodes"]
        ):
            break
        time.sleep(1.0)
    return tables


def same_end(tables: dict, pids: dict[str, str]) -> int:
    """Both members' episodes end on the frame the server chose (the exclusion's frame), with
    identical canonical rows up to it, and each page says its records end there. Returns it."""
    (row,) = tables["exclusions"]
    end = int(row["frame"])
    episodes = {e["participant_id"]: e for e in tables["episodes"]}
    rows = {n: [r for r in tables["frames"] if r["participant_id"] == p] for n, p in pids.items()}
    a, b = canonical(rows["stay"], 0), canonical(rows["away"], 0)
    detail = {
        n: (episodes[p]["frames"], episodes[p]["summary.match_end_frame"]) for n, p in pids.items()
    }
    assert len(a) == len(b) == end and a == b, (end, len(a), len(b), detail)
    for pid in pids.values():
        assert int(episodes[pid]["frames"]) == end, detail
        assert int(episodes[pid]["summary.match_end_frame"]) == end, detail
        assert episodes[pid]["summary.match_end_reached"] == "True", detail
    return end


@pytest.mark.parametrize("how", ["hidden", "frozen"])
def test_a_partner_plays_on_while_the_other_tab_is_away(
    how, playwright_sync, browser, chromium_path, igym_server, tmp_path
):
    path = focus_copy(tmp_path)
    server = igym_server(path)
    with playing_pair(playwright_sync, browser, chromium_path, server, f"focus-{how}", 1) as (
        stay,
        away,
    ):
        time.sleep(2.0)
        hidden_at = stay.now_ms()
        away.window("minimized")
        assert away.visibility() == "hidden"
        if how == "frozen":
            # a browser freezes a tab minutes after it was hidden, never in the same instant:
            # the page first tells its partners (a lease, one round trip) that it is away
            time.sleep(1.0)
            away.cdp.send("Page.setWebLifecycleState", {"state": "frozen"})
            time.sleep(AWAY_S)  # frozen 5 s (hidden 6 s)
        else:
            time.sleep(AWAY_S)
        if how == "frozen":
            away.cdp.send("Page.setWebLifecycleState", {"state": "active"})
        away.window("normal")
        shown_at = stay.now_ms()
        catch_up_s = caught_up(away, stay)
        if how == "hidden":  # the researcher's rule excludes the member that came back
            away.page.wait_for_selector('#scene[data-closed="excluded"]', timeout=30_000)
            assert "Thank you, that is enough." in away.page.inner_text("#scene")
            stay.page.wait_for_function("() => document.body.dataset.game === 'ended'")
            closed_both([stay, away])
        else:
            wait_until_left_game([stay, away])
        pids = {m.name: m.pid() for m in (stay, away)}
        seen = away.page.evaluate("() => window.__visibility")
        summaries = {m.name: m.game()["summaries"] for m in (stay, away)}
    names = ("frames", "episodes", "focus_periods", "exclusions")
    if how == "hidden":
        tables = ended_episodes(server, path, tmp_path, names)
        parity = server_parity(server, path, episodes=1)
        detail = (parity, tables["episodes"], server.log()[-3000:])
        assert list(parity.values()) == [["identical_partial"]], detail
        steps = same_end(tables, pids)  # an active page excluded: both hold exactly its frames
        assert ENOUGH_AT < steps < MAX_STEPS
    else:
        parity = server_parity(server, path, episodes=1)
        assert list(parity.values()) == [["identical"]], parity
        tables = export_csv(server, path, tmp_path, names)
        steps = MAX_STEPS
    rows = {n: [r for r in tables["frames"] if r["participant_id"] == p] for n, p in pids.items()}
    a, b = canonical(rows["stay"], 0), canonical(rows["away"], 0)
    assert len(a) == steps and a == b, "the members' canonical columns differ"
    focus_columns = [k for k in a[0] if k.startswith("isFocused.")]
    assert len(focus_columns) == 2
    # (after its exclusion, the leaving member's inputs are idle and unfocused too)
    unfocused = [r for r in a if r["isFocused.agent_1"] == "False" and int(r["frame"]) < ENOUGH_AT]
    if how == "hidden":
        assert a[-1]["isFocused.agent_1"] == "False" and a[-1]["isFocused.agent_0"] == "True"
    frames = [int(r["frame"]) for r in unfocused]
    detail = (len(unfocused), frames[:3], frames[-3:], seen, tables["focus_periods"], summaries)
    assert AWAY_S * 30 * 0.8 <= len(unfocused) <= AWAY_S * 30 * 1.6, detail
    away_gaps = gaps(rows["stay"], hidden_at, shown_at + 1000.0)
    before = gaps(rows["stay"], hidden_at - 2000.0, hidden_at)
    longest = max(away_gaps)
    (period,) = [p for p in tables["focus_periods"] if p["participant_id"] == pids["away"]]
    assert period["end_frame"] not in ("", None)
    assert 0.8 * AWAY_S * 1000 <= float(period["duration_ms"]) <= AWAY_S * 1000 + 3000
    print(
        f"\nfocus loss e2e ({how} {AWAY_S:g} s): partner's longest gap between drawn frames "
        f"{longest:.1f} ms while away (p100; before: {max(before):.1f} ms), "
        f"unfocused frames {len(unfocused)}, focus period {period['duration_ms']} ms, "
        f"catch-up on return {catch_up_s * 1000:.0f} ms, episode frames {steps} for both"
    )
    assert longest < 200.0, longest  # a stall would last the whole time away
    assert catch_up_s < 5.0


def timeout_copy(tmp_path: pathlib.Path) -> pathlib.Path:
    """The human-human example, one long episode, hidden for 4 s: excluded."""
    from tests.e2e.test_p2p_overcooked import EXAMPLE

    path = tmp_path / "duo_timeout.py"
    path.write_text(
        "import attrs\n"
        "from igym_core.config import GameScene, Rule\n"
        "from igym_core.experiment import load_experiment\n"
        f"_base = load_experiment({str(EXAMPLE)!r})\n"
        "_hidden = Rule('tab_hidden', {'warn_after_s': 1, 'exclude_after_s': 4},\n"
        "               message='You left the game, so the study has ended.')\n"
        "experiment = attrs.evolve(_base, id='duo_timeout', scenes=[\n"
        "    attrs.evolve(s, max_steps=1800, episodes=1, countdown_s=1, rules=[_hidden],\n"
        "                 partner_excluded_message='Your partner left. You can go on.',\n"
        "                 partner_excluded_code='PARTNER-LEFT-7')\n"
        "    if isinstance(s, GameScene) else s for s in _base.scenes])\n"
    )
    return path


def test_hidden_past_the_timeout_is_excluded_and_the_partner_goes_on(
    playwright_sync, browser, chromium_path, igym_server, tmp_path
):
    path = timeout_copy(tmp_path)
    server = igym_server(path)
    with playing_pair(playwright_sync, browser, chromium_path, server, "timeout", 3) as (
        stay,
        away,
    ):
        time.sleep(1.0)
        away.window("minimized")
        assert away.visibility() == "hidden"
        stay.page.wait_for_function("() => document.body.dataset.game === 'ended'", timeout=20_000)
        text = stay.page.inner_text("#scene")
        assert "Your partner left. You can go on." in text
        assert "Your completion code: PARTNER-LEFT-7" in text
        away.window("normal")
        away.page.wait_for_selector('#scene[data-closed="excluded"]', timeout=20_000)
        assert "You left the game" in away.page.inner_text("#scene")
        closed_both([stay, away])
        stay.page.click("#scene button.continue")  # the partner goes on
        stay.page.wait_for_selector('#scene[data-scene-id="survey"]', timeout=30_000)
        pids = {m.name: m.pid() for m in (stay, away)}
    names = ("frames", "episodes", "exclusions", "focus_periods")
    tables = ended_episodes(server, path, tmp_path, names)
    # the hidden tab's worker played on (dedicated workers keep their rate when hidden): it
    # holds every frame up to the server's end, like its partner
    end = same_end(tables, pids)
    print(f"\nhidden past the timeout: both members' episodes end at frame {end}")
    (row,) = tables["exclusions"]
    assert (row["participant_id"], row["rule"], row["scene_id"]) == (
        pids["away"],
        "tab_hidden",
        "cooking",
    )
    reasons = {e["participant_id"]: (e["status"], e["reason"]) for e in tables["episodes"]}
    assert reasons[pids["away"]][0] == "partial" and "excluded" in reasons[pids["away"]][1]
    assert reasons[pids["stay"]][0] == "partial" and "partner_excluded" in reasons[pids["stay"]][1]
    for pid in pids.values():  # both datasets are kept
        assert any(r["participant_id"] == pid for r in tables["frames"])
    assert any(p["participant_id"] == pids["away"] for p in tables["focus_periods"])
