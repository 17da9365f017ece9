"""igym plugin entry point: the exclusion rules this distribution provides."""

from igym_core import hookimpl
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

RULES = [
    DeviceRule,
    BrowserRule,
    OperatingSystemRule,
    ScreenSizeRule,
    PingRule,
    UrlParamsRule,
    RepeatRule,
    TabHiddenRule,
    IdleRule,
    HighPingRule,
]


@hookimpl
def igym_exclusion_rules():
    return list(RULES)
