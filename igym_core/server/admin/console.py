"""The admin console of one server: its state, its worker thread and its live dashboard.

Everything the console reads from the store runs on one worker thread of its own (never the
event loop, never the store's writer lock). While at least one browser watches the dashboard,
:meth:`AdminConsole.watch` looks every :data:`POLL_S` for a change (a commit to the store, a
new line in the assignment log, a change of who is online or in which game phase) and then
rebuilds the dashboard, at most every :data:`MIN_INTERVAL_S`; streams wait for a newer version.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from igym_core.server.admin import views
from igym_core.server.admin.auth import AdminSessions, LoginLimiter
from igym_core.server.admin.controls import StudyActions, StudyGate
from igym_core.server.admin.digest import AssignmentLog, EventDigest
from igym_core.server.admin.queries import ReadDB

if TYPE_CHECKING:
    from igym_core.server.state import ServerState

log = logging.getLogger("igym.admin")

POLL_S = 0.25
MIN_INTERVAL_S = 0.5
#: rebuild this often even without a change (participants become "dropped" as time passes)
MAX_INTERVAL_S = 10.0
T = TypeVar("T")


class AdminConsole:
    def __init__(self, state: ServerState, gate: StudyGate, clock: Callable[[], float] = time.time):
        self.state = state
        self.gate = gate
        self.clock = clock
        self.password_hash = state.settings.admin_password_hash
        self.sessions = AdminSessions()
        self.limiter = LoginLimiter()
        self.actions = StudyActions(state, gate, clock)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="igym-admin")
        self._db: ReadDB | None = None
        self.events = EventDigest()
        self.assignments = AssignmentLog(state.settings.assignment_log(state.experiment.id))
        self.snapshot: dict[str, Any] | None = None
        self.snapshot_event = b""
        self.version = 0
        self.watchers = 0
        self._newer = asyncio.Event()
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        #: the server is stopping: streams end
        self.closing = False

    @property
    def enabled(self) -> bool:
        return self.password_hash is not None

    # -- the worker thread ----------------------------------------------------------------------

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        """Run ``function(*args)`` on the console's thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, function, *args)

    def _open(self) -> ReadDB:
        if self._db is None:
            self._db = ReadDB(self.state.store.location_for_readers)
        return self._db

    def _context(self, live: views.LiveView) -> views.Context:
        """Up-to-date digests and a context for the views (console thread)."""
        db = self._open()
        self.events.read(db)
        self.assignments.read()
        return views.Context(db, self.events, self.assignments, self.state.experiment, live)

    async def view(self, function: Callable[..., T], *args: Any) -> T:
        """A page's data: ``function(context, *args)`` on the console's thread."""
        live = await self.live_view()
        return await self.run(lambda: function(self._context(live), *args))

    async def live_view(self) -> views.LiveView:
        """The lobby's sessions and who has a page open, now (from this process's memory, or
        from Redis when the lobby is shared)."""
        lobby = self.state.lobby
        sessions = tuple(
            views.SessionView(
                s.participant_id,
                s.scene_id,
                s.phase.value,
                s.waiting_since,
                s.match_id,
                s.offline_since,
            )
            for s in await lobby.sessions()
        )
        return views.LiveView(self.clock(), await lobby.connected(), sessions)

    # -- the live dashboard ---------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.ensure_future(self.watch())

    async def stop(self) -> None:
        self.closing = True
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self._newer.set()
        await self.run(self._close_db)
        self._executor.shutdown(wait=False)

    def _close_db(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    async def watch(self) -> None:
        """Rebuild the dashboard when something changed, while anyone watches it."""
        seen: tuple[Any, ...] | None = None
        built_at = 0.0
        while True:
            if not self.watchers:
                self._wake.clear()
                await self._wake.wait()
                seen = None
            try:
                live = await self.live_view()
                mark = (await self.run(self._marks), _live_mark(live))
                now = time.monotonic()
                due = mark != seen or now - built_at >= MAX_INTERVAL_S
                if due and now - built_at >= MIN_INTERVAL_S:
                    snapshot = await self.view(views.dashboard)
                    seen, built_at = mark, now
                    self.publish(snapshot)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("the admin dashboard could not be rebuilt")
                await asyncio.sleep(2)
            await asyncio.sleep(POLL_S)

    def _marks(self) -> tuple[int, int]:
        try:
            size = self.assignments.path.stat().st_size
        except FileNotFoundError:
            size = 0
        return self._open().data_version(), size

    def publish(self, snapshot: dict[str, Any]) -> None:
        self.version += 1
        self.snapshot = {**snapshot, "version": self.version, "study": self.gate.view()}
        data = json.dumps(self.snapshot, allow_nan=False, default=str)
        #: the snapshot as a server-sent event, encoded once for every stream
        self.snapshot_event = f"event: summary\nid: {self.version}\ndata: {data}\n\n".encode()
        newer, self._newer = self._newer, asyncio.Event()
        newer.set()

    def changed(self) -> None:
        """Something the dashboard shows changed outside the store (a control)."""
        if self.snapshot is not None:
            self.publish({k: v for k, v in self.snapshot.items() if k not in ("version", "study")})

    async def next_snapshot(self, version: int, timeout: float) -> dict[str, Any] | None:
        """The first snapshot newer than ``version``, or None after ``timeout`` seconds."""
        while self.snapshot is None or self.snapshot["version"] <= version:
            waiter = self._newer
            try:
                await asyncio.wait_for(waiter.wait(), timeout)
            except TimeoutError:
                return None
            if self.closing:
                return None
        return self.snapshot

    def watching(self, delta: int) -> None:
        self.watchers += delta
        if self.watchers > 0:
            self._wake.set()


def _live_mark(live: views.LiveView) -> tuple[Any, ...]:
    return (
        live.live,
        tuple(
            (s.participant_id, s.scene_id, s.phase, s.offline_since is None) for s in live.sessions
        ),
    )
