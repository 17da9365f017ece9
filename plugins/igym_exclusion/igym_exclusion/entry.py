"""Entry rules: checked once, before the first scene, on what the page reported and the server
measured (an :class:`igym_core.EntryContext`)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from igym_core import Exclusion, ExclusionRule

DEVICES = ("desktop", "mobile", "tablet")


def _names(values: list[str] | None, option: str) -> tuple[str, ...]:
    found = tuple(values or ())
    if not all(isinstance(v, str) and v.strip() for v in found):
        raise ValueError(f"{option} must be a list of non-empty names, got {values!r}")
    return tuple(v.strip().lower() for v in found)


class DeviceRule(ExclusionRule):
    """Lets in only the device types in ``allow`` (``"desktop"``, ``"mobile"``,
    ``"tablet"``; desktops and laptops by default), as :class:`igym_core.EntryContext` judges
    them: the user agent, the browser's own mobile hint and a touch screen."""

    name = "device"
    phase = "entry"
    message = "This study can only be done on a desktop or laptop computer."

    def __init__(self, *, allow: list[str] | None = None) -> None:
        self.allow = _names(allow or ["desktop"], "allow")
        unknown = [a for a in self.allow if a not in DEVICES]
        if unknown:
            raise ValueError(f"allow may hold {', '.join(DEVICES)}, not {', '.join(unknown)}")

    def check(self, context: Mapping[str, Any]) -> Exclusion | None:
        device = context.get("device") or "desktop"
        if device in self.allow:
            return None
        return Exclusion(self.name, f"device is {device}")


class BrowserRule(ExclusionRule):
    """Browsers by name and version, as ua-parser names them (``Chrome``, ``Firefox``,
    ``Safari``, ``Edge``, ``Mobile Safari``, ``Chrome Mobile``...; case does not matter).

    Options: ``allow`` (only these names; empty: any), ``block`` (never these; block wins
    over allow) and ``min_version`` (a name's lowest major version, e.g. ``{"Chrome": 110}``).
    A browser whose name the agent does not tell is let in only when ``allow`` is empty."""

    name = "browser"
    phase = "entry"
    message = (
        "This study cannot be done in this browser. Please use a recent Chrome, Edge or Firefox."
    )

    def __init__(
        self,
        *,
        allow: list[str] | None = None,
        block: list[str] | None = None,
        min_version: dict[str, int] | None = None,
    ) -> None:
        self.allow = _names(allow, "allow")
        self.block = _names(block, "block")
        self.min_version: dict[str, int] = {}
        for name, version in (min_version or {}).items():
            if not isinstance(version, int) or isinstance(version, bool) or version < 0:
                raise ValueError(f"min_version[{name!r}] must be a major version number")
            self.min_version[name.lower()] = version

    def check(self, context: Mapping[str, Any]) -> Exclusion | None:
        browser = (context.get("browser") or "").lower()
        major = context.get("browser_major")
        shown = context.get("browser") or "unknown"
        if browser in self.block:
            return Exclusion(self.name, f"browser {shown} is blocked")
        if self.allow and browser not in self.allow:
            return Exclusion(self.name, f"browser {shown} is not allowed")
        wanted = self.min_version.get(browser)
        if wanted is not None and (major is None or major < wanted):
            return Exclusion(self.name, f"browser {shown} {major} is older than {wanted}")
        return None


class OperatingSystemRule(ExclusionRule):
    """Operating systems by name, as ua-parser names them (``Windows``, ``Mac OS X``,
    ``Linux``, ``Chrome OS``, ``iOS``, ``Android``...): ``allow`` (only these; empty: any) and
    ``block`` (never these; block wins)."""

    name = "os"
    phase = "entry"
    message = "This study cannot be done on this operating system."

    def __init__(self, *, allow: list[str] | None = None, block: list[str] | None = None) -> None:
        self.allow = _names(allow, "allow")
        self.block = _names(block, "block")

    def check(self, context: Mapping[str, Any]) -> Exclusion | None:
        system = (context.get("os") or "").lower()
        shown = context.get("os") or "unknown"
        if system in self.block:
            return Exclusion(self.name, f"operating system {shown} is blocked")
        if self.allow and system not in self.allow:
            return Exclusion(self.name, f"operating system {shown} is not allowed")
        return None


