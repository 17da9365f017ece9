"""Study controls: open or closed to new participants, a cap, ending and excluding by hand.

:class:`StudyGate` answers the participant service's admission question on every hello (the
event loop; no I/O). Its state is rebuilt at start-up from the admin events in the store, so a
closed study stays closed after a restart. Every action here is stored as an ``admin:<action>``
event with the time (the participant's id for actions on one participant).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs

from igym_core.config import GameScene
from igym_core.server.lobby.sessions import Phase
from igym_core.server.protocol import ProtocolError
from igym_core.server.protocol_lobby import LobbyTimeout, MatchEnded
from igym_core.storage.store import Participant, Store

if TYPE_CHECKING:
    from igym_core.server.state import ServerState

log = logging.getLogger("igym.admin")

DEFAULT_FULL_MESSAGE = (
    "This study is full. Thank you for your interest! Please return it on the study platform "
    "so that someone else can take part."
)
EXCLUDED_MESSAGE = "Your participation in this study has ended. Thank you for your time."
ENDED_MESSAGE = "The researcher ended this game. Your data is saved; you can go on."
MAX_MESSAGE = 2000
MAX_REASON = 500
#: admin events that change the gate, replayed at start-up in order
GATE_KINDS = ("admin:open", "admin:close", "admin:cap", "admin:message")


class ActionError(ValueError):
    """An admin action that cannot be done (the message says why)."""


@attrs.define
class StudyGate:
    """Who may start the study now."""

    open: bool = True
    cap: int | None = None
    full_message: str = DEFAULT_FULL_MESSAGE
    #: participants in the store (counted once at start-up, then as the gate lets them in)
    participants: int = 0

    @classmethod
    def load(cls, store: Store) -> StudyGate:
        """The gate as the admin events in ``store`` left it."""
        gate = cls()
        gate.participants = int(store.rows("SELECT COUNT(*) FROM participants").fetchone()[0])
        kinds = ",".join(f"'{k}'" for k in GATE_KINDS)
        for row in store.rows(
            f"SELECT kind, data FROM events WHERE kind IN ({kinds}) ORDER BY event_id"
        ):
            gate.apply(row["kind"], _loads(row["data"]))
        return gate

    def apply(self, kind: str, data: dict[str, Any]) -> None:
        if kind == "admin:open":
            self.open = True
        elif kind == "admin:close":
            self.open = False
        elif kind == "admin:cap":
            cap = data.get("cap")
            self.cap = cap if isinstance(cap, int) and cap > 0 else None
        elif kind == "admin:message" and isinstance(data.get("full_message"), str):
            self.full_message = data["full_message"] or DEFAULT_FULL_MESSAGE

    @property
    def full(self) -> bool:
        return self.cap is not None and self.participants >= self.cap

    def admit(self, existing: Participant | None) -> ProtocolError | None:
        """None to let a hello through; a new participant takes a place under the cap."""
        if existing is not None:
            if existing.status == "excluded":
                return ProtocolError("excluded", EXCLUDED_MESSAGE)
            return None
        if not self.open or self.full:
            return ProtocolError("study_closed", self.full_message)
        self.participants += 1
        return None

    def view(self) -> dict[str, Any]:
        return {
            "open": self.open,
            "cap": self.cap,
            "full": self.full,
            "full_message": self.full_message,
            "participants": self.participants,
        }


class StudyActions:
    """The console's actions on a running server; each is stored as an admin event."""

    def __init__(
        self, state: ServerState, gate: StudyGate, clock: Callable[[], float] = time.time
    ) -> None:
        self.state = state
        self.gate = gate
        self.clock = clock

    async def record(
        self, kind: str, data: dict[str, Any], participant_id: str | None = None
    ) -> None:
        await self.state.store.add_event(participant_id, f"admin:{kind}", data, self.clock())

    async def set_open(self, is_open: bool) -> dict[str, Any]:
        kind = "open" if is_open else "close"
        self.gate.apply(f"admin:{kind}", {})
        await self.record(kind, {})
        log.info("admin: the study is now %s to new participants", "open" if is_open else "closed")
        return self.gate.view()

    async def set_cap(self, cap: Any) -> dict[str, Any]:
        if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int) or cap < 1):
            raise ActionError(
                "the cap must be a whole number of participants (1 or more), or empty"
            )
        self.gate.apply("admin:cap", {"cap": cap})
        await self.record("cap", {"cap": cap})
        return self.gate.view()

    async def set_message(self, text: Any) -> dict[str, Any]:
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_MESSAGE:
            raise ActionError(f"the message must be 1-{MAX_MESSAGE} characters")
        self.gate.apply("admin:message", {"full_message": text.strip()})
        await self.record("message", {"full_message": text.strip()})
        return self.gate.view()

    async def exclude(self, participant_id: str, reason: Any) -> dict[str, Any]:
        """Mark a participant excluded, as a rule would (:mod:`igym_core.server.exclusion`):
        their game ends (partners are told), their open page is told, a later visit is
        refused; data is kept."""
        reason = _reason(reason)
        participant = await self._participant(participant_id)
        if participant.status == "excluded":
            raise ActionError(f"participant {participant_id!r} is already excluded")
        ended = len(await self.state.lobby.active_of(participant_id))
        told = participant_id in await self.state.lobby.connected()
        await self.record(
            "exclude",
            {"reason": reason, "rule": "admin", "was": participant.status},
            participant_id,
        )
        done = await self.state.exclusions.exclude(
            participant_id,
            rule="admin",
            phase="admin",
            reason=reason,
            message=EXCLUDED_MESSAGE,
            end_reason="excluded_by_researcher",
        )
        if not done:
            raise ActionError(f"participant {participant_id!r} is already excluded")
        return {"participant_id": participant_id, "ended_games": ended, "page_told": told}

    async def end_session(self, participant_id: str, reason: Any) -> dict[str, Any]:
        """End a participant's game session (waiting room or match): the lobby does what it
        does when a member leaves, and the participant's page may go on to the next scene."""
        reason = _reason(reason, required=False)
        await self._participant(participant_id)
        lobby = self.state.lobby
        active = await lobby.active_of(participant_id)
        if not active:
            raise ActionError(f"participant {participant_id!r} has no game session to end")
        sessions = [(s.scene_id, s.match_id, s.phase) for s in active]
        await self.record(
            "end_session",
            {
                "reason": reason,
                "sessions": [
                    {"scene_id": s, "match_id": m, "phase": p.value} for s, m, p in sessions
                ],
            },
            participant_id,
        )
        ended = await lobby.end_sessions(participant_id, "ended_by_researcher")
        for scene_id, match_id, phase in sessions:
            scene = self.state.experiment.scene(scene_id)
            if match_id is not None and phase is not Phase.WAITING:
                message = MatchEnded(match_id, "ended_by_researcher", ENDED_MESSAGE)
            else:
                assert isinstance(scene, GameScene)
                message = LobbyTimeout(scene_id, ENDED_MESSAGE, None)
            await lobby.deliver(participant_id, message)
        return {"participant_id": participant_id, "ended_games": ended}

    async def _participant(self, participant_id: Any) -> Participant:
        if not isinstance(participant_id, str) or not participant_id:
            raise ActionError("name a participant")
        found = await asyncio.to_thread(self.state.store.participant, participant_id)
        if found is None:
            raise ActionError(f"there is no participant {participant_id[:80]!r}")
        return found


def _reason(reason: Any, required: bool = True) -> str:
    if reason is None and not required:
        return ""
    if not isinstance(reason, str) or (required and not reason.strip()) or len(reason) > MAX_REASON:
        raise ActionError(f"give a reason (1-{MAX_REASON} characters)")
    return reason.strip()


def _loads(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
