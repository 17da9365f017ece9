"""One state machine for a participant's game session, and the tracker that holds them all.

A participant who reaches a multiplayer game scene gets a :class:`GameSession` that moves
WAITING → MATCHED → VALIDATING → PLAYING → ENDED. A failed P2P validation (or a partner who
leaves before play) sends it back to WAITING. Every other move is refused with
:class:`TransitionError` and logged. :class:`Tracker` is the single source of truth: the waiting
room, the matches and who is where are all read from it, never kept elsewhere.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Iterator, Mapping
from typing import Any

import attrs

log = logging.getLogger("igym.lobby")


class Phase(enum.Enum):
    WAITING = "waiting"
    MATCHED = "matched"
    VALIDATING = "validating"
    PLAYING = "playing"
    ENDED = "ended"


TRANSITIONS: Mapping[Phase, frozenset[Phase]] = {
    Phase.WAITING: frozenset({Phase.MATCHED, Phase.ENDED}),
    Phase.MATCHED: frozenset({Phase.VALIDATING, Phase.WAITING, Phase.ENDED}),
    Phase.VALIDATING: frozenset({Phase.PLAYING, Phase.WAITING, Phase.ENDED}),
    Phase.PLAYING: frozenset({Phase.ENDED}),
    Phase.ENDED: frozenset(),
}


class TransitionError(Exception):
    """A move the session state machine does not allow."""


#: why a session may end by the server's decision (what the participant did not choose):
#: a game scene ended for one of these counts as done, its unplayed episodes kept as partial
SERVER_END_REASONS = (
    "partner_left",
    "connection_lost",
    "partner_excluded",
    "excluded",
    "waiting_timeout",
    "validation_timeout",
    "match_timeout",
    "reconnect_timeout",
    "ended_by_researcher",
    "excluded_by_researcher",
    "game_error",  # a server-mode game's environment raised
)


def ended_by_server(reason: str | None) -> bool:
    """Whether a session's end reason is one the server decided (see SERVER_END_REASONS)."""
    return reason is not None and reason.split(":", 1)[0] in SERVER_END_REASONS


@attrs.define
class GameSession:
    participant_id: str
    scene_id: str
    waiting_since: float
    attributes: Mapping[str, Any] = attrs.field(factory=dict)
    server_rtt_ms: float | None = None
    phase: Phase = Phase.WAITING
    match_id: str | None = None
    end_reason: str | None = None
    #: when the participant's websocket closed (None while connected)
    offline_since: float | None = None
    #: the page said goodbye before its socket closed (a closed tab, navigating away, a reload)
    said_bye: bool = False
    #: the participant page was requested again since the page last said hello: a reload (or
    #: a second tab) is on its way, so a goodbye is not a closed tab
    reload_requested: bool = False
    history: list[tuple[str, float, str]] = attrs.field(factory=list)

    def move(self, to: Phase, now: float, reason: str) -> None:
        if to not in TRANSITIONS[self.phase]:
            message = (
                f"session of {self.participant_id!r} in {self.scene_id!r} cannot go from "
                f"{self.phase.value} to {to.value} ({reason})"
            )
            log.warning("%s", message)
            raise TransitionError(message)
        self.history.append((to.value, now, reason))
        self.phase = to
        if to is Phase.WAITING:
            self.match_id = None
            self.waiting_since = now
        if to is Phase.ENDED:
            self.end_reason = reason


@attrs.define
class Match:
    match_id: str
    scene_id: str
    members: tuple[str, ...]
    agents: Mapping[str, tuple[str, ...]]
    matchmaker: str
    created_at: float
    probes: dict[str, tuple[bool, float | None]] = attrs.field(factory=dict)
    ended: str | None = None
    #: the game began (every probe passed): from then on a member who leaves ends the match
    started: bool = False
    #: what each member had forwarded by the server's relay, by sender:
    #: {"messages": n, "packets": n, "controls": n}
    relayed: dict[str, dict[str, int]] = attrs.field(factory=dict)
    #: when the match started to be played (None until every probe passed)
    started_at: float | None = None
    #: episodes whose parity was checked
    parity_checked: set[int] = attrs.field(factory=set)
    #: the generation of the peer connection between two members (0 until it is replaced)
    links: dict[frozenset[str], int] = attrs.field(factory=dict)
    #: pause reports received, per member (bounded by Limits.pause_reports)
    pause_reports: dict[str, int] = attrs.field(factory=dict)

    @property
    def aliases(self) -> dict[str, str]:
        """What the members call each other: ``peer<index>``, never a participant id (which
        may be a crowd-sourcing platform's id)."""
        return {pid: f"peer{i}" for i, pid in enumerate(self.members)}

    def member(self, alias: str) -> str | None:
        """The participant id behind an alias of this match, or None."""
        for pid, name in self.aliases.items():
            if name == alias:
                return pid
        return None


class Tracker:
    """Who is where, for every multiplayer scene of one server."""

    def __init__(self) -> None:
        self.sessions: dict[tuple[str, str], GameSession] = {}
        self.matches: dict[str, Match] = {}
        #: RTTs measured by P2P probes, per pair of participants
        self.pair_rtt: dict[frozenset[str], float] = {}
        #: pairs whose probe failed or was too slow: never matched together again
        self.failed_pairs: set[frozenset[str]] = set()

    def session(self, participant_id: str, scene_id: str) -> GameSession | None:
        return self.sessions.get((participant_id, scene_id))

    def add(self, session: GameSession) -> None:
        self.sessions[(session.participant_id, session.scene_id)] = session

    def waiting(self, scene_id: str) -> list[GameSession]:
        return sorted(
            (
                s
                for s in self.sessions.values()
                if s.scene_id == scene_id and s.phase is Phase.WAITING
            ),
            key=lambda s: (s.waiting_since, s.participant_id),
        )

    def members(self, match: Match) -> Iterator[GameSession]:
        for participant_id in match.members:
            session = self.sessions.get((participant_id, match.scene_id))
            if session is not None:
                yield session

    def active_of(self, participant_id: str) -> Iterator[GameSession]:
        for (pid, _), session in list(self.sessions.items()):
            if pid == participant_id and session.phase is not Phase.ENDED:
                yield session

    def avoided_by(self, participant_id: str) -> frozenset[str]:
        """Participants whose P2P check with ``participant_id`` failed."""
        return frozenset(
            other for pair in self.failed_pairs if participant_id in pair for other in pair
        ) - {participant_id}

    def pair_rtts(self, participant_id: str) -> dict[str, float]:
        """P2P RTTs measured between ``participant_id`` and others, by the other's id."""
        out = {}
        for pair, rtt in self.pair_rtt.items():
            if participant_id in pair:
                (other,) = pair - {participant_id}
                out[other] = rtt
        return out
