"""What a stored event means for the console: a problem to look at, a flag on a participant, an
exclusion, a disconnection, a telemetry sample or an admin action.

This is the one place that knows event kinds. Kinds it does not know are still classified by
their name (``...error``, ``...crash``, ``...desync``, ``...timeout``, ``...exclu...``), so the
records later work adds (rule errors, exclusions, reconnect timeouts) show up without changes
here; give them a label in :data:`LABELS` when they get one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import attrs

#: Problems and flags by event kind: (flag, label). ``None`` as flag: no flag.
LABELS: Mapping[str, tuple[str, str]] = {
    "client:game_error": ("browser_error", "browser error"),
    "client:p2p_desync": ("desync", "desync detected by the peers"),
    "client:p2p_failed": ("p2p_failed", "peer-to-peer connection failed"),
    "client:p2p_probe_failed": ("p2p_failed", "peer-to-peer check failed"),
    "client:p2p_disconnected": ("disconnected", "partner connection lost"),
    "client:partner_closed": ("partner_left", "partner closed the game"),
    "invalid_transition": ("server_error", "invalid session transition (server)"),
    "frame_conflict": ("frame_conflict", "a frame was sent again with other contents"),
    "connection_closed": ("connection_closed", "the server closed the page's connection"),
    "reconnect_timeout": ("disconnected", "reconnect timeout"),
    "client:reconnect_timeout": ("disconnected", "partner did not come back in time"),
    "client:p2p_repair_failed": ("p2p_failed", "peer connection could not be repaired"),
    "client:p2p_rebuild_failed": ("browser_error", "a reloaded page could not rebuild its game"),
    "rule_error": ("rule_error", "exclusion rule raised an error"),
}

#: Kinds that only flag a participant (not a problem on the dashboard).
FLAGS_ONLY: Mapping[str, str] = {
    "bad_message": "refused_messages",
    "client:p2p_interrupted": "partner_silent",
    "client:p2p_paused": "paused",
    "client:p2p_repaired": "p2p_repaired",
    "client:p2p_rejoined": "reloaded",
}

#: flag-only kinds that count as a disconnection (the game paused waiting for a partner)
DISCONNECTIONS = frozenset({"client:p2p_interrupted", "client:p2p_paused"})

#: Client kinds whose payload carries telemetry samples (numeric fields ending in ``_ms`` or
#: listed in :data:`TELEMETRY_FIELDS`).
TELEMETRY_KINDS = frozenset(
    {"client:p2p_health", "client:p2p_repaired", "client:telemetry", "telemetry"}
)
TELEMETRY_FIELDS = frozenset({"rtt_ms", "rollbacks", "stalls", "relayed"})

#: Episode summary fields drawn as per-episode telemetry, by the metric they feed.
SUMMARY_METRICS: Mapping[str, tuple[str, ...]] = {
    "rtt_ms": ("p2p_p2p_rtt_ms", "rtt_ms", "probe_rtt_ms"),
    "rollbacks": ("p2p_rollbacks", "rollbacks"),
    "stalls": ("p2p_stalls", "stalls"),
    "latency_p50_ms": ("latency_p50_ms",),
    "latency_p95_ms": ("latency_p95_ms",),
    "relayed": ("relayed_out",),
    "paused_ms": ("paused_ms",),
}

_PROBLEM_NAME = re.compile(r"error|crash|desync|mismatch|timeout|fail", re.IGNORECASE)
_EXCLUSION_NAME = re.compile(r"exclu", re.IGNORECASE)
#: session phases that end a game session badly: (flag, label)
_ENDINGS: Mapping[str, tuple[str, str]] = {
    "disconnected": ("disconnected", "left a game: offline past the grace time"),
    "waiting_timeout": ("waiting_timeout", "no partner found in time"),
    "left": ("left", "left a game: closed the page or navigated away"),
    "reconnect_timeout": ("disconnected", "reconnect timeout: a member did not come back"),
}

ADMIN_PREFIX = "admin:"


@attrs.frozen
class Meaning:
    """What one event says; every part may be empty."""

    flag: str | None = None
    #: a problem's label (None: not a problem)
    problem: str | None = None
    #: the exclusion rule, when the event records an exclusion
    exclusion_rule: str | None = None
    disconnection: bool = False
    admin_action: str | None = None


def classify(kind: str, data: Mapping[str, Any]) -> Meaning:
    """The meaning of an event of ``kind`` with payload ``data``."""
    if kind.startswith(ADMIN_PREFIX):
        action = kind[len(ADMIN_PREFIX) :]
        if action == "exclude":
            return Meaning("excluded", None, "admin (by hand)", admin_action=action)
        return Meaning(admin_action=action)
    if kind == "session_phase":
        if data.get("phase") != "ended":
            return Meaning()
        reason = str(data.get("reason", ""))
        if reason.startswith("partner_left"):
            return Meaning("partner_left")
        flag, label = _ENDINGS.get(reason.split(":", 1)[0], (None, None))
        return Meaning(
            flag, label if flag == "disconnected" else None, None, flag == "disconnected"
        )
    if kind in FLAGS_ONLY:
        return Meaning(FLAGS_ONLY[kind], disconnection=kind in DISCONNECTIONS)
    if _EXCLUSION_NAME.search(kind) and not kind.startswith("client:"):
        rule = data.get("rule") or data.get("rule_name") or "unknown rule"
        return Meaning("excluded", None, str(rule)[:100])
    if kind in LABELS:
        flag, label = LABELS[kind]
        return Meaning(flag, label, disconnection=flag == "disconnected")
    if _PROBLEM_NAME.search(kind):
        return Meaning(_flag_name(kind), kind.removeprefix("client:").replace("_", " "))
    return Meaning()


def problem_text(kind: str, data: Mapping[str, Any]) -> str:
    """A short human description of a problem event's payload."""
    for key in ("message", "error", "reason", "code"):
        value = data.get(key)
        if isinstance(value, str) and value:
            return value[:300]
    return ", ".join(f"{k}={v}" for k, v in list(data.items())[:4])[:300]


def telemetry_samples(kind: str, data: Mapping[str, Any]) -> dict[str, float]:
    """Numeric telemetry in an event's payload, by metric."""
    if kind not in TELEMETRY_KINDS:
        return {}
    metric = data.get("metric")
    if isinstance(metric, str) and _number(data.get("value")) is not None:
        return {metric[:64]: float(data["value"])}
    out = {}
    for key, value in data.items():
        if (key.endswith("_ms") or key in TELEMETRY_FIELDS) and _number(value) is not None:
            out[key[:64]] = float(value)
    return out


def summary_samples(summary: Mapping[str, Any]) -> dict[str, float]:
    """Per-episode telemetry in an episode summary, by metric (first field present wins)."""
    out = {}
    for metric, fields in SUMMARY_METRICS.items():
        for name in fields:
            value = _number(summary.get(name))
            if value is not None:
                out[metric] = value
                break
    return out


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if value == value else None


def _flag_name(kind: str) -> str:
    return re.sub(r"[^a-z0-9_]", "_", kind.removeprefix("client:").lower())[:40]
