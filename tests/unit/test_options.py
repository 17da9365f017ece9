"""Matchmaker and rule options are checked when the experiment loads, with the field named; the
scene's own settings reach the matchmaker through its MatchContext."""

from __future__ import annotations

import types
from typing import Literal

import pytest

from igym_core import MatchContext, Matchmaker, hookimpl
from igym_core.cli import main
from igym_core.config import ConfigError, EndScene, Experiment, GameScene
from igym_core.experiment import check_plugins
from igym_core.options import build
from igym_core.server.app import create_app
from igym_core.settings import Settings
from tests.unit.test_lobby import DuoPlugin


class Picky(Matchmaker):
    name = "picky"
    seen: list[MatchContext] = []

    def __init__(
        self,
        *,
        attribute: str = "cohort",
        max_wait_s: float = 60.0,
        mode: Literal["strict", "loose"] = "strict",
        tags: list[str] | None = None,
    ) -> None:
        if max_wait_s <= 0:
            raise ValueError(f"max_wait_s must be positive, got {max_wait_s}")
        self.attribute = attribute

    def match(self, waiting, context):
        Picky.seen.append(context)
        return []


class NeedsLevel(Matchmaker):
    name = "needs_level"

    def __init__(self, *, level: int) -> None:
        self.level = level


@pytest.fixture
def mm_plugins(plugins):
    plugins.register(DuoPlugin(), name="duo")
    plugins.register(
        types.SimpleNamespace(igym_matchmakers=hookimpl(lambda: [Picky, NeedsLevel])), name="mm"
    )
    return plugins


def experiment(matchmaker: str = "picky", **scene) -> Experiment:
    return Experiment(
        id="mp",
        scenes=[
            GameScene(
                id="play",
                env="duo",
                seats={"a0": "human", "a1": "human"},
                matchmaker=matchmaker,
                **scene,
            ),
            EndScene(id="end"),
        ],
    )


FIELD = r"GameScene\('play'\)\.matchmaker_options"


@pytest.mark.parametrize(
    ("matchmaker", "options", "says"),
    [
        (
            "picky",
            {"colour": "red"},
            rf"{FIELD}\['colour'\]: 'picky' has no option 'colour' \(options: attribute, max_wait_s, mode, tags\)",
        ),
        (
            "picky",
            {"max_wait_s": "soon"},
            rf"{FIELD}\['max_wait_s'\]: 'picky' expects float, got 'soon'",
        ),
        ("picky", {"max_wait_s": True}, rf"{FIELD}\['max_wait_s'\]: 'picky' expects float"),
        (
            "picky",
            {"mode": "lax"},
            rf"{FIELD}\['mode'\]: 'picky' expects Literal\['strict', 'loose'\]",
        ),
        ("picky", {"tags": "a,b"}, rf"{FIELD}\['tags'\]: 'picky' expects list\[str\] \| None"),
        (
            "picky",
            {"max_wait_s": -1},
            rf"{FIELD}: 'picky' refused them: max_wait_s must be positive",
        ),
        ("needs_level", {}, rf"{FIELD}: 'needs_level' needs the option 'level'"),
        ("fifo", {"max_p2p_rtt_ms": 100}, rf"{FIELD}\['max_p2p_rtt_ms'\]: 'fifo' has no option"),
        (
            "rtt_fifo",
            {"max_server_rtt_ms": 0},
            rf"{FIELD}: 'rtt_fifo' refused them: max_server_rtt_ms must be positive",
        ),
    ],
)
def test_bad_matchmaker_options_fail_at_load_with_the_field_named(
    mm_plugins, matchmaker, options, says
):
    with pytest.raises(ConfigError, match=says):
        check_plugins(experiment(matchmaker, matchmaker_options=options), mm_plugins)


def test_good_options_pass_and_ints_count_as_floats(mm_plugins):
    check_plugins(
        experiment(matchmaker_options={"max_wait_s": 30, "mode": "loose", "tags": ["x"]}),
        mm_plugins,
    )
    check_plugins(experiment("needs_level", matchmaker_options={"level": 3}), mm_plugins)
    check_plugins(experiment("rtt_fifo", matchmaker_options={"max_server_rtt_ms": 150}), mm_plugins)


