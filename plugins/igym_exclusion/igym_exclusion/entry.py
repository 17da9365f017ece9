"""Entry rules: checked once, before the first scene, from what the browser reports (an
:class:`igym_core.EntryContext`: ``user_agent``, ``screen_width``, ``screen_height``,
``touch``)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from igym_core import Exclusion, ExclusionRule

_MOBILE = re.compile(r"Mobi|Android|iPhone|iPad|iPod|Windows Phone", re.IGNORECASE)


class DeviceRule(ExclusionRule):
    """Lets only desktop/laptop browsers in (``allow="desktop"``) or only mobiles (``"mobile"``).

    Options: ``allow`` and ``message`` (what an excluded participant reads).
    """

    name = "device"
    phase = "entry"

    def __init__(
        self, *, allow: Literal["desktop", "mobile"] = "desktop", message: str | None = None
    ) -> None:
        if allow not in ("desktop", "mobile"):
            raise ValueError(f"allow must be 'desktop' or 'mobile', got {allow!r}")
        self.allow = allow
        self.message = message or f"This study can only be done on a {allow} computer."

    def check(self, context: Mapping[str, Any]) -> Exclusion | None:
        ua = str(context.get("user_agent", ""))
        mobile = bool(_MOBILE.search(ua)) or bool(context.get("touch", False))
        if mobile == (self.allow == "mobile"):
            return None
        return Exclusion(self.name, f"device is {'mobile' if mobile else 'desktop'}", self.message)


class ScreenSizeRule(ExclusionRule):
    """Requires a screen of at least ``min_width`` x ``min_height`` CSS pixels.

    Options: ``min_width``, ``min_height`` and ``message``.
    """

    name = "screen_size"
    phase = "entry"

    def __init__(
        self, *, min_width: int = 800, min_height: int = 600, message: str | None = None
    ) -> None:
        if min_width < 1 or min_height < 1:
            raise ValueError(f"the minimum screen must be positive, got {min_width}x{min_height}")
        self.min_width = min_width
        self.min_height = min_height
        self.message = message or (
            f"This study needs a screen of at least {min_width}x{min_height} pixels."
        )

    def check(self, context: Mapping[str, Any]) -> Exclusion | None:
        width = context.get("screen_width")
        height = context.get("screen_height")
        if not isinstance(width, int | float) or not isinstance(height, int | float):
            return Exclusion(self.name, "screen size not reported", self.message)
        if width < self.min_width or height < self.min_height:
            return Exclusion(self.name, f"screen is {width}x{height}", self.message)
        return None
