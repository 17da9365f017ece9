"""Who went away during a game, as the server saw it: the disconnection records.

A member of a started match is *away* when its websocket closed (``closed``: it said goodbye;
``network``: it did not), when its page came back reloaded (``reload``), or when a partner's
game paused waiting for it (``p2p``; ``network`` once the server too has heard nothing from it
for :data:`SILENT_S`). Each absence is one record (table ``disconnections``), closed when play
resumes (``resumed``, ``reload_resumed``) or the match ends (``left``, ``reconnect_timeout``,
``match_ended``). Pages report what their game did (pauses, frames); whether a member is gone
is decided here, from the websocket, never from who reports first.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

from igym_core.server.lobby.sessions import GameSession, Match
from igym_core.storage.store import Store

#: a member the server heard nothing from for this long (pages talk at least once a second
#: while they play: frames, relayed packets or pings) is lost too, even with its socket open
SILENT_S = 2.5

#: how each end reason closes the absence of the member it names
_OUTCOMES = {"partner_left": "left", "reconnect_timeout": "reconnect_timeout"}


@attrs.define
class Absence:
    record_id: str
    match_id: str
    scene_id: str
    participant_id: str
    kind: str
    started_at: float
    episode: int | None = None
    frame: int | None = None
    ended_at: float | None = None
    outcome: str | None = None
    pause_ms: float | None = None
    #: when a partner first reported waiting for this member
    reported_at: float | None = None

    def row(self) -> dict[str, object]:
        return attrs.asdict(self, filter=lambda a, _: a.name != "reported_at")


class Absences:
    """The open absences of every match, and their records in the store."""

    def __init__(
        self, store: Store, clock: Callable[[], float], last_heard: Callable[[str], float | None]
    ) -> None:
        """``last_heard(participant_id)`` is when the server last got a message from the
        participant's open websocket (None when none is open)."""
        self.store = store
        self.clock = clock
        self.last_heard = last_heard
        self._open: dict[str, dict[str, Absence]] = {}
        self._count = 0

    def lost(self, session: GameSession) -> bool:
        """Whether the server lost this member: its websocket closed, or is silent."""
        if session.offline_since is not None:
            return True
        heard = self.last_heard(session.participant_id)
        return heard is not None and self.clock() - heard >= SILENT_S

    def open_in(self, match: Match) -> list[Absence]:
        return list(self._open.get(match.match_id, {}).values())

    def went_away(self, match: Match, participant_id: str, kind: str) -> None:
        """The member's websocket closed (``closed`` after a goodbye, else ``network``)."""
        absence = self._open.get(match.match_id, {}).get(participant_id)
        if absence is None:
            self._start(match, participant_id, kind)
        elif absence.kind == "p2p":
            absence.kind = kind
            self._save(absence)

    def rejoined(self, match: Match, participant_id: str) -> None:
        """The member's page came back reloaded and rejoined the game."""
        absence = self._open.get(match.match_id, {}).get(participant_id)
        if absence is None:
            absence = self._start(match, participant_id, "reload")
        absence.kind = "reload"
        self._save(absence)

    def rejoining(self, match: Match, participant_id: str) -> bool:
        """Whether the member's page came back reloaded and is rebuilding its episode (its
        own game waits for its partners' echo: that is no absence of theirs)."""
        absence = self._open.get(match.match_id, {}).get(participant_id)
        return absence is not None and absence.kind == "reload"

    def reported(self, match: Match, participant_id: str, episode: int, frame: int) -> None:
        """A partner's game paused waiting for this member at ``frame`` of ``episode``."""
        absence = self._open.get(match.match_id, {}).get(participant_id)
        if absence is None:
            absence = self._start(match, participant_id, "p2p")
        if absence.reported_at is None:
            absence.reported_at = self.clock()
        if absence.episode is None:
            absence.episode, absence.frame = episode, frame
        self._save(absence)

    def resumed(self, match: Match, paused_ms: float | None) -> None:
        """A member's game went on: everyone is back."""
        now = self.clock()
        for absence in self._open.pop(match.match_id, {}).values():
            absence.outcome = "reload_resumed" if absence.kind == "reload" else "resumed"
            self._close(absence, now, paused_ms)

    def ended(self, match: Match, reason: str) -> None:
        """The match ended for ``reason``: the absence of the member it names (if any) ends
        with it, the others as ``match_ended``."""
        now = self.clock()
        head, _, who = reason.partition(":")
        for absence in self._open.pop(match.match_id, {}).values():
            named = absence.participant_id == who and head in _OUTCOMES
            absence.outcome = _OUTCOMES[head] if named else "match_ended"
            self._close(absence, now, None)

    def check(self, match: Match, members: list[GameSession]) -> None:
        """A member partners wait for that the server has lost too is away on the network."""
        for absence in self.open_in(match):
            if absence.kind != "p2p":
                continue
            session = next((s for s in members if s.participant_id == absence.participant_id), None)
            if session is not None and self.lost(session):
                absence.kind = "network"
                heard = self.last_heard(session.participant_id)
                if heard is not None and heard < absence.started_at:
                    absence.started_at = heard
                self._save(absence)

    def _start(self, match: Match, participant_id: str, kind: str) -> Absence:
        self._count += 1
        absence = Absence(
            f"{match.match_id}:{self._count}", match.match_id, match.scene_id, participant_id,
            kind, self.clock(),
        )  # fmt: skip
        self._open.setdefault(match.match_id, {})[participant_id] = absence
        self._save(absence)
        return absence

    def _close(self, absence: Absence, now: float, paused_ms: float | None) -> None:
        absence.ended_at = now
        absence.pause_ms = (
            round(paused_ms, 1)
            if paused_ms is not None
            else round((now - absence.started_at) * 1000, 1)
        )
        self._save(absence)

    def _save(self, absence: Absence) -> None:
        self.store.save_disconnection(absence.row())
