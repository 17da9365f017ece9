"""igym plugin entry point: the exclusion rules this distribution provides."""

from igym_core import hookimpl
from igym_exclusion.entry import DeviceRule, ScreenSizeRule


@hookimpl
def igym_exclusion_rules():
    return [DeviceRule, ScreenSizeRule]
