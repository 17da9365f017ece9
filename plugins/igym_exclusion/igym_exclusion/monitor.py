"""Continuous rules: checked every ``GameScene.monitor_interval_s`` during a game scene, on an
:class:`igym_core.GameContext`. Each warns first (a banner on the page) and excludes later."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from igym_core import Exclusion, ExclusionRule, RuleWarning


def _seconds(value: float, option: str) -> float:
    if value <= 0:
        raise ValueError(f"{option} must be a positive number of seconds, got {value!r}")
    return float(value)


class TabHiddenRule(ExclusionRule):
    """A page hidden (another tab, the window minimised) for ``warn_after_s`` is warned and
    for ``exclude_after_s`` excluded. With ``only_playing`` (the default) the waiting room and
    the pauses between episodes do not count. Hidden time is counted by the server, so it
    goes on while the browser freezes the tab."""

    name = "tab_hidden"
    phase = "continuous"
    message = (
        "You left the game for too long, so your participation has ended. Thank you for your time."
    )
    warning = "Please keep this tab open and in front while you play, or the study will end."

    def __init__(
        self,
        *,
        warn_after_s: float | None = 3.0,
        exclude_after_s: float = 10.0,
        only_playing: bool = True,
    ) -> None:
        self.exclude_after_ms = _seconds(exclude_after_s, "exclude_after_s") * 1000.0
        self.warn_after_ms = (
            None if warn_after_s is None else _seconds(warn_after_s, "warn_after_s") * 1000.0
        )
        if self.warn_after_ms is not None and self.warn_after_ms >= self.exclude_after_ms:
            raise ValueError("warn_after_s must be shorter than exclude_after_s")
        self.only_playing = only_playing

    def check(self, context: Mapping[str, Any]) -> Exclusion | RuleWarning | None:
        if self.only_playing and not context.get("playing"):
            return None
        hidden = float(context.get("hidden_ms") or 0.0)
        if hidden >= self.exclude_after_ms:
            return Exclusion(self.name, f"hidden for {hidden / 1000:.1f} s")
        if self.warn_after_ms is not None and hidden >= self.warn_after_ms:
            return RuleWarning(self.name, f"hidden for {hidden / 1000:.1f} s", self.warning)
        return None


class IdleRule(ExclusionRule):
    """A participant who pressed no key for ``warn_after_s`` of play is warned, and for
    ``exclude_after_s`` excluded (the countdown, the waiting room and pauses do not count)."""

    name = "idle"
    phase = "continuous"
    message = "You did not play for too long, so your participation has ended."
    warning = "Are you still there? Please keep playing, or the study will end."

    def __init__(self, *, warn_after_s: float | None = 15.0, exclude_after_s: float = 30.0) -> None:
        self.exclude_after_ms = _seconds(exclude_after_s, "exclude_after_s") * 1000.0
        self.warn_after_ms = (
            None if warn_after_s is None else _seconds(warn_after_s, "warn_after_s") * 1000.0
        )
        if self.warn_after_ms is not None and self.warn_after_ms >= self.exclude_after_ms:
            raise ValueError("warn_after_s must be shorter than exclude_after_s")

    def check(self, context: Mapping[str, Any]) -> Exclusion | RuleWarning | None:
        idle = float(context.get("idle_ms") or 0.0)
        if idle >= self.exclude_after_ms:
            return Exclusion(self.name, f"no input for {idle / 1000:.1f} s")
        if self.warn_after_ms is not None and idle >= self.warn_after_ms:
            return RuleWarning(self.name, f"no input for {idle / 1000:.1f} s", self.warning)
        return None


class HighPingRule(ExclusionRule):
    """Sustained high ping: of the last ``window`` round trips the server measured, when
    ``violations`` or more are above ``max_ms`` the participant is excluded (and warned from
    ``warn_violations`` on, when set)."""

    name = "high_ping"
    phase = "continuous"
    message = "Your connection became too slow for this study, so your participation has ended."
    warning = "Your connection is slow. Please close other programs that use the internet."

    def __init__(
        self,
        *,
        max_ms: float = 300.0,
        window: int = 5,
        violations: int = 3,
        warn_violations: int | None = None,
    ) -> None:
        if max_ms <= 0:
            raise ValueError(f"max_ms must be positive, got {max_ms!r}")
        if not 1 <= violations <= window:
            raise ValueError(f"violations must be 1..window ({window}), got {violations}")
        if warn_violations is not None and not 1 <= warn_violations < violations:
            raise ValueError("warn_violations must be 1..violations-1")
        self.max_ms = float(max_ms)
        self.window = window
        self.violations = violations
        self.warn_violations = warn_violations

    def check(self, context: Mapping[str, Any]) -> Exclusion | RuleWarning | None:
        recent = list(context.get("ping_ms") or ())[-self.window :]
        high = sum(1 for p in recent if p > self.max_ms)
        reason = f"{high} of the last {len(recent)} pings above {self.max_ms:g} ms"
        if high >= self.violations:
            return Exclusion(self.name, reason)
        if self.warn_violations is not None and high >= self.warn_violations:
            return RuleWarning(self.name, reason, self.warning)
        return None
