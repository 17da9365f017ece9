"""Continuous monitoring over the websocket, without a browser: scripted pages report where their
game is (``monitor``), answer the server's pings (one of them late) and get warned, then
excluded, by the scene's rules, run on the server's (here: the test's) clock at the scene's
cadence. Each exclusion is stored with its rule, reason, scene, episode and frame, and the
episode played so far is closed as partial; a raising rule is logged, counted and excludes
nobody. In a match, an exclusion ends the game for every member on one frame, told to all."""

from __future__ import annotations

import asyncio
import json
import logging
import math

import pytest

from igym_core.config import EndScene, Experiment, GameScene, Rule, StaticScene
from igym_core.load.scripted import frame_records
from igym_core.server import exclusion
from igym_core.server.app import create_app
from igym_core.server.lobby.lobby import END_MARGIN_S
from igym_core.settings import Settings
from tests.integration.conftest import Page
from tests.integration.test_game_recording import ToyPlugin

INTERVAL_S = 0.5
SEEN: list[dict] = []


def cadence(context):
    """A researcher's rule: sees the live context at every check; excludes nobody."""
    SEEN.append(dict(context))
    return None


def broken(context):
    raise KeyError("the researcher's typo")


def study(solo: bool) -> Experiment:
    """``solo``: the rules' own scene, a1 played at random; else a two-player match."""
    rules = [
        Rule("idle", {"warn_after_s": 1.5, "exclude_after_s": 3}, message="You stopped."),
        Rule("tab_hidden", {"warn_after_s": 1, "exclude_after_s": 2.5}),
        Rule("high_ping", {"max_ms": 100, "window": 3, "violations": 2}),
        cadence,
        broken,
    ]
    return Experiment(
        id="watched",
        scenes=[
            StaticScene(id="intro"),
            GameScene(
                id="play",
                env="toy",
                seats={"a0": "human", "a1": "random" if solo else "human"},
                max_steps=200,
                fps=20,
                rules=rules,
                monitor_interval_s=INTERVAL_S,
                partner_excluded_message="Your partner had to stop.",
                partner_excluded_code="PARTNER-GONE",
            ),
            EndScene(id="end", completion_code="DONE"),
        ],
    )


@pytest.fixture
def make_app(tmp_path, plugins, monkeypatch):
    """Apps of the study (SQLite: what is stored here is stored the same way on PostgreSQL,
    tests/integration/test_screening.py runs on both)."""
    monkeypatch.setattr(exclusion, "CLOSE_AFTER_S", 0.05)
    plugins.register(ToyPlugin(), name="toy")
    made = []

    def make(solo: bool):
        settings = Settings(data_dir=tmp_path / "data", ice_servers=(), database=None)
        made.append(create_app(study(solo), settings, plugins=plugins))
        return made[-1]

    yield make
    for app in made:
        app.extensions["igym"].exclusions.close()
        app.extensions["igym"].store.close()


class Live:
    """A scripted page: answers pings (``pong_delay_s`` late), keeps every other message."""

    def __init__(self, ws, pong_delay_s: float = 0.0) -> None:
        self.page = Page(ws)
        self.pong_delay_s = pong_delay_s
        self.inbox: asyncio.Queue[dict] = asyncio.Queue()
        self.got: list[dict] = []
        self.task: asyncio.Task | None = None

    async def enter(self, pid: str) -> None:
        await self.page.hello(subject_id=pid)
        await self.page.submit({})
        assert self.page.scene["scene"]["id"] == "play"
        self.task = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        while True:
            message = await self.page.recv()
            if message["type"] == "probe_ping":
                asyncio.get_running_loop().call_later(
                    self.pong_delay_s,
                    lambda m=message: asyncio.ensure_future(
                        self.page.send({"type": "probe_pong", "id": m["id"]})
                    ),
                )
                continue
            self.got.append(message)
            await self.inbox.put(message)

    async def send(self, message: dict) -> None:
        self.page.seq += 1
        await self.page.send({"token": self.page.token, "seq": self.page.seq, **message})

    async def monitor(self, frame: int, inputs: int, hidden: bool = False, episode: int = 0):
        report = {"type": "monitor", "scene_id": "play", "episode": episode, "frame": frame}
        report |= {"playing": True, "hidden": hidden, "inputs": inputs}
        await self.page.send({"token": self.page.token, "seq": 0, **report})

    async def until(self, kind: str, timeout: float = 5.0) -> dict:
        while True:
            message = await asyncio.wait_for(self.inbox.get(), timeout)
            if message["type"] == kind:
                return message

    def kinds(self) -> list[str]:
        return [m["type"] for m in self.got]

    def close(self) -> None:
        if self.task is not None:
            self.task.cancel()


