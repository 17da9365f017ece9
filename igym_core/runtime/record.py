"""Canonical records (identical on every peer) kept apart from speculative metadata.

A :class:`CanonicalLog` holds one row per *settled* frame of one episode — a frame whose inputs
from every peer were known when it was (re)simulated for the last time. Rows are appended in
frame order and never rewritten: a rollback only ever touches speculative frames, which are not
in the log. It is what gets exported, and all peers of a match produce byte-identical logs
(:meth:`CanonicalLog.canonical_bytes`).

:class:`SpeculativeMeta` is the per-peer story of how the log came to be (rollbacks and their
depths, stalls, replays). It differs between peers and is exported as telemetry, never compared.

:func:`validation_export` and :func:`first_difference` compare the logs of all peers of a match.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from igym_core.runtime.hashing import canonical_bytes, normalize

__all__ = [
    "CanonicalLog",
    "FrameRecord",
    "RecordError",
    "SpeculativeMeta",
    "first_difference",
    "validation_export",
]


_ROW_ENCODER = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
)


class RecordError(RuntimeError):
    """Something tried to rewrite, skip or extend a canonical log out of order."""


class FrameRecord(NamedTuple):
    """One settled frame: what every agent did and what came of it.

    ``actions``, ``focused`` and ``rewards`` are in agent order. ``focused`` is each agent's
    controlling peer's focus flag at the time the input was sampled (``None`` for AI seats).
    ``state_hash`` is the hex hash of the state *after* this frame, present every
    ``hash_interval`` frames and on the last frame of the episode.
    """

    frame: int
    actions: tuple[int, ...]
    focused: tuple[bool | None, ...]
    rewards: tuple[float, ...]
    terminated: bool
    truncated: bool
    infos: Any
    state_hash: str | None

    def as_dict(self, agent_ids: Sequence[str]) -> dict[str, Any]:
        """The row as plain data, keyed by agent id."""
        return {
            "frame": self.frame,
            "actions": dict(zip(agent_ids, self.actions, strict=True)),
            "focused": dict(zip(agent_ids, self.focused, strict=True)),
            "rewards": dict(zip(agent_ids, self.rewards, strict=True)),
            "terminated": self.terminated,
            "truncated": self.truncated,
            "infos": normalize(self.infos, "infos"),
            "state_hash": self.state_hash,
        }


class CanonicalLog:
    """The confirmed frames of one episode, append-only, in frame order."""

    __slots__ = ("agent_ids", "end_frame", "episode", "final_hash", "initial_hash", "rows")

    def __init__(self, agent_ids: Sequence[str], episode: int = 0) -> None:
        self.agent_ids = tuple(agent_ids)
        self.episode = episode
        self.rows: list[FrameRecord] = []
        self.initial_hash: str | None = None
        self.end_frame: int | None = None
        self.final_hash: str | None = None

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def next_frame(self) -> int:
        """The frame the next appended row must have."""
        return len(self.rows)

    @property
    def is_final(self) -> bool:
        """Whether the episode is complete: every frame up to its end is in the log."""
        return self.end_frame is not None and len(self.rows) == self.end_frame

    def append(self, record: FrameRecord) -> None:
        """Add the next settled frame. Raises :class:`RecordError` for any other frame, for a
        row after the episode's end, or for a row of the wrong width."""
        if self.end_frame is not None:
            raise RecordError(f"episode ended at frame {self.end_frame}; cannot add more")
        if record.frame != len(self.rows):
            raise RecordError(
                f"canonical rows go in order: expected frame {len(self.rows)}, got {record.frame}"
            )
        if len(record.actions) != len(self.agent_ids):
            raise RecordError(
                f"row has {len(record.actions)} actions for {len(self.agent_ids)} agents"
            )
        self.rows.append(record)

    def finish(self, end_frame: int, final_hash: str) -> None:
        """Mark the episode complete after ``end_frame`` frames (all of them in the log)."""
        if end_frame != len(self.rows):
            raise RecordError(f"episode cannot end at frame {end_frame} with {len(self.rows)} rows")
        if self.end_frame is not None and self.end_frame != end_frame:
            raise RecordError(f"episode already ended at frame {self.end_frame}")
        self.end_frame = end_frame
        self.final_hash = final_hash

    def to_dicts(self) -> list[dict[str, Any]]:
        """Every row as plain data (what exporters write)."""
        ids = self.agent_ids
        return [row.as_dict(ids) for row in self.rows]

    def header(self) -> dict[str, Any]:
        """Episode-level fields: agents, episode, end frame, initial and final hashes."""
        return {
            "agent_ids": list(self.agent_ids),
            "episode": self.episode,
            "end_frame": self.end_frame,
            "initial_hash": self.initial_hash,
            "final_hash": self.final_hash,
        }

    def validation(self) -> dict[str, Any]:
        """This log's part of the validation export: the header and, per frame, the confirmed
        actions, focus and state hash (where one was taken)."""
        return {
            **self.header(),
            "frames": [
                {
                    "frame": r.frame,
                    "actions": list(r.actions),
                    "focused": list(r.focused),
                    "state_hash": r.state_hash,
                }
                for r in self.rows
            ],
        }

    def canonical_bytes(self) -> bytes:
        """The whole log as canonical JSON lines (header first): identical bytes on every peer."""
        lines = [canonical_bytes(self.header())]
        # rows are plain already (as_dict normalizes the infos), so dump them directly
        dump = _ROW_ENCODER.encode
        lines.extend(dump(row).encode("ascii") for row in self.to_dicts())
        return b"\n".join(lines) + b"\n"


