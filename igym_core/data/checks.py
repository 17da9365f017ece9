"""``igym validate --data``: is a whole study's data what a researcher can analyse?

Every check reads the rows themselves, never a verdict stored earlier:

- every episode's frames are numbered ``0 … n-1``, each once (no gap, no duplicate);
- a ``complete`` episode has exactly ``max_steps`` frames, or fewer ending in a
  terminated/truncated frame, and as many as its row says;
- every match's members uploaded identical canonical frames (all but the per-page timestamps
  ``t``) for every episode they both closed; the first difference is named;
- every excluded participant has an exclusion with a reason.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

import attrs

from igym_core.config import Experiment, GameScene
from igym_core.data.tables import StudyTables
from igym_core.server.lobby.parity import first_difference

#: problems listed per kind before "and N more"
SHOWN_PER_KIND = 20


@attrs.define
class Problem:
    kind: str  # gap | duplicate | frame_count | not_ended | parity | exclusion
    where: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind:11} {self.where}: {self.detail}"


@attrs.define
class StudyReport:
    summary: dict[str, Any]
    problems: list[Problem]

    def text(self) -> str:
        s = self.summary
        lines = [
            f"participants  {s['participants']} ({_counts(s['participant_status'])})",
            f"episodes      {s['episodes']} ({_counts(s['episode_status'])})",
            f"frames        {s['frames']}",
            f"matches       {s['matches']}; episodes compared {s['compared']}: "
            f"{s['identical']} identical, {s['mismatch']} mismatch",
            f"exclusions    {s['excluded']} excluded participants",
        ]
        if not self.problems:
            lines.append("no problems")
            return "\n".join(lines)
        by_kind: dict[str, list[Problem]] = defaultdict(list)
        for problem in self.problems:
            by_kind[problem.kind].append(problem)
        lines.append(f"{len(self.problems)} problems:")
        for kind in sorted(by_kind):
            found = by_kind[kind]
            lines.extend(f"  {p}" for p in found[:SHOWN_PER_KIND])
            if len(found) > SHOWN_PER_KIND:
                lines.append(f"  … and {len(found) - SHOWN_PER_KIND} more {kind} problems")
        return "\n".join(lines)


def _counts(counter: Mapping[str, int]) -> str:
    return ", ".join(f"{n} {k}" for k, n in sorted(counter.items())) or "none"


def check_study(study: StudyTables, experiment: Experiment | None = None) -> StudyReport:
    """Check a study; ``experiment`` tells each game scene's ``max_steps``."""
    problems: list[Problem] = []
    max_steps = {
        s.id: s.max_steps
        for s in (experiment.scenes if experiment else ())
        if isinstance(s, GameScene)
    }
    frames: dict[tuple[str, str, int], list[dict[str, Any]]] = defaultdict(list)
    for row in study["frames"]:
        frames[(row["participant_id"], row["scene_id"], int(row["episode"]))].append(row)
    for rows in frames.values():
        rows.sort(key=lambda r: int(r["frame"]))

    episodes = study["episodes"]
    for episode in episodes:
        key = (episode["participant_id"], episode["scene_id"], int(episode["episode"]))
        where = f"{key[0]} {key[1]} episode {key[2]}"
        problems.extend(_frame_problems(where, frames.get(key, []), episode, max_steps.get(key[1])))

    compared, identical, mismatch = _parity(study, frames, problems)

    participants = study["participants"]
    excluded = [p["participant_id"] for p in participants if p.get("status") == "excluded"]
    reasons = _exclusion_reasons(study)
    for pid in excluded:
        if not reasons.get(pid):
            problems.append(Problem("exclusion", pid, "excluded, but no exclusion with a reason"))

    summary = {
        "participants": len(participants),
        "participant_status": _tally(p.get("status") for p in participants),
        "episodes": len(episodes),
        "episode_status": _tally(e.get("status") for e in episodes),
        "frames": sum(len(r) for r in frames.values()),
        "matches": len(study["matches"]),
        "compared": compared,
        "identical": identical,
        "mismatch": mismatch,
        "excluded": len(excluded),
    }
    return StudyReport(summary, problems)


