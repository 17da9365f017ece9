"""The console's pages as plain data: the dashboard, the lists, one participant, one match.

Each function takes the read connection, the digests and a :class:`LiveView` (what the server
holds in memory, copied on the event loop) and returns JSON-ready dicts. They run on the
console's worker thread. Participant-typed values are passed through as data; the page inserts
them as text.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from igym_core.config import EndScene, Experiment, GameScene
from igym_core.server.admin import queries
from igym_core.server.admin.classify import classify, summary_samples
from igym_core.server.admin.digest import AssignmentLog, EventDigest, ParticipantDigest

#: offline this long (and not finished) counts as dropped
DROPPED_AFTER_S = 120.0
PLATFORM_PARAMS = ("PROLIFIC_PID", "STUDY_ID", "SESSION_ID", "subject_id")
#: the match window for members' events: a little before creation and after the last update
WINDOW_SLACK_S = 5.0


@attrs.frozen
class SessionView:
    participant_id: str
    scene_id: str
    phase: str
    waiting_since: float
    match_id: str | None
    offline_since: float | None


@attrs.frozen
class LiveView:
    """What the running server holds in memory, copied on the event loop."""

    now: float
    live: frozenset[str] = frozenset()
    sessions: tuple[SessionView, ...] = ()

    def by_participant(self) -> dict[tuple[str, str], SessionView]:
        return {(s.participant_id, s.scene_id): s for s in self.sessions}


@attrs.frozen
class Context:
    db: queries.ReadDB
    events: EventDigest
    log: AssignmentLog
    experiment: Experiment
    live: LiveView


def quantile(xs: Sequence[float], q: float) -> float | None:
    """Nearest-rank quantile (as the page's telemetry computes them); None without samples."""
    if not xs:
        return None
    ordered = sorted(xs)
    rank = min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))
    return round(ordered[rank], 3)


def scene_kind(scene: Any) -> str:
    if isinstance(scene, GameScene):
        return "multiplayer" if scene.multiplayer else "game"
    return "end" if isinstance(scene, EndScene) else "static"


def platform_ids(params: Mapping[str, Any]) -> dict[str, str]:
    return {k: str(params[k]) for k in PLATFORM_PARAMS if params.get(k)}


def state_of(
    row: Mapping[str, Any],
    person: ParticipantDigest | None,
    experiment: Experiment,
    live: LiveView,
    sessions: Mapping[tuple[str, str], SessionView],
) -> str:
    """active | waiting | playing | completed | excluded | dropped."""
    pid = row["participant_id"]
    if row["status"] == "completed":
        return "completed"
    if row["status"] == "excluded" or (person is not None and person.exclusion_rule):
        return "excluded"
    index = min(int(row["scene_index"]), len(experiment.scenes) - 1)
    scene = experiment.scenes[index]
    session = sessions.get((pid, scene.id))
    if session is not None and session.phase != "ended":
        return "playing" if session.phase == "playing" else "waiting"
    if pid in live.live:
        if isinstance(scene, GameScene) and not scene.multiplayer:
            return "playing"
        return "active"
    last = max(row["updated_at"], row["created_at"], person.last_seen if person else 0.0)
    return "active" if live.now - last < DROPPED_AFTER_S else "dropped"


def last_seen(row: Mapping[str, Any], person: ParticipantDigest | None, live: LiveView) -> float:
    if row["participant_id"] in live.live:
        return live.now
    return max(row["updated_at"], row["created_at"], person.last_seen if person else 0.0)


# -- dashboard ----------------------------------------------------------------------------------


