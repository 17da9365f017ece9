"""The lobby's state as text, entity by entity: what the leader of a shared lobby writes to Redis
after each batch of commands and what the next leader reads back (``igym_core.server.lobby.
shared``).

A session is keyed ``participant_id|scene_id``, a match by its id, a pair of participants by
their two ids joined with ``|`` (sorted). :class:`Mirror` remembers what was written last, so a
commit writes only what changed; a session or match that ended never changes again and is not
encoded again.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import attrs

from igym_core.jsontext import sorted_text
from igym_core.server.lobby.sessions import GameSession, Match, Phase, Tracker


def session_key(participant_id: str, scene_id: str) -> str:
    return f"{participant_id}|{scene_id}"


def pair_key(pair: frozenset[str]) -> str:
    return "|".join(sorted(pair))


#: the leader encodes every changed record at each commit
_dumps = sorted_text


def encode_session(s: GameSession) -> str:
    return _dumps(
        {
            "participant_id": s.participant_id,
            "scene_id": s.scene_id,
            "waiting_since": s.waiting_since,
            "attributes": dict(s.attributes),
            "server_rtt_ms": s.server_rtt_ms,
            "phase": s.phase.value,
            "match_id": s.match_id,
            "end_reason": s.end_reason,
            "offline_since": s.offline_since,
            "said_bye": s.said_bye,
            "reload_requested": s.reload_requested,
            "history": [list(h) for h in s.history],
        }
    )


def decode_session(text: str | bytes) -> GameSession:
    d = json.loads(text)
    return GameSession(
        participant_id=d["participant_id"],
        scene_id=d["scene_id"],
        waiting_since=d["waiting_since"],
        attributes=d["attributes"],
        server_rtt_ms=d["server_rtt_ms"],
        phase=Phase(d["phase"]),
        match_id=d["match_id"],
        end_reason=d["end_reason"],
        offline_since=d["offline_since"],
        said_bye=d.get("said_bye", False),
        reload_requested=d.get("reload_requested", False),
        history=[(h[0], h[1], h[2]) for h in d["history"]],
    )


def encode_match(m: Match) -> str:
    return _dumps(
        {
            "match_id": m.match_id,
            "scene_id": m.scene_id,
            "members": list(m.members),
            "agents": {p: list(a) for p, a in m.agents.items()},
            "matchmaker": m.matchmaker,
            "created_at": m.created_at,
            "probes": {p: [ok, rtt] for p, (ok, rtt) in m.probes.items()},
            "ended": m.ended,
            "started": m.started,
            "relayed": m.relayed,
            "started_at": m.started_at,
            "parity_checked": sorted(m.parity_checked),
            "links": {pair_key(p): g for p, g in m.links.items()},
            "pause_reports": m.pause_reports,
        }
    )


def decode_match(text: str | bytes) -> Match:
    d = json.loads(text)
    return Match(
        match_id=d["match_id"],
        scene_id=d["scene_id"],
        members=tuple(d["members"]),
        agents={p: tuple(a) for p, a in d["agents"].items()},
        matchmaker=d["matchmaker"],
        created_at=d["created_at"],
        probes={p: (v[0], v[1]) for p, v in d["probes"].items()},
        ended=d["ended"],
        started=d["started"],
        relayed=d["relayed"],
        started_at=d["started_at"],
        parity_checked=set(d["parity_checked"]),
        links={frozenset(k.split("|")): g for k, g in d.get("links", {}).items()},
        pause_reports=d.get("pause_reports", {}),
    )


def encode_pair(rtt: float | None, failed: bool) -> str:
    return _dumps({"rtt": rtt, "failed": failed})


def load_tracker(
    sessions: Mapping[Any, Any], matches: Mapping[Any, Any], pairs: Mapping[Any, Any]
) -> Tracker:
    """A tracker from the three hashes' contents."""
    tracker = Tracker()
    for text in sessions.values():
        tracker.add(decode_session(text))
    for text in matches.values():
        match = decode_match(text)
        tracker.matches[match.match_id] = match
    for key, text in pairs.items():
        pair = frozenset((key.decode() if isinstance(key, bytes) else key).split("|"))
        d = json.loads(text)
        if d["rtt"] is not None:
            tracker.pair_rtt[pair] = d["rtt"]
        if d["failed"]:
            tracker.failed_pairs.add(pair)
    return tracker


@attrs.define
class Changes:
    sessions: dict[str, str] = attrs.field(factory=dict)
    matches: dict[str, str] = attrs.field(factory=dict)
    pairs: dict[str, str] = attrs.field(factory=dict)

    def __bool__(self) -> bool:
        return bool(self.sessions or self.matches or self.pairs)


class Mirror:
    """What the leader last wrote, to write only the difference."""

    def __init__(self, tracker: Tracker) -> None:
        self._written: dict[str, str] = {}
        self._final: set[str] = set()
        self.changes(tracker)  # what was loaded is what is written

    def changes(self, tracker: Tracker, matches_only: tuple[str, ...] | None = None) -> Changes:
        """What differs from the last call. ``matches_only``: look at these matches and
        nothing else (a relay counts packets on its match only)."""
        out = Changes()
        if matches_only is None:
            for (pid, scene_id), session in tracker.sessions.items():
                self._diff("s:" + session_key(pid, scene_id), session, out.sessions)
            for match_id, match in tracker.matches.items():
                self._diff("m:" + match_id, match, out.matches)
            pairs = set(tracker.pair_rtt) | tracker.failed_pairs
            for pair in pairs:
                key = pair_key(pair)
                text = encode_pair(tracker.pair_rtt.get(pair), pair in tracker.failed_pairs)
                if self._written.get("p:" + key) != text:
                    self._written["p:" + key] = text
                    out.pairs[key] = text
        else:
            for match_id in matches_only:
                match = tracker.matches.get(match_id)
                if match is not None:
                    self._diff("m:" + match_id, match, out.matches)
        return out

    def _diff(self, key: str, entity: GameSession | Match, into: dict[str, str]) -> None:
        if key in self._final:
            return
        text = encode_session(entity) if isinstance(entity, GameSession) else encode_match(entity)
        if self._written.get(key) != text:
            self._written[key] = text
            into[key[2:]] = text
        ended = entity.phase is Phase.ENDED if isinstance(entity, GameSession) else entity.ended
        if ended:
            self._final.add(key)
            self._written.pop(key, None)
