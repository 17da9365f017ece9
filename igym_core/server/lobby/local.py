"""The lobby of a study served by one process: the :class:`~igym_core.server.lobby.lobby.Lobby`
called directly, in memory.

:class:`LocalLobby` and :class:`~igym_core.server.lobby.shared.SharedLobby` (several processes,
through Redis) offer the same methods; the rest of the server uses only these.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from igym_core.config import GameScene
from igym_core.server.background import Background
from igym_core.server.lobby.lobby import Lobby
from igym_core.server.lobby.sessions import GameSession, Tracker
from igym_core.server.protocol import Ack, Error, Outgoing
from igym_core.server.protocol_lobby import PauseReport

log = logging.getLogger("igym.lobby")


class LocalLobby:
    def __init__(
        self,
        engine: Lobby,
        deliver: Callable[[str, Outgoing], None],
        end_connection: Callable[[str, Error], bool],
        connected: Callable[[], Iterable[str]],
    ) -> None:
        self.engine = engine
        self._deliver = deliver
        self._end_connection = end_connection
        self._connected = connected
        self._timer: asyncio.Task | None = None
        self._checks = Background("the parity check")

    @property
    def tracker(self) -> Tracker:
        return self.engine.tracker

    # -- what a participant's page asks -----------------------------------------------------------

    async def join(
        self,
        participant_id: str,
        scene: GameScene,
        attributes: Mapping[str, Any],
        server_rtt_ms: float | None,
        seq: int | None,
    ) -> list[Outgoing]:
        self.engine.join(participant_id, scene, attributes, server_rtt_ms)
        return [Ack(seq)]

    async def leave(
        self, participant_id: str, scene_id: str, reason: str, seq: int | None
    ) -> list[Outgoing]:
        self.engine.leave(participant_id, scene_id, reason)
        return [Ack(seq)]

    async def signal(
        self, participant_id: str, match_id: str, to: str, data: Mapping[str, Any]
    ) -> list[Outgoing]:
        self.engine.signal(participant_id, match_id, to, data)
        return []

    async def relay(
        self,
        participant_id: str,
        match_id: str,
        to: str,
        packets: Sequence[str],
        controls: Sequence[Mapping[str, Any]],
    ) -> list[Outgoing]:
        self.engine.relay(participant_id, match_id, to, packets, controls)
        return []

    async def probe(
        self, participant_id: str, match_id: str, ok: bool, rtt_ms: float | None, seq: int | None
    ) -> list[Outgoing]:
        self.engine.probe(participant_id, match_id, ok, rtt_ms)
        return [Ack(seq)]

    def finish(self, participant_id: str, scene_id: str) -> None:
        self.engine.finish(participant_id, scene_id)

    async def pause_report(self, participant_id: str, report: PauseReport) -> list[Outgoing]:
        self.engine.pause_report(participant_id, report)
        return [Ack(report.seq)]

    async def reconnect(
        self, participant_id: str, match_id: str, to: str, gen: int
    ) -> list[Outgoing]:
        self.engine.reconnect(participant_id, match_id, to, gen)
        return []

    def disconnected(self, participant_id: str, said_bye: bool = False) -> None:
        self.engine.disconnected(participant_id, said_bye)

    def reconnected(self, participant_id: str) -> None:
        self.engine.reconnected(participant_id)

    def page_requested(self, participant_id: str) -> None:
        self.engine.page_requested(participant_id)

    async def episode_closed(self, participant_id: str, scene: GameScene, episode: int) -> None:
        # after the page's ack, not before: its ack waits for its own write only
        self._checks.start(self.engine.episode_closed(participant_id, scene, episode))

    # -- what the researcher does ---------------------------------------------------------------

    async def exclude(
        self, participant_id: str, reason: str
    ) -> tuple[tuple[int, int] | None, list[str]]:
        """End the games of an excluded participant (see :meth:`Lobby.exclude`): the episode
        and frame a peer-to-peer game ends at and the partners whose game ended."""
        return self.engine.exclude(participant_id, reason)

    async def end_sessions(self, participant_id: str, reason: str) -> int:
        """End every game session the participant has (as if they left, for ``reason``)."""
        active = list(self.tracker.active_of(participant_id))
        if active:
            self.engine.leave(participant_id, None, reason)
        return len(active)

    async def deliver(self, participant_id: str, message: Outgoing) -> None:
        """A message for the participant's open page, wherever it is connected."""
        self._deliver(participant_id, message)

    async def end_connection(self, participant_id: str, error: Error) -> bool:
        """Tell the participant's open page why it can go no further (False: none is open)."""
        return self._end_connection(participant_id, error)

    # -- what is known ----------------------------------------------------------------------------

    async def session(self, participant_id: str, scene_id: str) -> GameSession | None:
        return self.tracker.session(participant_id, scene_id)

    async def active_of(self, participant_id: str) -> list[GameSession]:
        return list(self.tracker.active_of(participant_id))

    async def sessions(self) -> list[GameSession]:
        return list(self.tracker.sessions.values())

    async def connected(self) -> frozenset[str]:
        """Who has a page open now."""
        return frozenset(self._connected())

    async def match_of(self, participant_id: str, scene_id: str) -> str | None:
        return self.engine.match_of(participant_id, scene_id)

    def known_match(self, participant_id: str, scene_id: str) -> str | None:
        """The participant's match, as this process knows it now (no I/O)."""
        return self.engine.match_of(participant_id, scene_id)

    # -- running ----------------------------------------------------------------------------------

    async def start(self) -> None:
        # four times a second: a closed tab is announced to its partners within GOODBYE_GRACE_S
        # and a tick
        self._timer = asyncio.ensure_future(self._expire_every(0.25))

    async def stop(self, finish_s: float = 5.0) -> None:
        """Stop expiring; finish the parity checks under way (at most ``finish_s``)."""
        if self._timer is not None:
            self._timer.cancel()
        await self._checks.finish(finish_s)

    async def _expire_every(self, seconds: float) -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                self.engine.expire()
            except Exception:
                log.exception("the lobby's expiry failed")
