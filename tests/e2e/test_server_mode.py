"""Server-authoritative scenes in Chromium, with the example studies: Gymnasium CartPole played
by keyboard (rgb_array frames as JPEG), two people cooking in cogrid's own Overcooked on the
server, and PettingZoo tic-tac-toe played turn by turn. The server steps the env and records;
the pages only draw and send keys."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import ROOT, RequestRecorder
from tests.e2e.helpers import export_csv

pytestmark = pytest.mark.e2e
pytest.importorskip("gymnasium")
pytest.importorskip("PIL")

GAME_TIMEOUT_MS = 90_000


def copy_of(tmp_path: Path, example: str, **changes: object) -> Path:
    """An example study with its game scene changed (shorter, no countdown...)."""
    path = tmp_path / f"{example}_copy.py"
    fields = ", ".join(f"{k}={v!r}" for k, v in changes.items())
    path.write_text(
        "import attrs\n"
        "from igym_core.config import GameScene\n"
        "from igym_core.experiment import load_experiment\n"
        f"_base = load_experiment({str(ROOT / 'examples' / (example + '.py'))!r})\n"
        "experiment = attrs.evolve(_base, scenes=[\n"
        f"    attrs.evolve(s, {fields}) if isinstance(s, GameScene) else s\n"
        "    for s in _base.scenes])\n"
    )
    return path


def phase(page) -> str | None:
    return page.evaluate("() => document.body.dataset.game ?? null")


def to_game(page, url: str) -> None:
    """Open the study and click through its first page into the game scene."""
    page.goto(url)
    page.wait_for_selector("#scene button.continue")
    page.click("#scene button.continue")
    page.wait_for_function("() => document.body.dataset.game !== undefined")


def failed(page) -> None:
    if phase(page) == "error":
        pytest.fail(f"the game failed: {page.evaluate('() => window.igym.game.error')}")


def rows_of(tables: dict, participant: str) -> list[dict]:
    return [r for r in tables["frames"] if r["participant_id"] == participant]


def test_cartpole_by_keyboard_with_rgb_array_frames(igym_server, page, tmp_path):
    gymnasium = pytest.importorskip("gymnasium")
    path = copy_of(tmp_path, "gym_cartpole_server", episodes=1, max_steps=120, countdown_s=1)
    server = igym_server(path)
    to_game(page, server.url("/?PROLIFIC_PID=e2e-pole"))
    page.wait_for_function("() => document.body.dataset.game === 'playing'", timeout=30_000)
    rng = random.Random(4)
    key = "ArrowLeft"
    while phase(page) in ("playing", "countdown"):
        key = "ArrowRight" if key == "ArrowLeft" else "ArrowLeft"
        page.keyboard.down(key)
        time.sleep(rng.choice([0.03, 0.06, 0.1]))
        page.keyboard.up(key)
        time.sleep(0.01)
    failed(page)
    page.wait_for_selector('#scene[data-scene-id="survey"]', timeout=GAME_TIMEOUT_MS)
    state = page.evaluate("() => window.igym.game")
    assert state["images_received"] > 10 and state["image_bytes"] > 0
    assert state["samples"]["input_to_drawn_ms"], "no key was ever seen drawn"
    tables = export_csv(server, path, tmp_path)
    rows = rows_of(tables, "e2e-pole")
    [episode] = [e for e in tables["episodes"] if e["participant_id"] == "e2e-pole"]
    assert episode["status"] == "complete" and int(episode["frames"]) == len(rows)
    assert [int(r["frame"]) for r in rows] == list(range(len(rows)))  # rows = steps
    assert rows[-1]["terminated"] == "True" or rows[-1]["truncated"] == "True"
    assert {r["actions.agent_0"] for r in rows} == {"0", "1"}
    # a CPython replay of the recorded actions gives the recorded rewards and ending
    env = gymnasium.make("CartPole-v1")
    env.reset(seed=int(episode["seed"]))
    for r in rows:
        _obs, reward, terminated, _truncated, _ = env.step(int(r["actions.agent_0"]))
        assert float(r["rewards.agent_0"]) == reward
        assert (r["terminated"] == "True") == terminated
    pressed = [r for r in rows if r["t.key"]]
    drawn = [float(r["t.drawn"]) - float(r["t.key"]) for r in pressed if r["t.drawn"]]
    assert len(drawn) >= len(pressed) * 0.8 and all(0 < d < 2000 for d in drawn)
    assert float(episode["summary.latency_p50_ms"]) > 0


class Person:
    """A participant in their own browser context (which must stay on loopback too)."""

    def __init__(self, browser, url: str) -> None:
        self.context = browser.new_context()
        self.requests = RequestRecorder()
        self.requests.attach(self.context)
        self.page = self.context.new_page()
        self.requests.attach_page(self.page)
        self.url = url

    def enter(self) -> None:
        to_game(self.page, self.url)

    def game(self) -> dict:
        return self.page.evaluate("() => window.igym.game")

    def close(self) -> None:
        self.context.close()
        foreign = self.requests.foreign()
        assert not foreign, f"the browser contacted non-loopback hosts: {foreign}"


def enter_all(people: list[Person]) -> None:
    """Everyone opens the study and waits in the waiting room until the game plays."""
    for person in people:
        person.enter()
    for person in people:
        person.page.wait_for_function(
            "() => ['playing', 'error'].includes(document.body.dataset.game)", timeout=30_000
        )
        failed(person.page)


def test_two_people_cook_in_cogrid_on_the_server(browser, igym_server, tmp_path):
    pytest.importorskip("cogrid")
    path = copy_of(
        tmp_path,
        "cogrid_overcooked_human_ai",
        seats={"0": "human", "1": "human"},
        max_steps=90,
        countdown_s=1,
    )
    server = igym_server(path)
    people = [Person(browser, server.url(f"/?PROLIFIC_PID=e2e-cook{i}")) for i in range(2)]
    try:
        enter_all(people)
        rng = random.Random(9)
        keys = ["ArrowUp", "ArrowDown", "ArrowLeft", "ArrowRight", " "]
        while any(phase(p.page) in ("playing", "countdown") for p in people):
            for person in people:
                if phase(person.page) == "playing":
                    person.page.keyboard.press(rng.choice(keys))
            time.sleep(0.05)
        for person in people:
            failed(person.page)
            person.page.wait_for_selector('#scene[data-scene-id="end"]', timeout=GAME_TIMEOUT_MS)
        states = [p.game() for p in people]
        assert all(s["frames_received"] > 10 for s in states)  # draw objects, drawn by sprites
    finally:
        for person in people:
            person.close()
    tables = export_csv(server, path, tmp_path)
    a, b = rows_of(tables, "e2e-cook0"), rows_of(tables, "e2e-cook1")
    assert len(a) == len(b) == 90

    def strip(rows: list[dict]) -> list[dict]:
        return [
            {k: v for k, v in r.items() if not k.startswith(("t.", "participant"))} for r in rows
        ]

    assert strip(a) == strip(b)  # the same frames for both, each with its own clock
    columns = set(a[0])
    assert {
        "actions.0",
        "actions.1",
        "rewards.0",
        "rewards.1",
        "isFocused.0",
        "isFocused.1",
    } <= columns
    assert {"t.key", "t.tick", "t.step", "t.drawn", "terminated", "truncated"} <= columns
    assert a[-1]["truncated"] == "True"
    moved = [r for r in a if r["actions.0"] != "6"] and [r for r in a if r["actions.1"] != "6"]
    assert moved, "both people's keys were played"
    episodes = [e for e in tables["episodes"] if e["scene_id"] == "cooking"]
    assert sorted(e["status"] for e in episodes) == ["complete", "complete"]


def test_tictactoe_two_people_turn_by_turn(browser, igym_server, tmp_path):
    pytest.importorskip("pettingzoo")
    path = copy_of(tmp_path, "pettingzoo_tictactoe_server", episodes=1, countdown_s=1)
    server = igym_server(path)
    people = [Person(browser, server.url(f"/?PROLIFIC_PID=e2e-ttt{i}")) for i in range(2)]
    # keypad keys: player_1 plays 5 (centre), 1, 9: the diagonal; player_2 plays 2 and 3
    plan = {"player_1": ["5", "1", "9"], "player_2": ["2", "3"]}
    try:
        enter_all(people)
        agents = {p.game()["match"]["agent"]: p for p in people}
        assert sorted(agents) == ["player_1", "player_2"]
        deadline = time.monotonic() + 60
        while any(phase(p.page) == "playing" for p in people) and time.monotonic() < deadline:
            for agent, person in agents.items():
                hud = person.game()["hud"] or {}
                if hud.get("turn") == agent and plan[agent] and phase(person.page) == "playing":
                    # the other player's keys do nothing: it is not their move
                    other = agents["player_2" if agent == "player_1" else "player_1"]
                    other.page.keyboard.press("7")
                    time.sleep(0.15)  # (sampled and dropped at the next ticks)
                    person.page.keyboard.press(plan[agent].pop(0))
                    person.page.wait_for_function(
                        "(t) => (window.igym.game.hud || {}).turn !== t "
                        "|| document.body.dataset.game !== 'playing'",
                        arg=agent,
                        timeout=10_000,
                    )
            time.sleep(0.05)
        for person in people:
            failed(person.page)
            person.page.wait_for_selector('#scene[data-scene-id="end"]', timeout=GAME_TIMEOUT_MS)
    finally:
        for person in people:
            person.close()
    tables = export_csv(server, path, tmp_path)
    rows = rows_of(tables, "e2e-ttt0")
    assert [r["infos.turn"] for r in rows] == [
        "player_1",
        "player_2",
        "player_1",
        "player_2",
        "player_1",
    ]
    movers = [r[f"actions.{r['infos.turn']}"] for r in rows]
    assert movers == ["4", "3", "0", "6", "8"]  # keypad 5 2 1 3 9 as PettingZoo's cells
    assert rows[-1]["terminated"] == "True"
    assert (rows[-1]["rewards.player_1"], rows[-1]["rewards.player_2"]) == ("1.0", "-1.0")
    assert len(rows_of(tables, "e2e-ttt1")) == 5
