"""Entry screening: before the first scene, the server asks the page about its browser
(``screen`` → ``screening``), measures the websocket round trip itself (``probe_ping`` →
``probe_pong``, at least 5 times), and runs the experiment's entry rules on what it learnt (an
:class:`igym_core.EntryContext`). A participant who passes gets the first scene (and a
``screened`` event records what was seen); one who does not is excluded
(:mod:`igym_core.server.exclusion`) with the rule's message.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from igym_core import browser
from igym_core.rules import RuleBook, RuleFailure, Verdict, median
from igym_core.server.limits import Limits
from igym_core.server.pinger import Pinger
from igym_core.server.protocol import ProtocolError, ScreeningReport
from igym_core.storage.store import Participant, Store

log = logging.getLogger("igym.screening")

#: URL parameters that identify a person across participants (for ``previous``)
PERSON_PARAMS = ("PROLIFIC_PID", "subject_id", "workerId", "participant_id")
MAX_PREVIOUS = 20
_PIXELS = ("screen_width", "screen_height", "window_width", "window_height")


def check_report(report: ScreeningReport, limits: Limits, seq: int) -> None:
    """A report within ``Limits.report_*``, or a :class:`ProtocolError` naming the field."""
    if report.user_agent is not None and len(report.user_agent) > limits.report_chars:
        raise ProtocolError(
            "too_large", f"user_agent is longer than {limits.report_chars} characters", seq
        )
    for name in _PIXELS:
        value = getattr(report, name)
        if value is not None and not 0 <= value <= limits.report_pixels:
            raise ProtocolError("invalid", f"{name} must be 0..{limits.report_pixels}", seq)
    if report.max_touch_points is not None and not 0 <= report.max_touch_points <= 1000:
        raise ProtocolError("invalid", "max_touch_points must be 0..1000", seq)
    ratio = report.pixel_ratio
    if ratio is not None and not (0 < ratio <= 100):
        raise ProtocolError("invalid", "pixel_ratio must be in (0, 100]", seq)


def entry_context(
    participant: Participant,
    report: ScreeningReport | None,
    pings: list[float],
    previous: list[dict[str, str]],
) -> dict[str, Any]:
    """The :class:`igym_core.EntryContext` of a participant (not frozen yet)."""
    report = report or ScreeningReport()
    about = browser.describe(
        report.user_agent,
        mobile_hint=report.ua_mobile,
        touch=report.touch,
        max_touch_points=report.max_touch_points,
    )
    return {
        "participant_id": participant.participant_id,
        "params": dict(participant.params),
        "user_agent": report.user_agent,
        **about,
        "touch": report.touch,
        "max_touch_points": report.max_touch_points,
        "screen_width": report.screen_width,
        "screen_height": report.screen_height,
        "window_width": report.window_width,
        "window_height": report.window_height,
        "pixel_ratio": report.pixel_ratio,
        "ping_ms": tuple(round(p, 2) for p in pings),
        "ping_median_ms": None if not pings else round(median(pings) or 0.0, 2),
        "answers": {},
        "previous": tuple(previous),
    }


class Screening:
    """The entry rules of one experiment, run for each participant before the first scene."""

    def __init__(
        self,
        rules: RuleBook,
        store: Store,
        limits: Limits,
        on_error: Callable[[str, RuleFailure], None],
    ) -> None:
        self.rules = rules
        self.store = store
        self.limits = limits
        self.on_error = on_error

    @property
    def active(self) -> bool:
        return bool(self.rules.entry)

    async def judge(
        self, participant: Participant, pinger: Pinger, report: asyncio.Future[ScreeningReport]
    ) -> tuple[Verdict | None, dict[str, Any]]:
        """Measure, wait for the page's report, run every entry rule: the first exclusion (or
        None) and the context it was judged on."""
        limits = self.limits
        pings = [await pinger.ping(limits.ping_timeout_s) for _ in range(limits.screening_pings)]
        try:
            reported: ScreeningReport | None = await asyncio.wait_for(
                asyncio.shield(report), limits.screening_timeout_s
            )
        except TimeoutError:
            reported = None
        pid = participant.participant_id
        previous = await asyncio.to_thread(
            self.store.same_person, pid, participant.params, PERSON_PARAMS, MAX_PREVIOUS
        )
        context = await asyncio.to_thread(entry_context, participant, reported, pings, previous)
        verdict = await asyncio.to_thread(self._run, pid, context)
        return verdict, context

    def _run(self, participant_id: str, context: dict[str, Any]) -> Verdict | None:
        for rule in self.rules.entry:
            result = rule.run(context)
            if isinstance(result, RuleFailure):
                self.on_error(participant_id, result)
                result = rule.on_error(result)
            if result is not None and result.action == "exclude":
                return result
        return None


def screened_record(context: dict[str, Any]) -> dict[str, Any]:
    """What the ``screened`` event keeps of an entry context (no URL parameters again)."""
    keep = (
        "browser",
        "browser_version",
        "os",
        "os_version",
        "device",
        "device_model",
        "touch",
        "screen_width",
        "screen_height",
        "window_width",
        "window_height",
        "ping_median_ms",
    )
    return {k: context.get(k) for k in keep} | {"ping_ms": list(context.get("ping_ms", ()))}