async def play_frames(live: Live, upto: int, start: bool = True) -> None:
    scene = live.page.scene["scene"]
    if start:
        await live.send({"type": "episode_start", "scene_id": "play", "episode": 0})
    records = frame_records(scene, 0, upto)
    await live.send({"type": "frames", "scene_id": "play", "episode": 0, "records": records})


async def test_rules_warn_then_exclude_and_a_raising_rule_excludes_nobody(make_app, caplog):
    app = make_app(solo=True)
    state = app.extensions["igym"]
    monitoring = state.participants.monitoring
    now = [1000.0]
    monitoring.clock = lambda: now[0]
    SEEN.clear()
    client = app.test_client()
    async with (
        client.websocket("/ws") as w_idle,
        client.websocket("/ws") as w_hidden,
        client.websocket("/ws") as w_slow,
        client.websocket("/ws") as w_good,
    ):
        pages = {
            "idle": Live(w_idle),
            "hidden": Live(w_hidden),
            "slow": Live(w_slow, pong_delay_s=0.15),
            "good": Live(w_good),
        }
        for name, live in pages.items():
            await live.enter(f"mon-{name}")
            await play_frames(live, 10)
        caplog.set_level(logging.WARNING, logger="igym")
        for step in range(10):  # 5 s of the test's clock, a check every 0.5 s
            frame = 10 + step * 10
            for name, live in pages.items():
                keys = 0 if name == "idle" else step  # the idle one never presses a key
                await live.monitor(frame, keys, hidden=name == "hidden" and step >= 1)
            await asyncio.sleep(0.25)  # the reports are taken; the late pongs come back
            now[0] += INTERVAL_S
            await monitoring.tick()
        await asyncio.sleep(0.2)
        kinds = {name: live.kinds() for name, live in pages.items()}
        for live in pages.values():
            live.close()
    store = state.store
    store.flush()
    # -- who was excluded, by which rule, where
    rows = {name: store.exclusion(f"mon-{name}") for name in pages}
    assert rows["good"] is None and store.participant("mon-good").status != "excluded"
    expected = {"idle": "idle", "hidden": "tab_hidden", "slow": "high_ping"}
    for name, rule in expected.items():
        row = rows[name]
        assert (row["rule"], row["phase"], row["scene_id"], row["episode"]) == (
            rule,
            "continuous",
            "play",
            0,
        ), row
        assert row["frame"] > 10 and store.participant(f"mon-{name}").status == "excluded"
    assert rows["idle"]["reason"].startswith("no input for 3")
    assert rows["idle"]["message"] == "You stopped."
    assert rows["hidden"]["reason"].startswith("hidden for 2.5")
    assert rows["slow"]["reason"] == "2 of the last 2 pings above 100 ms", rows["slow"]
    # -- what the pages were told: a warning first (where the rule warns), then the exclusion
    for name in ("idle", "hidden"):
        assert kinds[name].index("warning") < kinds[name].index("excluded"), kinds[name]
    assert "excluded" in kinds["slow"] and "excluded" not in kinds["good"]
    # -- the events: warnings (once per warning spell), exclusions, the raising rule's errors
    events = list(store.reader().events())
    warnings = [e for e in events if e["kind"] == "rule_warning"]
    assert {(e["participant_id"], e["data"]["rule"]) for e in warnings} == {
        ("mon-idle", "idle"),
        ("mon-hidden", "tab_hidden"),
    }
    assert all(e["data"]["scene_id"] == "play" and e["data"]["episode"] == 0 for e in warnings)
    excluded = {e["participant_id"]: e["data"] for e in events if e["kind"] == "excluded"}
    assert {pid: d["rule"] for pid, d in excluded.items()} == {
        f"mon-{n}": r for n, r in expected.items()
    }
    errors = [e for e in events if e["kind"] == "rule_error"]
    assert {e["participant_id"] for e in errors} == {f"mon-{n}" for n in pages}  # once each
    assert all(e["data"]["rule"] == "broken" and "KeyError" in e["data"]["error"] for e in errors)
    assert state.participants.rules.for_scene("play")[4].errors >= len(pages)
    logged = [r.getMessage() for r in caplog.records if "raised" in r.getMessage()]
    assert any("'broken'" in m and "mon-good" in m for m in logged), logged
    # -- the researcher's callable ran at the scene's cadence, with the live context
    good = [c for c in SEEN if c["participant_id"] == "mon-good"]
    assert len(good) == 10  # every 0.5 s of the test's clock
    last = good[-1]
    assert (last["scene_id"], last["episode"], last["frame"], last["inputs"]) == ("play", 0, 100, 9)
    assert last["playing"] and not last["hidden"] and not last["multiplayer"]
    assert len(last["ping_ms"]) >= 5 and all(p < 100 for p in last["ping_ms"])
    assert last["elapsed_s"] == pytest.approx(5.0) and last["focus_periods"] == ()
    hidden = [c for c in SEEN if c["participant_id"] == "mon-hidden"]
    assert hidden[-1]["hidden"] and hidden[-1]["hidden_ms"] >= 2000
    # -- the episodes played so far are kept, closed as partial
    for _ in range(50):
        closed = [store.episodes_for(f"mon-{n}", "play") for n in expected]
        if all(e and e[0]["status"] == "partial" for e in closed):
            break
        await asyncio.sleep(0.05)
    for name in expected:
        (episode,) = store.episodes_for(f"mon-{name}", "play")
        assert (episode["status"], episode["reason"], episode["frames"]) == (
            "partial",
            "excluded",
            10,
        )


