"""What the console keeps up to date incrementally: the events read so far, and the assignment
log read so far. Each refresh reads only what was appended since the last one, so the live view
costs the same at the end of a long study as at its start. Memory is bounded per participant
and per match; the problem list keeps the newest :data:`MAX_PROBLEMS`.

Used from the console's worker thread only.
"""

from __future__ import annotations

import json
from collections import Counter, OrderedDict, deque
from pathlib import Path
from typing import Any

import attrs

from igym_core.server.admin import queries
from igym_core.server.admin.classify import classify, problem_text, telemetry_samples

MAX_PROBLEMS = 500
MAX_SAMPLES = 600
MAX_ADMIN_ACTIONS = 200
MAX_DISCONNECTIONS = 200
EVENTS_PER_READ = 5000


@attrs.define
class Problem:
    key: tuple[str, str, str]
    kind: str
    label: str
    message: str
    participant_id: str | None
    first_at: float
    last_at: float
    match_id: str | None = None
    count: int = 1

    def view(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "label": self.label,
            "message": self.message,
            "participant_id": self.participant_id,
            "match_id": self.match_id,
            "first_at": self.first_at,
            "last_at": self.last_at,
            "count": self.count,
        }


@attrs.define
class ParticipantDigest:
    last_seen: float = 0.0
    flags: Counter[str] = attrs.field(factory=Counter)
    exclusion_rule: str | None = None
    disconnections: deque[float] = attrs.field(factory=lambda: deque(maxlen=MAX_DISCONNECTIONS))
    #: telemetry samples from events, by metric: (time, value)
    samples: dict[str, deque[tuple[float, float]]] = attrs.field(factory=dict)


class EventDigest:
    """The events table, read incrementally."""

    def __init__(self) -> None:
        self.cursor = 0
        self.people: dict[str, ParticipantDigest] = {}
        self.problems: OrderedDict[tuple[str, str, str], Problem] = OrderedDict()
        self.exclusions: Counter[str] = Counter()
        self.admin_actions: deque[dict[str, Any]] = deque(maxlen=MAX_ADMIN_ACTIONS)
        #: game sessions that ended, by (scene id, reason)
        self.session_ends: Counter[tuple[str, str]] = Counter()

    def person(self, participant_id: str) -> ParticipantDigest:
        found = self.people.get(participant_id)
        if found is None:
            found = self.people[participant_id] = ParticipantDigest()
        return found

    def read(self, db: queries.ReadDB) -> int:
        """Take in the events stored since the last read; returns how many."""
        total = 0
        while True:
            batch = queries.events_after(db, self.cursor, EVENTS_PER_READ)
            for event in batch:
                self.add(event)
            total += len(batch)
            if len(batch) < EVENTS_PER_READ:
                return total

    def add(self, event: dict[str, Any]) -> None:
        self.cursor = max(self.cursor, int(event["event_id"]))
        pid = event["participant_id"]
        kind = event["kind"]
        data = event["data"] if isinstance(event["data"], dict) else {}
        at = float(event["at"])
        meaning = classify(kind, data)
        if meaning.admin_action is not None:
            self.admin_actions.append(
                {"at": at, "action": meaning.admin_action, "participant_id": pid, "data": data}
            )
        if kind == "session_phase" and data.get("phase") == "ended":
            self.session_ends[(str(data.get("scene_id")), str(data.get("reason")))] += 1
        if pid is None:
            return
        person = self.person(pid)
        # admin actions on a participant say nothing about when they were last seen
        if meaning.admin_action is None:
            person.last_seen = max(person.last_seen, at)
        if meaning.flag:
            person.flags[meaning.flag] += 1
        if meaning.exclusion_rule is not None and person.exclusion_rule is None:
            person.exclusion_rule = meaning.exclusion_rule
            self.exclusions[meaning.exclusion_rule] += 1
        if meaning.disconnection:
            person.disconnections.append(at)
        for metric, value in telemetry_samples(kind, data).items():
            person.samples.setdefault(metric, deque(maxlen=MAX_SAMPLES)).append((at, value))
        if meaning.problem:
            self._problem(kind, meaning.problem, problem_text(kind, data), pid, at)

    def _problem(self, kind: str, label: str, message: str, pid: str, at: float) -> None:
        key = (kind, pid, message[:80])
        found = self.problems.pop(key, None)
        if found is None:
            found = Problem(key, kind, label, message, pid, at, at)
        else:
            found.count += 1
            found.last_at = at
        self.problems[key] = found  # the newest last
        while len(self.problems) > MAX_PROBLEMS:
            self.problems.popitem(last=False)

    def newest_problems(self, limit: int) -> list[dict[str, Any]]:
        out = sorted(self.problems.values(), key=lambda p: p.last_at, reverse=True)
        return [p.view() for p in out[:limit]]


class AssignmentLog:
    """The lobby's JSON Lines log, read incrementally: assignments, probes and ends."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.records = 0
        self.bad_lines = 0
        #: waited_s of every assignment, by scene
        self.waits: dict[str, list[float]] = {}
        self.by_match: dict[str, list[dict[str, Any]]] = {}

    def read(self) -> int:
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return 0
        if size < self.offset:  # replaced: start again
            self.__init__(self.path)  # type: ignore[misc]
        if size == self.offset:
            return 0
        with self.path.open("rb") as f:
            f.seek(self.offset)
            chunk = f.read(size - self.offset)
        end = chunk.rfind(b"\n") + 1  # a line still being written waits for the next read
        self.offset += end
        count = 0
        for line in chunk[:end].splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                self.bad_lines += 1
                continue
            if isinstance(record, dict):
                self.add(record)
                count += 1
        return count

    def add(self, record: dict[str, Any]) -> None:
        self.records += 1
        match_id = str(record.get("match_id", ""))
        self.by_match.setdefault(match_id, []).append(record)
        for member in record.get("participants") or ():
            waited = member.get("waited_s") if isinstance(member, dict) else None
            if isinstance(waited, int | float):
                self.waits.setdefault(str(record.get("scene_id")), []).append(float(waited))

    def probe_rtts(self, match_id: str) -> list[float]:
        out = []
        for record in self.by_match.get(match_id, ()):
            for result in (record.get("probe") or {}).values():
                rtt = result.get("rtt_ms") if isinstance(result, dict) else None
                if isinstance(rtt, int | float):
                    out.append(float(rtt))
        return out

    def tail(self, limit: int, offset: int = 0) -> list[dict[str, Any]]:
        """The newest records first (from every match), ``offset`` newest skipped."""
        flat = [r for records in self.by_match.values() for r in records]
        flat.sort(key=lambda r: r.get("at") or 0, reverse=True)
        return flat[offset : offset + limit]