class SpeculativeMeta:
    """Per-peer telemetry of the speculative side: rollbacks, replays, stalls, waits.

    ``rollbacks`` lists ``(at_frame, to_frame)``: the session was at ``at_frame`` and went back to
    ``to_frame`` (depth ``at_frame - to_frame``).
    """

    __slots__ = ("focus_changes", "rollbacks", "stalls", "steps", "waits")

    def __init__(self) -> None:
        self.rollbacks: list[tuple[int, int]] = []
        self.steps = 0
        self.stalls = 0
        self.waits: list[tuple[int, int]] = []
        self.focus_changes: list[tuple[int, bool]] = []

    @property
    def max_depth(self) -> int:
        """The deepest rollback (0 if none)."""
        return max((a - b for a, b in self.rollbacks), default=0)

    def as_dict(self) -> dict[str, Any]:
        """Plain data for telemetry exports."""
        depths: dict[str, int] = {}
        for at, to in self.rollbacks:
            key = str(at - to)
            depths[key] = depths.get(key, 0) + 1
        return {
            "rollbacks": len(self.rollbacks),
            "max_rollback_depth": self.max_depth,
            "rollback_depths": depths,
            "steps": self.steps,
            "stalls": self.stalls,
            "waits": [list(w) for w in self.waits],
            "focus_changes": [list(c) for c in self.focus_changes],
        }


def first_difference(logs: Mapping[Any, CanonicalLog]) -> int | None:
    """The first frame at which the peers' logs differ (``None`` when they are identical).

    A missing row counts as a difference at that frame; a header difference (end frame, initial
    or final hash) with identical rows is reported at the end frame.
    """
    items = list(logs.values())
    if len(items) < 2:
        return None
    longest = max(len(log) for log in items)
    for frame in range(longest):
        rows = [log.rows[frame] if frame < len(log) else None for log in items]
        first = rows[0]
        if any(r != first for r in rows[1:]):
            return frame
    first_header = items[0].header()
    if any(log.header() != first_header for log in items[1:]):
        return longest
    return None


def validation_export(logs: Mapping[Any, CanonicalLog]) -> dict[str, Any]:
    """The post-game validation document (plain data, write it as JSON): every peer's confirmed
    actions and hashes per frame, plus the first difference between peers."""
    peers = {}
    for peer, log in sorted(logs.items(), key=lambda kv: str(kv[0])):
        peers[str(peer)] = log.validation()
    diff = first_difference(logs)
    return {"peers": peers, "identical": diff is None, "first_difference": diff}