def dashboard(ctx: Context) -> dict[str, Any]:
    exp, live, events = ctx.experiment, ctx.live, ctx.events
    sessions = live.by_participant()
    rows = queries.participants(ctx.db, params=False)
    counts = dict.fromkeys(("active", "waiting", "playing", "completed", "excluded", "dropped"), 0)
    at_scene: dict[int, int] = {}
    for row in rows:
        state = state_of(row, events.people.get(row["participant_id"]), exp, live, sessions)
        counts[state] += 1
        if state in ("active", "waiting", "playing"):
            at_scene[row["scene_index"]] = at_scene.get(row["scene_index"], 0) + 1
    total = len(rows)
    durations: dict[str, list[float]] = {}
    reached: dict[str, int] = {}
    for scene_id, started, finished in queries.scene_times(ctx.db):
        reached[scene_id] = reached.get(scene_id, 0) + 1
        if finished is not None:
            durations.setdefault(scene_id, []).append(max(0.0, finished - started))
    scenes = []
    for index, scene in enumerate(exp.scenes):
        times = durations.get(scene.id, [])
        scenes.append(
            {
                "id": scene.id,
                "index": index,
                "kind": scene_kind(scene),
                "here_now": at_scene.get(index, 0),
                "reached": reached.get(scene.id, 0),
                "finished": len(times),
                "median_s": quantile(times, 0.5),
                "p90_s": quantile(times, 0.9),
            }
        )
    waiting_room = []
    for scene in exp.scenes:
        if not (isinstance(scene, GameScene) and scene.multiplayer):
            continue
        waiting = [s for s in live.sessions if s.scene_id == scene.id and s.phase == "waiting"]
        waits = ctx.log.waits.get(scene.id, [])
        waiting_room.append(
            {
                "scene_id": scene.id,
                "waiting_now": len(waiting),
                "longest_now_s": round(
                    max((live.now - s.waiting_since for s in waiting), default=0), 1
                ),
                "assigned": len(waits),
                "wait_median_s": quantile(waits, 0.5),
                "wait_p90_s": quantile(waits, 0.9),
                "wait_max_s": max(waits) if waits else None,
                "timeouts": events.session_ends.get((scene.id, "waiting_timeout"), 0),
            }
        )
    match_counts = queries.count_by(ctx.db, "matches", "status")
    problems = _parity_problems(ctx.db) + events.newest_problems(100)
    problems.sort(key=lambda p: p["last_at"], reverse=True)
    return {
        "experiment": {"id": exp.id, "title": exp.title},
        "now": live.now,
        "counts": {"total": total, **counts},
        "completion_rate": round(counts["completed"] / total, 4) if total else None,
        "dropped_after_s": DROPPED_AFTER_S,
        "scenes": scenes,
        "waiting_room": waiting_room,
        "matches": {
            "running": match_counts.get("matched", 0) + match_counts.get("playing", 0),
            "finished": match_counts.get("ended", 0),
            "requeued": match_counts.get("requeued", 0),
            "total": sum(match_counts.values()),
        },
        "parity": queries.count_by(ctx.db, "parity", "status"),
        "exclusions": {"by_rule": dict(events.exclusions), "total": counts["excluded"]},
        "problems": problems[:100],
        "problem_count": len(events.problems)
        + sum(1 for p in problems if p["kind"] == "parity_mismatch"),
        "admin_actions": list(events.admin_actions)[-20:][::-1],
    }


def _parity_problems(db: queries.ReadDB) -> list[dict[str, Any]]:
    out = []
    for row in queries.mismatches(db, 100):
        difference = row["first_difference"] or {}
        frame = difference.get("frame") if isinstance(difference, dict) else None
        out.append(
            {
                "kind": "parity_mismatch",
                "label": "parity mismatch",
                "message": f"episode {row['episode']}: the members' logs differ"
                + (f" from frame {frame}" if frame is not None else ""),
                "participant_id": None,
                "match_id": row["match_id"],
                "first_at": row["checked_at"],
                "last_at": row["checked_at"],
                "count": 1,
            }
        )
    return out


# -- lists --------------------------------------------------------------------------------------


def participant_list(ctx: Context) -> list[dict[str, Any]]:
    exp, live, events = ctx.experiment, ctx.live, ctx.events
    sessions = live.by_participant()
    out = []
    for row in queries.participants(ctx.db):
        pid = row["participant_id"]
        person = events.people.get(pid)
        index = min(int(row["scene_index"]), len(exp.scenes) - 1)
        out.append(
            {
                "participant_id": pid,
                "platform": platform_ids(row["params"]),
                "scene_id": exp.scenes[index].id,
                "scene_index": index,
                "state": state_of(row, person, exp, live, sessions),
                "status": row["status"],
                "online": pid in live.live,
                "created_at": row["created_at"],
                "last_seen": last_seen(row, person, live),
                "flags": dict(person.flags) if person else {},
                "exclusion_rule": person.exclusion_rule if person else None,
            }
        )
    return out


def match_list(ctx: Context) -> list[dict[str, Any]]:
    rows = queries.matches(ctx.db)
    scenes = {r["scene_id"] for r in rows}
    episodes = queries.episodes(ctx.db, sorted(scenes)) if scenes else []
    parity = queries.parity_rows(ctx.db)
    return [match_summary(ctx, m, episodes, parity) for m in reversed(rows)]