def _tally(values: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[str(v)] = out.get(str(v), 0) + 1
    return out


def _frame_problems(
    where: str, rows: list[dict[str, Any]], episode: Mapping[str, Any], max_steps: int | None
) -> list[Problem]:
    found: list[Problem] = []
    seen: set[int] = set()
    doubled: set[int] = set()
    for row in rows:
        number = int(row["frame"])
        (doubled if number in seen else seen).add(number)
    doubles = sorted(doubled)
    if doubles:
        found.append(
            Problem("duplicate", where, f"frames {_ranges(doubles)} stored more than once")
        )
    present = sorted(seen)
    top = present[-1] + 1 if present else 0
    gaps = sorted(set(range(top)) - seen)
    if gaps:
        found.append(Problem("gap", where, f"frames {_ranges(gaps)} missing"))
    if episode.get("status") != "complete":
        return found
    count = len(present)
    expected = episode.get("frames")
    if expected is not None and int(expected) != count:
        found.append(
            Problem("frame_count", where, f"the episode row says {expected} frames, {count} stored")
        )
    if max_steps is not None and count != max_steps:
        last = rows[-1] if rows else {}
        if not (_true(last.get("terminated")) or _true(last.get("truncated"))):
            found.append(
                Problem(
                    "not_ended",
                    where,
                    f"complete with {count} of {max_steps} frames and the last does not end it",
                )
            )
    return found


def _true(value: Any) -> bool:
    return value is True or value == "True" or value == "true"


def _ranges(numbers: list[int]) -> str:
    """``[1, 2, 3, 7]`` → ``"1-3, 7"`` (the first ten runs)."""
    runs: list[list[int]] = []
    for n in numbers:
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    parts = [str(a) if a == b else f"{a}-{b}" for a, b in runs]
    return ", ".join(parts[:10]) + (" …" if len(parts) > 10 else "")


def _parity(
    study: StudyTables,
    frames: Mapping[tuple[str, str, int], list[dict[str, Any]]],
    problems: list[Problem],
) -> tuple[int, int, int]:
    closed = {
        (e["participant_id"], e["scene_id"], int(e["episode"]))
        for e in study["episodes"]
        if e.get("status") in ("complete", "partial")
    }
    episodes_of: dict[tuple[str, str], set[int]] = defaultdict(set)
    for pid, scene, episode in closed:
        episodes_of[(pid, scene)].add(episode)
    compared = identical = mismatch = 0
    for match in study["matches"]:
        members = list(match.get("members") or [])
        scene = match["scene_id"]
        if len(members) < 2 or match.get("status") == "requeued":
            continue
        shared = set.intersection(*(episodes_of.get((m, scene), set()) for m in members))
        for episode in sorted(shared):
            compared += 1
            logs = {m: frames.get((m, scene, episode), []) for m in members}
            difference = first_difference(
                {m: [_canonical(r) for r in rows] for m, rows in logs.items()}
            )
            if difference is None:
                identical += 1
                continue
            mismatch += 1
            at = difference.get("frame", difference.get("index"))
            problems.append(
                Problem(
                    "parity",
                    f"match {match['match_id']} episode {episode}",
                    f"members differ at frame {at} ({difference.get('column') or difference.get('reason')})",
                )
            )
    return compared, identical, mismatch


def _canonical(row: Mapping[str, Any]) -> dict[str, Any]:
    """A frame row as its members must agree on it: no ids, no per-page timestamps."""
    return {
        k: v
        for k, v in row.items()
        if k not in ("participant_id", "scene_id", "episode", "t") and not k.startswith("t.")
    }


def _exclusion_reasons(study: StudyTables) -> dict[str, str]:
    reasons: dict[str, str] = {}
    for row in study["exclusions"] if "exclusions" in study.tables else []:
        if row.get("reason"):
            reasons[row["participant_id"]] = str(row["reason"])
    for event in study["events"]:
        kind = str(event.get("kind", ""))
        data = event.get("data") or {}
        if "exclu" in kind and isinstance(data, Mapping) and data.get("reason"):
            reasons.setdefault(event["participant_id"], str(data["reason"]))
    return reasons
