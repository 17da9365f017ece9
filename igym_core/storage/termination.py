"""How an episode or a match ended, read from the records the server kept: the columns of
``episodes`` (``termination.*``, ``telemetry.*``) and ``matches`` the exporters write.

Whoever left is the server's decision, made once (``matches.end_reason``: ``partner_left:<id>``
when a member closed its page or navigated away, ``reconnect_timeout:<id>`` when a member's
connection was lost and not back in time, ...); every member's episodes say the same.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = ["match_outcome", "quantiles", "termination"]

#: end reasons that name the member they are about, and what they mean for that member and for
#: the others
_NAMED = {
    "partner_left": ("left", "partner_left"),
    "reconnect_timeout": ("reconnect_timeout", "reconnect_timeout"),
    "excluded": ("excluded", "partner_excluded"),
    "excluded_by_researcher": ("excluded", "partner_excluded"),
}


def termination(
    participant_id: str,
    episode: Mapping[str, Any],
    end_reason: str | None,
    records: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """The ``termination`` of one member's episode.

    ``reason``: ``completed``; ``reload_resumed`` (completed, after this member's page was
    reloaded and rebuilt it); ``left`` / ``partner_left`` (a member closed its page),
    ``reconnect_timeout``, ``excluded`` / ``partner_excluded``, ``connection_lost``, or the
    episode's own reason. ``disconnected`` is who ended it, ``at`` (server time) and ``frame``
    when and where that member went away; ``disconnections`` counts every member's
    disconnections during the episode, ``reconnection_attempts`` and ``pause_ms`` are what this
    member's page reported (peer-connection repairs, time the game stood paused).
    ``records`` are the match's disconnection records."""
    episode_no = episode.get("episode")
    during = [r for r in records if r.get("episode") in (episode_no, None)]
    summary = episode.get("summary") or {}
    reason: str | None
    who: str | None = None
    if episode.get("status") == "complete":
        reloaded = any(
            r["participant_id"] == participant_id and r.get("outcome") == "reload_resumed"
            for r in during
        )
        reason = "reload_resumed" if reloaded else "completed"
    else:
        why = end_reason or episode.get("reason") or episode.get("status")
        head, _, named = str(why).partition(":")
        if head in _NAMED and named:
            who = named
            mine, theirs = _NAMED[head]
            reason = mine if named == participant_id else theirs
        else:
            reason = head or None
    ending = _ending(during, who)
    return {
        "reason": reason,
        "disconnected": who,
        "at": ending.get("started_at") if ending else None,
        "frame": ending.get("frame") if ending else None,
        "disconnections": len(during),
        "reconnection_attempts": _number(summary.get("p2p_repairs")),
        "pause_ms": _number(summary.get("paused_ms")),
    }


def match_outcome(match: Mapping[str, Any], records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Per-match columns: who left (``left``), how many disconnections and reloads the match
    had, how long its members stood paused in all (as the server saw it), and the episode and
    frame at which the one who ended it went away."""
    head, _, named = str(match.get("end_reason") or "").partition(":")
    who = named if head in _NAMED and named else None
    ending = _ending(records, who)
    return {
        "left": who,
        "disconnections": len(records),
        "reloads": sum(1 for r in records if r.get("kind") == "reload"),
        "pause_ms": round(sum(r.get("pause_ms") or 0.0 for r in records), 1),
        "ended_episode": ending.get("episode") if ending else None,
        "ended_frame": ending.get("frame") if ending else None,
    }


def _ending(records: Sequence[Mapping[str, Any]], who: str | None) -> Mapping[str, Any] | None:
    """The record of ``who`` going away for good: the last one that did not end in a resume
    (an earlier outage or reload of the same member came back)."""
    if who is None:
        return None
    mine = [r for r in records if r["participant_id"] == who]
    gone = [r for r in mine if r.get("outcome") not in ("resumed", "reload_resumed")]
    return (gone or mine or [None])[-1]


def quantiles(values: Iterable[float]) -> dict[str, float] | None:
    """p50, p95 (nearest rank) and max of ``values``; None when there are none."""
    ordered = sorted(values)
    if not ordered:
        return None

    def rank(q: float) -> float:
        return ordered[max(0, min(len(ordered) - 1, int(q * len(ordered) + 0.5) - 1))]

    return {"p50": rank(0.5), "p95": rank(0.95), "max": ordered[-1]}


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