def test_the_server_does_not_start_with_bad_options(tmp_path, mm_plugins):
    with pytest.raises(ConfigError, match=rf"{FIELD}\['colour'\]"):
        create_app(
            experiment(matchmaker_options={"colour": 1}),
            Settings(data_dir=tmp_path),
            plugins=mm_plugins,
        )


def test_igym_validate_names_the_field(tmp_path, capsys):
    path = tmp_path / "study.py"
    path.write_text(
        "from igym_core.config import EndScene, Experiment, GameScene\n"
        "experiment = Experiment(id='mp', scenes=[GameScene(id='play', "
        "env='overcooked.cramped_room', seats={'agent_0': 'human', 'agent_1': 'human'}, "
        "matchmaker='rtt_fifo', matchmaker_options={'max_server_rtt': 100}), EndScene(id='end')])\n"
    )
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "GameScene('play').matchmaker_options['max_server_rtt']: 'rtt_fifo' has no option" in err
    assert "(options: max_server_rtt_ms)" in err


def test_scene_settings_reach_the_matchmaker_in_its_context(tmp_path, mm_plugins):
    app = create_app(
        experiment(max_p2p_rtt_ms=120.0, waiting_timeout_s=90.0),
        Settings(data_dir=tmp_path, ice_servers=()),
        plugins=mm_plugins,
    )
    lobby = app.extensions["igym"].lobby.engine
    lobby.clock = lambda: 5000.0
    Picky.seen.clear()
    lobby.join("a", lobby.experiment.scene("play"), {}, None)
    lobby.join("b", lobby.experiment.scene("play"), {}, None)
    assert Picky.seen[-1] == MatchContext(
        scene_id="play", group_size=2, now=5000.0, max_p2p_rtt_ms=120.0, waiting_timeout_s=90.0
    )


def _with_rules(entry=(), scene_rules=()):
    from igym_core.config import EndScene, Experiment, GameScene

    scenes = [EndScene(id="end")]
    if scene_rules:
        game = GameScene(
            id="play", env="overcooked.cramped_room", seats={"agent_0": "human",
            "agent_1": "policy:scripted"}, rules=scene_rules,
        )  # fmt: skip
        scenes.insert(0, game)
    return Experiment(id="rules", scenes=scenes, entry_rules=entry)


def test_rule_options_are_checked_with_the_field_named(plugins):
    from igym_core.config import Rule
    from igym_core.rules import check_rules

    book = check_rules(_with_rules([Rule("screen_size", {"min_width": 1024})]), plugins)
    assert book.entry[0].label == "screen_size" and book.count() == 1
    cases = [
        (
            [Rule("screen_size", {"min_width": "1024"})],
            r"entry_rules\[0\]\.options\['min_width'\]: 'screen_size' expects int, got '1024'",
        ),
        (
            ["device", Rule("device", {"allow": "tablet"}, name=None)],
            r"lists two rules named 'device'",
        ),
        (
            [Rule("device", {"allow": ["phone"]})],
            r"entry_rules\[0\]\.options: 'device' refused them: allow may hold",
        ),
        (
            [Rule("screen_size", {"min_width": 0})],
            r"entry_rules\[0\]\.options: 'screen_size' refused them: .*positive",
        ),
        (
            ["ping", Rule("phone")],
            r"entry_rules\[1\]: no plugin provides the exclusion rule 'phone' \(known: .*device",
        ),
        (["tab_hidden"], r"entry_rules\[0\]: 'tab_hidden' is a continuous rule"),
        ([Rule("ping", {"maximum": 3})], r"'ping' has no option 'maximum' \(options: max_ms\)"),
    ]
    for rules, message in cases:
        with pytest.raises(ConfigError, match=message):
            check_rules(_with_rules(rules), plugins)
    with pytest.raises(ConfigError, match=r"GameScene\('play'\)\.rules\[0\]: 'device' is an entry"):
        check_rules(_with_rules(scene_rules=["device"]), plugins)


def test_a_class_that_takes_anything_is_left_to_its_constructor():
    class Loose:
        name = "loose"

        def __init__(self, **options):
            if "bad" in options:
                raise TypeError("bad is bad")
            self.options = options

    assert build(Loose, {"anything": 1}, "X.options").options == {"anything": 1}
    with pytest.raises(ConfigError, match=r"X\.options: 'loose' refused them: bad is bad"):
        build(Loose, {"bad": 1}, "X.options")
