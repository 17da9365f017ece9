"""Every bundled rule on its own (on contexts as the core builds them), and the entry point."""

from __future__ import annotations

from importlib.metadata import entry_points

import pytest
from igym_exclusion.entry import (
    BrowserRule,
    DeviceRule,
    OperatingSystemRule,
    PingRule,
    RepeatRule,
    ScreenSizeRule,
    UrlParamsRule,
)
from igym_exclusion.monitor import HighPingRule, IdleRule, TabHiddenRule
from igym_exclusion.plugin import RULES

from igym_core import Exclusion, RuleWarning


def test_device_lets_desktops_in_by_default():
    assert DeviceRule().check({"device": "desktop"}) is None
    verdict = DeviceRule().check({"device": "mobile"})
    assert (verdict.rule, verdict.reason) == ("device", "device is mobile")
    assert DeviceRule().check({"device": "tablet"}).reason == "device is tablet"
    assert DeviceRule(allow=["mobile", "tablet"]).check({"device": "tablet"}) is None
    assert DeviceRule(allow=["mobile"]).check({"device": "desktop"}) is not None
    with pytest.raises(ValueError, match="allow may hold"):
        DeviceRule(allow=["phone"])


def test_browser_allow_block_and_minimum_versions():
    chrome = {"browser": "Chrome", "browser_major": 126}
    firefox = {"browser": "Firefox", "browser_major": 99}
    assert BrowserRule().check(chrome) is None
    rule = BrowserRule(allow=["chrome", "Firefox"], block=["Firefox"], min_version={"Chrome": 130})
    assert rule.check(firefox).reason == "browser Firefox is blocked"  # block wins over allow
    assert rule.check(chrome).reason == "browser Chrome 126 is older than 130"
    assert rule.check({"browser": "Chrome", "browser_major": 131}) is None
    assert rule.check({"browser": "Safari"}).reason == "browser Safari is not allowed"
    assert rule.check({}).reason == "browser unknown is not allowed"
    with pytest.raises(ValueError, match="major version"):
        BrowserRule(min_version={"Chrome": "110"})


def test_operating_systems():
    rule = OperatingSystemRule(block=["iOS", "Android"])
    assert rule.check({"os": "Windows"}) is None
    assert rule.check({"os": "iOS"}).reason == "operating system iOS is blocked"
    only = OperatingSystemRule(allow=["Windows", "Mac OS X"])
    assert only.check({"os": "Linux"}).reason == "operating system Linux is not allowed"


def test_screen_size_needs_a_large_enough_reported_screen():
    rule = ScreenSizeRule(min_width=1024, min_height=700)
    assert rule.check({"screen_width": 1280, "screen_height": 800}) is None
    assert rule.check({"screen_width": 390, "screen_height": 844}).reason == "screen is 390x844"
    assert rule.check({}).reason == "screen size not reported"
    window = ScreenSizeRule(min_width=1000, window=True)
    assert window.check({"window_width": 900, "window_height": 900}).reason == "window is 900x900"
    with pytest.raises(ValueError, match="must be positive"):
        ScreenSizeRule(min_width=0)


def test_ping_judges_the_servers_median():
    rule = PingRule(max_ms=100)
    assert rule.check({"ping_median_ms": 40.0}) is None
    assert rule.check({"ping_median_ms": 250.0}).reason == "ping median 250 ms > 100 ms"
    assert rule.check({"ping_median_ms": None}).reason == "ping not measured"


def test_required_url_parameters():
    rule = UrlParamsRule()
    assert rule.check({"params": {"PROLIFIC_PID": "abc"}}) is None
    assert rule.check({"params": {"PROLIFIC_PID": " "}}).reason == (
        "missing URL parameter PROLIFIC_PID"
    )
    both = UrlParamsRule(required=["STUDY_ID", "SESSION_ID"])
    assert both.check({"params": {}}).reason == "missing URL parameter STUDY_ID, SESSION_ID"


def test_repeat_participants_from_this_study_or_a_list(tmp_path):
    earlier = {"participant_id": "a", "param": "PROLIFIC_PID", "status": "completed"}
    assert RepeatRule().check({"previous": (earlier,)}).reason == (
        "same PROLIFIC_PID as a (completed)"
    )
    active = {**earlier, "status": "active"}
    assert RepeatRule().check({"previous": (active,), "params": {}}) is None
    ids = tmp_path / "done.txt"
    ids.write_text("P1\nP2\n")
    listed = RepeatRule(ids_file=str(ids))
    assert listed.check({"params": {"PROLIFIC_PID": "P2"}}).reason == (
        "PROLIFIC_PID is in the list of earlier participants"
    )
    assert listed.check({"params": {"PROLIFIC_PID": "P3"}}) is None
    with pytest.raises(ValueError, match="does not exist"):
        RepeatRule(ids_file=str(tmp_path / "missing.txt"))


def test_tab_hidden_warns_then_excludes_only_while_playing():
    rule = TabHiddenRule(warn_after_s=3, exclude_after_s=10)
    assert rule.check({"playing": True, "hidden_ms": 1000}) is None
    warned = rule.check({"playing": True, "hidden_ms": 4000})
    assert isinstance(warned, RuleWarning) and warned.reason == "hidden for 4.0 s"
    out = rule.check({"playing": True, "hidden_ms": 10500})
    assert isinstance(out, Exclusion) and out.reason == "hidden for 10.5 s"
    assert rule.check({"playing": False, "hidden_ms": 60000}) is None
    assert TabHiddenRule(only_playing=False).check({"hidden_ms": 60000}) is not None
    with pytest.raises(ValueError, match="shorter"):
        TabHiddenRule(warn_after_s=20, exclude_after_s=10)


def test_idle_warns_then_excludes():
    rule = IdleRule(warn_after_s=5, exclude_after_s=8)
    assert rule.check({"idle_ms": 1000}) is None
    assert isinstance(rule.check({"idle_ms": 6000}), RuleWarning)
    assert rule.check({"idle_ms": 8000}).reason == "no input for 8.0 s"


def test_high_ping_counts_violations_in_a_window():
    rule = HighPingRule(max_ms=100, window=5, violations=3, warn_violations=1)
    assert rule.check({"ping_ms": (20, 30, 40)}) is None
    assert isinstance(rule.check({"ping_ms": (20, 300, 40)}), RuleWarning)
    out = rule.check({"ping_ms": (500, 500, 500, 20, 300, 40, 200)})  # the last 5: 3 high
    assert isinstance(out, Exclusion) and out.reason == "3 of the last 5 pings above 100 ms"
    with pytest.raises(ValueError, match="violations"):
        HighPingRule(window=3, violations=4)


def test_every_rule_has_a_message_and_a_phase():
    names = [r.name for r in RULES]
    assert len(set(names)) == len(names) == 10
    for rule in RULES:
        assert rule.phase in ("entry", "continuous") and rule.message


def test_the_entry_point_is_installed():
    [ep] = [ep for ep in entry_points(group="igym") if ep.name == "exclusion"]
    assert ep.load().igym_exclusion_rules() == RULES
