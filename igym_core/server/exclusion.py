"""Excluding a participant: the one way it is done, whether an entry rule, a monitoring rule or
the researcher (admin console) decided it.

:meth:`Exclusions.exclude` stores the exclusion (the ``exclusions`` row and the status
``excluded``, atomically) and an ``excluded`` event, ends the participant's game (in a match:
for every member, on the same frame: :func:`igym_core.server.lobby.lobby.end_of`; partners see
``GameScene.partner_excluded_message`` and go on), tells the open page (an ``excluded`` message
with that frame: its game plays on to it behind the message, then the page sends what it
recorded), and closes the scene's open episodes as partial a little later (``excluded``), once
the page had the time to send its last frames. A later hello is refused with the same message
(:meth:`Exclusions.refusal`), so a reload shows the same page and the participant can never start
again under that id.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from igym_core.config import Experiment, GameScene
from igym_core.plugins import PluginManager
from igym_core.server.protocol import Excluded, ProtocolError
from igym_core.storage.store import Store

if TYPE_CHECKING:
    from igym_core.server.participants import ParticipantService

log = logging.getLogger("igym.exclusion")

#: the page has this long to send what it recorded before the server closes its episodes
CLOSE_AFTER_S = 10.0
DEFAULT_MESSAGE = "Your participation in this study has ended. Thank you for your time."


class Exclusions:
    def __init__(
        self,
        experiment: Experiment,
        store: Store,
        plugins: PluginManager,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.experiment = experiment
        self.store = store
        self.plugins = plugins
        self.clock = clock
        #: set by the app
        self.participants: ParticipantService | None = None
        self.lobby: Any = None  # the lobby's front (igym_core.server.lobby.local)
        #: why each excluded participant's (or partner's) game ended, by (participant, scene):
        #: (reason, frame the game ended at); episode_end of such a game is partial for it
        self.ended: dict[tuple[str, str], tuple[str, int | None]] = {}
        self._tasks: set[asyncio.Task] = set()

    async def exclude(
        self,
        participant_id: str,
        *,
        rule: str,
        phase: str,
        reason: str,
        message: str | None = None,
        redirect_url: str | None = None,
        completion_code: str | None = None,
        end_reason: str = "excluded",
    ) -> bool:
        """Exclude ``participant_id``; False when they were already excluded (nothing
        happens then). ``phase``: ``entry``, ``continuous`` or ``admin``."""
        participant = await asyncio.to_thread(self.store.participant, participant_id)
        if participant is None or participant.status == "excluded":
            return False
        scenes = self.experiment.scenes
        scene = scenes[min(participant.scene_index, len(scenes) - 1)]
        where = self._where(participant_id, scene) if phase != "entry" else {}
        scene_id = where.get("scene_id", scene.id if phase != "entry" else None)
        episode, frame = where.get("episode"), where.get("frame")
        partners: list[str] = []
        end: tuple[int, int] | None = None
        if self.lobby is not None and isinstance(scene, GameScene):
            end, partners = await self.lobby.exclude(participant_id, end_reason)
            if end is not None:
                episode, frame = end
            for partner in partners:
                self.partner_ended(partner, scene.id, frame)
        record = {
            "rule": rule,
            "phase": phase,
            "reason": reason,
            "message": message or DEFAULT_MESSAGE,
            "scene_id": scene_id,
            "episode": episode,
            "frame": frame,
            "redirect_url": redirect_url,
            "completion_code": completion_code,
        }
        now = self.clock()
        if not await self.store.exclude(participant_id, record, now):
            return False
        self.store.add_event(
            participant_id,
            "excluded",
            {k: v for k, v in record.items() if k not in ("message",)},
            now,
            background=True,
        )
        log.info("participant %s excluded by %s (%s): %s", participant_id, rule, phase, reason)
        if isinstance(scene, GameScene):
            self.ended[(participant_id, scene.id)] = (end_reason, frame)
            self._later(CLOSE_AFTER_S, self._close(participant_id, scene.id, end_reason))
        if self.participants is not None:
            at_episode, at_frame = end if end is not None else (None, None)
            self.participants.excluded(
                participant_id,
                Excluded(record["message"], redirect_url, completion_code, at_frame, at_episode),
            )
        self.plugins.notify(
            "igym_on_session_end",
            experiment_id=self.experiment.id,
            participant_id=participant_id,
            reason=f"excluded:{rule}",
        )
        return True

    async def refusal(self, participant_id: str) -> ProtocolError:
        """What a page of an excluded participant is told when it says hello again."""
        found = await asyncio.to_thread(self.store.exclusion, participant_id)
        if found is None:  # excluded before exclusions were recorded
            return ProtocolError("excluded", DEFAULT_MESSAGE)
        detail = {
            "redirect_url": found["redirect_url"],
            "completion_code": found["completion_code"],
        }
        return ProtocolError("excluded", found["message"], None, detail)

    def ended_game(self, participant_id: str, scene_id: str) -> tuple[str, int | None] | None:
        """Why the server ended this participant's game in ``scene_id`` by an exclusion
        (``excluded`` or ``partner_excluded``) and the frame it ended at, or None."""
        return self.ended.get((participant_id, scene_id))

    def partner_ended(self, participant_id: str, scene_id: str, frame: int | None) -> None:
        """A partner of ``participant_id`` was excluded: their game ended at ``frame``."""
        self.ended[(participant_id, scene_id)] = ("partner_excluded", frame)

    def _where(self, participant_id: str, scene: Any) -> dict[str, Any]:
        monitor = getattr(self.participants, "monitoring", None)
        return monitor.where(participant_id, scene.id) if monitor is not None else {}

    async def _close(self, participant_id: str, scene_id: str, reason: str) -> None:
        await self.store.close_episodes(participant_id, scene_id, reason, self.clock())

    def _later(self, delay_s: float, job: Any) -> None:
        async def run() -> None:
            try:
                await asyncio.sleep(delay_s)
            except asyncio.CancelledError:
                job.close()  # the server stops: never started
                raise
            try:
                await job
            except Exception:
                log.exception("closing an excluded participant's episodes failed")

        task = asyncio.ensure_future(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