def match_summary(
    ctx: Context,
    match: Mapping[str, Any],
    episodes: Iterable[Mapping[str, Any]],
    parity: Iterable[Mapping[str, Any]],
) -> dict[str, Any]:
    """A match with its P2P health: RTT p50/p95, rollbacks per minute, stalls, the share of
    packets relayed by the server, disconnections and parity."""
    members = list(match["members"])
    played = match["status"] in ("playing", "ended")
    mine = [
        e
        for e in episodes
        if played and e["scene_id"] == match["scene_id"] and e["participant_id"] in members
    ]
    # (a store may hold scenes an edited experiment file no longer has)
    scene = next((s for s in ctx.experiment.scenes if s.id == match["scene_id"]), None)
    fps = scene.fps if isinstance(scene, GameScene) else 30
    rtts = ctx.log.probe_rtts(match["match_id"])
    rollbacks = stalls = relayed = sent = 0.0
    minutes = 0.0
    for e in mine:
        s = e["summary"]
        samples = summary_samples(s)
        if "rtt_ms" in samples:
            rtts.append(samples["rtt_ms"])
        rollbacks += samples.get("rollbacks", 0.0)
        stalls += samples.get("stalls", 0.0)
        relayed += samples.get("relayed", 0.0)
        sent += float(s.get("p2p_packets_sent") or 0)
        minutes += (e["frames"] or 0) / fps / 60
    start, end = _window(match)
    disconnections = 0
    for pid in members:
        person = ctx.events.people.get(pid)
        if person is None:
            continue
        disconnections += sum(1 for t in person.disconnections if start <= t <= end)
        for t, v in person.samples.get("rtt_ms", ()):
            if start <= t <= end:
                rtts.append(v)
    verdicts: dict[str, int] = {}
    for p in parity:
        if p["match_id"] == match["match_id"]:
            verdicts[p["status"]] = verdicts.get(p["status"], 0) + 1
    return {
        **{k: match[k] for k in ("match_id", "scene_id", "matchmaker", "status", "end_reason")},
        "members": members,
        "created_at": match["created_at"],
        "updated_at": match["updated_at"],
        "health": {
            "rtt_p50_ms": quantile(rtts, 0.5),
            "rtt_p95_ms": quantile(rtts, 0.95),
            "rtt_samples": len(rtts),
            # per member: summed over members and divided by the members' summed play time
            "rollbacks_per_min": round(rollbacks / minutes, 2) if minutes else None,
            "stalls": int(stalls),
            "relayed_share": round(relayed / sent, 4) if sent else None,
            "disconnections": disconnections,
            "episodes": len({e["episode"] for e in mine}),
            "parity": verdicts,
        },
    }


def _window(match: Mapping[str, Any]) -> tuple[float, float]:
    end = match["updated_at"] if match["status"] in ("ended", "requeued") else math.inf
    return match["created_at"] - WINDOW_SLACK_S, end + WINDOW_SLACK_S


# -- one participant ----------------------------------------------------------------------------


def participant_detail(ctx: Context, participant_id: str) -> dict[str, Any] | None:
    row = queries.participant(ctx.db, participant_id)
    if row is None:
        return None
    exp, live = ctx.experiment, ctx.live
    person = ctx.events.people.get(participant_id)
    sessions = {k: v for k, v in live.by_participant().items() if k[0] == participant_id}
    progress = queries.progress_of(ctx.db, participant_id)
    responses = queries.responses_of(ctx.db, participant_id)
    scenes = []
    for p in progress:
        duration = (
            None if p["finished_at"] is None else round(p["finished_at"] - p["started_at"], 3)
        )
        scenes.append({**p, "duration_s": duration, "responses": responses.get(p["scene_id"], {})})
    episodes = [episode_view(e) for e in queries.episodes(ctx.db, participant_ids=[participant_id])]
    timeline, total = queries.events_of(ctx.db, [participant_id])
    timeline = [_timeline_item(e) for e in timeline]
    errors = [e for e in timeline if e["problem"]]
    index = min(int(row["scene_index"]), len(exp.scenes) - 1)
    return {
        "participant_id": participant_id,
        "platform": platform_ids(row["params"]),
        "params": row["params"],
        "status": row["status"],
        "state": state_of(row, person, exp, live, sessions),
        "online": participant_id in live.live,
        "scene_id": exp.scenes[index].id,
        "scene_index": index,
        "created_at": row["created_at"],
        "last_seen": last_seen(row, person, live),
        "flags": dict(person.flags) if person else {},
        "game_sessions": [attrs.asdict(s) for s in sessions.values()],
        "scenes": scenes,
        "episodes": episodes,
        "exclusions": _exclusions(ctx, participant_id, timeline),
        "problems": errors,
        "timeline": timeline,
        "timeline_total": total,
        "matches": [
            {
                k: m[k]
                for k in ("match_id", "scene_id", "status", "end_reason", "created_at", "members")
            }
            for m in queries.matches_of(ctx.db, participant_id)
        ],
        "series": series(ctx, [participant_id], episodes),
    }


