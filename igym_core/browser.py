"""What a participant's browser is, from what its page reports: the user agent parsed by
`ua-parser` (browser, version, operating system, device model) and the device type judged from
it together with the page's own hints (``navigator.userAgentData.mobile``, a coarse pointer,
touch points). Used for the entry rules' context (:class:`igym_core.EntryContext`)."""

from __future__ import annotations

import functools
from typing import Any

import ua_parser

MOBILE_OS = frozenset({"iOS", "Android", "Windows Phone", "BlackBerry OS", "KaiOS", "Tizen"})


@functools.lru_cache(maxsize=1024)
def _parse(user_agent: str) -> ua_parser.Result:
    return ua_parser.parse(user_agent)


def warm_up() -> None:
    """Load ua-parser's rules now (the first parse takes a few hundred ms)."""
    _parse("Mozilla/5.0")


def describe(
    user_agent: str | None,
    *,
    mobile_hint: bool | None = None,
    touch: bool | None = None,
    max_touch_points: int | None = None,
) -> dict[str, Any]:
    """``browser``, ``browser_version``, ``browser_major``, ``os``, ``os_version``,
    ``device`` (desktop/mobile/tablet) and ``device_model`` for the entry context."""
    result = _parse(user_agent or "")
    agent, system, device = result.user_agent, result.os, result.device
    version = None
    major = None
    if agent is not None and agent.major:
        version = ".".join(p for p in (agent.major, agent.minor, agent.patch) if p)
        major = int(agent.major) if agent.major.isdigit() else None
    os_name = system.family if system is not None and system.family != "Other" else None
    os_version = None
    if system is not None and system.major:
        os_version = ".".join(p for p in (system.major, system.minor, system.patch) if p)
    model = device.family if device is not None and device.family != "Other" else None
    return {
        "browser": agent.family if agent is not None and agent.family != "Other" else None,
        "browser_version": version,
        "browser_major": major,
        "os": os_name,
        "os_version": os_version,
        "device": device_type(
            user_agent or "", os_name, model, mobile_hint, touch, max_touch_points
        ),
        "device_model": model,
    }


def device_type(
    user_agent: str,
    os_name: str | None,
    model: str | None,
    mobile_hint: bool | None,
    touch: bool | None,
    max_touch_points: int | None,
) -> str:
    """``"tablet"``, ``"mobile"`` or ``"desktop"``.

    A tablet: an iPad or a device ua-parser calls a tablet, an Android agent without "Mobile"
    (Android tablets leave it out), or a "Mac" with a touch screen (iPadOS asks for desktop
    sites by default). A mobile: a mobile operating system, "Mobi" in the agent, or the
    browser's own ``userAgentData.mobile``. Anything else is a desktop."""
    model_l = (model or "").lower()
    if "ipad" in model_l or "tablet" in model_l or "kindle" in model_l:
        return "tablet"
    if os_name == "Android" and "Mobile" not in user_agent:
        return "tablet"
    if os_name == "Mac OS X" and (max_touch_points or 0) > 1 and touch:
        return "tablet"
    if os_name in MOBILE_OS or "Mobi" in user_agent or mobile_hint:
        return "mobile"
    return "desktop"