async def match_pair(client, pids: tuple[str, str], sockets) -> tuple[Live, Live, str]:
    pages = [Live(ws) for ws in sockets]
    for live, pid in zip(pages, pids, strict=True):
        await live.enter(pid)
    for live in pages:
        await live.send({"type": "lobby_join", "scene_id": "play", "attributes": {}})
    match = [await live.until("match") for live in pages]
    match_id = match[0]["match_id"]
    for live in pages:
        await live.send({"type": "probe", "match_id": match_id, "ok": True, "rtt_ms": 0.5})
    for live in pages:
        await live.until("match_start")
    return pages[0], pages[1], match_id


async def test_an_exclusion_ends_the_match_for_every_member_on_one_frame(make_app, monkeypatch):
    """The researcher excludes a member of a match that is being played: both pages are told
    the same end (episode, frame): past the furthest frame either reported, by END_MARGIN_S."""
    monkeypatch.setattr(exclusion, "CLOSE_AFTER_S", 10.0)  # the pages close their episodes
    app = make_app(solo=False)
    state = app.extensions["igym"]
    client = app.test_client()
    async with client.websocket("/ws") as one, client.websocket("/ws") as two:
        stay, leave, match_id = await match_pair(client, ("mp-stay", "mp-leave"), (one, two))
        for live in (stay, leave):
            await live.send({"type": "episode_start", "scene_id": "play", "episode": 0})
            await live.until("ack")
        await stay.monitor(40, 3)
        await leave.monitor(46, 5)
        await asyncio.sleep(0.1)
        # as the admin console does (StudyActions.exclude)
        assert await state.exclusions.exclude(
            "mp-leave", rule="admin", phase="admin", reason="walked away"
        )
        end_frame = 46 + math.ceil(END_MARGIN_S * 20)
        ended = await stay.until("match_ended")
        told = await leave.until("excluded")
        assert (ended["match_id"], ended["reason"]) == (match_id, "partner_excluded")
        assert (ended["end_episode"], ended["end_frame"]) == (0, end_frame)
        assert ended["message"] == "Your partner had to stop."
        assert ended["completion_code"] == "PARTNER-GONE"
        assert (told["end_episode"], told["end_frame"]) == (0, end_frame)
        # both pages play on to the end frame and close their episodes there
        for live in (stay, leave):
            await play_frames(live, end_frame, start=False)
            summary = {"match_end_frame": end_frame, "match_end_reached": True}
            await live.send(
                {
                    "type": "episode_end",
                    "scene_id": "play",
                    "episode": 0,
                    "frames": end_frame,
                    "partial": True,
                    "summary": summary,
                }
            )
        store = state.store
        for _ in range(100):
            closed = [store.episodes_for(pid, "play") for pid in ("mp-stay", "mp-leave")]
            if all(e and e[0]["status"] != "playing" for e in closed):
                break
            await asyncio.sleep(0.05)
        for live in (stay, leave):
            live.close()
    row = store.exclusion("mp-leave")
    assert (row["rule"], row["scene_id"], row["episode"], row["frame"]) == (
        "admin",
        "play",
        0,
        end_frame,
    )
    store.flush()
    episodes = {e["participant_id"]: e for e in store.reader().episodes()}
    for pid, reason in (("mp-stay", "partner_excluded"), ("mp-leave", "excluded")):
        episode = episodes[pid]
        assert (episode["status"], episode["reason"], episode["frames"]) == (
            "partial",
            reason,
            end_frame,
        ), episode
        assert episode["summary"]["termination_frame"] == end_frame
    frames = {
        pid: [json.dumps({**r, "t": None}) for r in store.frame_rows(pid, "play", 0)]
        for pid in episodes
    }
    assert frames["mp-stay"] == frames["mp-leave"] and len(frames["mp-stay"]) == end_frame
    (parity,) = store.reader().parity()
    assert (parity["match_id"], parity["status"]) == (match_id, "identical_partial"), parity