def episode_view(e: Mapping[str, Any]) -> dict[str, Any]:
    s = e["summary"]
    reason = e.get("reason") or next(
        (s[k] for k in ("termination_reason", "ended", "reason", "error") if s.get(k)), None
    )
    return {
        **{k: e[k] for k in ("participant_id", "scene_id", "episode", "seed", "status", "frames")},
        "started_at": e["started_at"],
        "ended_at": e["ended_at"],
        "reason": reason,
        "score": s.get("score"),
        "summary": s,
    }


def _timeline_item(event: Mapping[str, Any]) -> dict[str, Any]:
    meaning = classify(event["kind"], event["data"])
    return {
        "event_id": event["event_id"],
        "participant_id": event["participant_id"],
        "kind": event["kind"],
        "at": event["at"],
        "data": event["data"],
        "problem": meaning.problem,
        "flag": meaning.flag,
    }


def _exclusions(ctx: Context, participant_id: str, timeline: list[dict[str, Any]]) -> list[dict]:
    """The participant's exclusion: the ``exclusions`` row; the events that record one only for
    a store without the row (an exclusion stored before the table existed)."""
    rows = queries.exclusion_rows(ctx.db, participant_id)
    if rows:
        return rows
    return [
        {
            "at": e["at"],
            "kind": e["kind"],
            **{
                k: v
                for k, v in e["data"].items()
                if k in ("rule", "reason", "scene_id", "episode", "frame", "message")
            },
        }
        for e in timeline
        if classify(e["kind"], e["data"]).exclusion_rule is not None
    ]


def series(
    ctx: Context,
    participant_ids: Sequence[str],
    episodes: Iterable[Mapping[str, Any]],
    window: tuple[float, float] = (-math.inf, math.inf),
) -> dict[str, dict[str, list[list[float]]]]:
    """Telemetry time series by metric and participant: ``[[time, value], ...]``, oldest first.

    From three sources: samples in events (``client:p2p_health`` RTTs today), episode summaries
    (RTT, rollbacks, stalls, latency, relayed, at each episode's end) and a ``telemetry`` table
    when the store has one.
    """
    start, end = window
    out: dict[str, dict[str, list[list[float]]]] = {}

    def add(metric: str, pid: str, t: float, v: float) -> None:
        if start <= t <= end:
            out.setdefault(metric, {}).setdefault(pid, []).append([round(t, 3), v])

    for pid in participant_ids:
        person = ctx.events.people.get(pid)
        for metric, samples in person.samples.items() if person else ():
            for t, v in samples:
                add(metric, pid, t, v)
    for e in episodes:
        if e.get("ended_at") is None:
            continue
        for metric, value in summary_samples(e["summary"]).items():
            add(metric, e["participant_id"], e["ended_at"], value)
    for r in queries.telemetry_rows(ctx.db, list(participant_ids)):
        value = _sample_value(r["value"])
        if value is not None:
            add(str(r["metric"]), r["participant_id"], float(r["t"]), value)
    for metrics in out.values():
        for points in metrics.values():
            points.sort()
    return out


def _sample_value(value: Any) -> float | None:
    """A telemetry value as a number (the store keeps values as JSON text); a text value such
    as a candidate type, or a missing one, is no point on a chart."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


# -- one match ----------------------------------------------------------------------------------


def match_detail(ctx: Context, match_id: str) -> dict[str, Any] | None:
    rows = queries.matches(ctx.db, match_id)
    if not rows:
        return None
    match = rows[0]
    members = list(match["members"])
    episodes = queries.episodes(ctx.db, [match["scene_id"]], members)
    parity = queries.parity_rows(ctx.db, [match_id])
    summary = match_summary(ctx, match, episodes, parity)
    played = match["status"] in ("playing", "ended")
    window = _window(match)
    timeline, total = queries.events_of(ctx.db, members)
    timeline = [_timeline_item(e) for e in timeline if window[0] <= e["at"] <= window[1]]
    people = []
    for pid in members:
        row = queries.participant(ctx.db, pid)
        person = ctx.events.people.get(pid)
        people.append(
            {
                "participant_id": pid,
                "state": state_of(row, person, ctx.experiment, ctx.live, ctx.live.by_participant())
                if row
                else "unknown",
                "platform": platform_ids(row["params"]) if row else {},
                "online": pid in ctx.live.live,
            }
        )
    views = [episode_view(e) for e in episodes] if played else []
    return {
        **summary,
        "members": people,
        "assignment_log": ctx.log.by_match.get(match_id, []),
        "parity": parity,
        "episodes": views,
        "timeline": timeline,
        "timeline_total": total,
        "series": series(ctx, members, views, window),
    }
