"""Rules as the core runs them: specs in the experiment, verdicts and messages, callables,
raising rules, read-only contexts, and what the browser is judged to be."""

from __future__ import annotations

import pytest

from igym_core import Exclusion, ExclusionRule, RuleWarning, browser
from igym_core.config import ConfigError, EndScene, Experiment, GameScene, Rule
from igym_core.rules import DEFAULT_MESSAGE, RuleFailure, check_rules, freeze
from igym_core.server.monitoring import Watch


def experiment(entry=(), scene=()):
    scenes = [EndScene(id="end")]
    if scene:
        seats = {"agent_0": "human", "agent_1": "policy:scripted"}
        scenes.insert(0, GameScene(id="g", env="overcooked.cramped_room", seats=seats, rules=scene))
    return Experiment(id="r", scenes=scenes, entry_rules=entry)


class Tall(ExclusionRule):
    name = "tall"
    phase = "entry"
    message = "Your screen is too short."

    def __init__(self, *, min_height: int = 900) -> None:
        self.min_height = min_height

    def check(self, context):
        if (context.get("screen_height") or 0) < self.min_height:
            return Exclusion(self.name, "too short")
        return None


def test_names_classes_and_callables_with_messages_and_codes(plugins):
    def sometimes(context):
        return context["params"].get("why")

    def warns(context):
        return RuleWarning("warns", "at entry nobody sees it")

    book = check_rules(
        experiment(
            [
                Rule(Tall, {"min_height": 700}, completion_code="C-1"),
                Rule(sometimes, message="Not today."),
                warns,
                Rule("ping", {"max_ms": 50}, message="Too slow."),
            ]
        ),
        plugins,
    )
    tall, some, warn, ping = book.entry
    short = tall.run({"screen_height": 600})
    assert (short.action, short.rule, short.reason) == ("exclude", "tall", "too short")
    assert short.message == "Your screen is too short." and short.completion_code == "C-1"
    assert tall.run({"screen_height": 800}) is None
    assert some.run({"params": {"why": "a reason"}}).message == "Not today."
    assert some.run({"params": {}}) is None
    assert warn.run({}) is None  # a warning at entry lets them in
    assert ping.run({"ping_median_ms": 80.0}).message == "Too slow."
    bare = check_rules(experiment([lambda c: "no"]), plugins).entry[0]
    assert bare.label == "<lambda>" and bare.run({}).message == DEFAULT_MESSAGE


def test_a_raising_rule_is_a_failure_and_excludes_only_when_told(plugins):
    def raises(context):
        raise KeyError("screen")

    def wrong(context):
        return 42

    book = check_rules(
        experiment([raises, Rule(wrong, exclude_on_error=True, name="wrong")]), plugins
    )
    first, second = book.entry
    failure = first.run({})
    assert failure == RuleFailure("raises", "KeyError: 'screen'") and first.errors == 1
    assert first.on_error(failure) is None
    bad = second.run({})
    assert isinstance(bad, RuleFailure) and "returned int" in bad.error
    verdict = second.on_error(bad)
    assert verdict.action == "exclude" and verdict.reason.startswith("rule error: TypeError")


def test_contexts_are_read_only():
    frozen = freeze({"params": {"a": "1"}, "ping_ms": [1.0, 2.0], "previous": [{"x": 1}]})
    with pytest.raises(TypeError):
        frozen["params"]["a"] = "2"
    with pytest.raises(TypeError):
        frozen["new"] = 1
    assert frozen["ping_ms"] == (1.0, 2.0) and frozen["previous"][0]["x"] == 1


def test_the_game_context_has_every_documented_key():
    scene = GameScene(id="g", env="overcooked.cramped_room", seats={"agent_0": "human"})
    watch = Watch("p", scene, {"PROLIFIC_PID": "p"}, started_at=100.0, playing=True)
    watch.hidden_since = 104.0
    watch.hidden_total = 2.0
    watch.focus[0] = {"episode": 0, "start_frame": 10}
    context = watch.context(now=105.5)
    from igym_core import GameContext

    assert set(context) == set(GameContext.__annotations__)
    assert context["hidden_ms"] == 1500.0 and context["hidden_total_ms"] == 3500.0
    assert context["focus_periods"][0]["start_frame"] == 10
    assert context["elapsed_s"] == 5.5


def test_rules_in_the_experiment_are_checked_for_types():
    with pytest.raises(ConfigError, match=r"Experiment\.entry_rules\[0\] must be a rule's name"):
        experiment([3])
    with pytest.raises(ConfigError, match=r"entry_rules\[0\]: give the class Tall"):
        experiment([Tall()])
    with pytest.raises(ConfigError, match=r"entry_rules\[0\]\.options: a callable takes no"):
        experiment([Rule(lambda c: None, {"x": 1})])
    with pytest.raises(ConfigError, match=r"Rule\.redirect_url must be an absolute"):
        Rule("device", redirect_url="/relative")
    with pytest.raises(ConfigError, match=r"GameScene\('g'\)\.rules\[0\]: 'tall' is an entry"):
        experiment(scene=[Tall])
    with pytest.raises(ConfigError, match=r"must be a list of rules"):
        experiment("device")


def test_the_config_digest_names_callables_not_addresses():
    def mine(context):
        return None

    assert "test_rules:test_the_config_digest_names_callables_not_addresses.<locals>.mine" in repr(
        Rule(mine)
    )
    assert "0x" not in repr(experiment([mine]))


@pytest.mark.parametrize(
    ("agent", "hints", "device", "name"),
    [
        ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/126.0.0.0 Safari/537.36", {}, "desktop", "Chrome"),
        ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
         "like Gecko) Version/17.0 Mobile/15E148 Safari/604.1", {}, "mobile", "Mobile Safari"),
        ("Mozilla/5.0 (Linux; Android 14; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/126.0.0.0 Safari/537.36", {}, "tablet", "Chrome"),
        ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like "
         "Gecko) Version/17.0 Safari/605.1.15", {"touch": True, "max_touch_points": 5}, "tablet",
         "Safari"),
        ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/126.0.0.0 Mobile Safari/537.36", {}, "mobile", "Chrome Mobile"),
        ("Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/128.0", {"mobile_hint": True},
         "mobile", "Firefox"),
    ],
)  # fmt: skip
def test_devices_and_browsers_are_told_apart(agent, hints, device, name):
    about = browser.describe(agent, **hints)
    assert (about["device"], about["browser"]) == (device, name)


def test_an_empty_agent_is_a_desktop_of_unknown_browser():
    about = browser.describe(None)
    assert about["device"] == "desktop" and about["browser"] is None and about["os"] is None