class ScreenSizeRule(ExclusionRule):
    """Requires a screen of at least ``min_width`` x ``min_height`` CSS pixels (with
    ``window=True``, the browser window's inner size instead). A page that did not report its
    size is turned away."""

    name = "screen_size"
    phase = "entry"
    message = "This study needs a larger screen (a desktop or laptop computer)."

    def __init__(
        self, *, min_width: int = 800, min_height: int = 600, window: bool = False
    ) -> None:
        if min_width < 1 or min_height < 1:
            raise ValueError(f"the minimum screen must be positive, got {min_width}x{min_height}")
        self.min_width = min_width
        self.min_height = min_height
        self.window = window

    def check(self, context: Mapping[str, Any]) -> Exclusion | None:
        what = "window" if self.window else "screen"
        width = context.get(f"{what}_width")
        height = context.get(f"{what}_height")
        if not isinstance(width, int | float) or not isinstance(height, int | float):
            return Exclusion(self.name, f"{what} size not reported")
        if width < self.min_width or height < self.min_height:
            return Exclusion(self.name, f"{what} is {width}x{height}")
        return None


class PingRule(ExclusionRule):
    """Turns away participants whose websocket round trip to the server (the median of the
    pings the server measured at entry) is above ``max_ms``."""

    name = "ping"
    phase = "entry"
    message = "Your connection to our server is too slow for this study."

    def __init__(self, *, max_ms: float = 200.0) -> None:
        if max_ms <= 0:
            raise ValueError(f"max_ms must be positive, got {max_ms!r}")
        self.max_ms = float(max_ms)

    def check(self, context: Mapping[str, Any]) -> Exclusion | None:
        median = context.get("ping_median_ms")
        if median is None:
            return Exclusion(self.name, "ping not measured")
        if median > self.max_ms:
            return Exclusion(self.name, f"ping median {median:.0f} ms > {self.max_ms:g} ms")
        return None


class UrlParamsRule(ExclusionRule):
    """Requires the URL parameters in ``required`` (``PROLIFIC_PID`` by default) to be there
    and not empty: a participant who did not come from the platform is turned away."""

    name = "url_params"
    phase = "entry"
    message = "Please open this study from the link on the study platform."

    def __init__(self, *, required: list[str] | None = None) -> None:
        names = list(required) if required is not None else ["PROLIFIC_PID"]
        if not names or not all(isinstance(n, str) and n for n in names):
            raise ValueError(f"required must be a list of parameter names, got {required!r}")
        self.required = tuple(names)

    def check(self, context: Mapping[str, Any]) -> Exclusion | None:
        params = context.get("params") or {}
        missing = [n for n in self.required if not str(params.get(n, "")).strip()]
        if missing:
            return Exclusion(self.name, f"missing URL parameter {', '.join(missing)}")
        return None


class RepeatRule(ExclusionRule):
    """Turns away someone who already took part: an earlier participant of this study with the
    same platform id (``PROLIFIC_PID``, ``subject_id``...) whose status is in ``statuses``
    (``completed`` and ``excluded`` by default), or a platform id listed in ``ids_file`` (one
    id a line, e.g. the participants of an earlier study) found in the URL parameters
    ``params``."""

    name = "repeat"
    phase = "entry"
    message = "Our records show that you already took part in this study. Thank you!"

    def __init__(
        self,
        *,
        statuses: list[str] | None = None,
        ids_file: str | None = None,
        params: list[str] | None = None,
    ) -> None:
        self.statuses = tuple(statuses if statuses is not None else ["completed", "excluded"])
        self.params = tuple(params if params is not None else ["PROLIFIC_PID"])
        self.ids: frozenset[str] = frozenset()
        if ids_file is not None:
            path = Path(ids_file)
            if not path.is_file():
                raise ValueError(f"ids_file {ids_file!r} does not exist")
            lines = path.read_text(encoding="utf-8").splitlines()
            self.ids = frozenset(line.strip() for line in lines if line.strip())

    def check(self, context: Mapping[str, Any]) -> Exclusion | None:
        for earlier in context.get("previous") or ():
            if earlier.get("status") in self.statuses:
                return Exclusion(
                    self.name,
                    f"same {earlier.get('param')} as {earlier.get('participant_id')} "
                    f"({earlier.get('status')})",
                )
        params = context.get("params") or {}
        for name in self.params:
            if params.get(name) in self.ids:
                return Exclusion(self.name, f"{name} is in the list of earlier participants")
        return None
