"""The bundled entry rules, and their entry point."""

from __future__ import annotations

from importlib.metadata import entry_points

import pytest
from igym_exclusion.entry import DeviceRule, ScreenSizeRule

IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"
DESKTOP = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36"


def test_device_lets_desktops_in_by_default():
    assert DeviceRule().check({"user_agent": DESKTOP, "touch": False}) is None
    verdict = DeviceRule().check({"user_agent": IPHONE})
    assert (verdict.rule, verdict.reason) == ("device", "device is mobile")
    assert verdict.message == "This study can only be done on a desktop computer."


def test_device_counts_a_touch_screen_as_mobile_and_can_allow_only_mobiles():
    assert DeviceRule().check({"user_agent": DESKTOP, "touch": True}).reason == "device is mobile"
    mobiles = DeviceRule(allow="mobile", message="Phones only.")
    assert mobiles.check({"user_agent": IPHONE}) is None
    assert mobiles.check({"user_agent": DESKTOP}).message == "Phones only."
    with pytest.raises(ValueError, match="allow must be"):
        DeviceRule(allow="tablet")


def test_screen_size_needs_a_large_enough_reported_screen():
    rule = ScreenSizeRule(min_width=1024, min_height=700)
    assert rule.check({"screen_width": 1280, "screen_height": 800}) is None
    assert rule.check({"screen_width": 390, "screen_height": 844}).reason == "screen is 390x844"
    assert rule.check({}).reason == "screen size not reported"
    with pytest.raises(ValueError, match="must be positive"):
        ScreenSizeRule(min_width=0)


def test_the_entry_point_is_installed():
    [ep] = [ep for ep in entry_points(group="igym") if ep.name == "exclusion"]
    assert ep.load().igym_exclusion_rules() == [DeviceRule, ScreenSizeRule]
