"""What happens when a participant's page speaks: identity, scene progress, answers, events.

:class:`ParticipantService` knows nothing about websockets: a :class:`Connection` hands it
decoded messages and gets replies back, so the rules are tested without a server.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
import secrets
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from igym_core.config import EndScene, Experiment, GameScene, StaticScene
from igym_core.experiment import scene_for_client
from igym_core.plugins import PluginManager
from igym_core.rules import RuleBook, RuleFailure, Verdict
from igym_core.server.background import Background
from igym_core.server.exclusion import Exclusions
from igym_core.server.failures import log_game_error
from igym_core.server.games import GameService
from igym_core.server.limits import KeyedBuckets
from igym_core.server.lobby.sessions import Phase, ended_by_server
from igym_core.server.monitoring import Monitoring
from igym_core.server.pinger import Pinger
from igym_core.server.protocol import (
    Ack,
    Bye,
    EpisodeEnd,
    EpisodeStart,
    Error,
    Event,
    Excluded,
    FocusPeriodMessage,
    Frames,
    Hello,
    Incoming,
    Later,
    LobbyJoin,
    LobbyLeave,
    Monitor,
    Outgoing,
    PauseReport,
    Ping,
    Pong,
    Probe,
    ProbePong,
    ProtocolError,
    Reconnect,
    Relay,
    SceneMessage,
    Screen,
    Screening,
    ScreeningReport,
    ServerDrawn,
    ServerInput,
    ServerReady,
    Signal,
    Submit,
    Telemetry,
    Welcome,
)
from igym_core.server.screening import check_report, screened_record
from igym_core.settings import Settings
from igym_core.storage.store import Participant, Store
from igym_core.storage.writer import Pending

log = logging.getLogger("igym.participants")

ID_PARAMS = ("subject_id", "PROLIFIC_PID")
_PARTICIPANT_ID = re.compile(r"^[A-Za-z0-9_.@\-]{1,128}$")
_STRONG_TOKEN = re.compile(r"^[A-Za-z0-9_\-]{32,128}$")
_EVENT_NAME = re.compile(r"^[A-Za-z0-9_.:\-]{1,64}$")
MAX_PARAMS = 50
MAX_PARAM_LENGTH = 512


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _never_closed(reason: str) -> None:
    pass


@attrs.define(eq=False)
class Connection:
    """One open websocket; ``send`` queues a message for it, ``close`` ends it (the page
    reconnects). ``address`` is where it comes from (for per-address budgets)."""

    send: Callable[[Outgoing | str], None]
    address: str = "local"
    close: Callable[[str], None] = _never_closed
    participant_id: str | None = None
    token_hash: str | None = None
    replaced: bool = False
    bad_messages: int = 0
    #: when the page last sent a message (the service's clock)
    heard_at: float | None = None
    #: the page said goodbye (Bye) before its socket closed
    said_bye: bool = False
    #: the participant's scene, as this connection last saw it (hello, submit)
    scene_index: int | None = None
    #: the server's round trips to this page
    pinger: Pinger | None = None
    #: while the entry rules judge the participant: the page's report, when it comes
    screening: asyncio.Future[ScreeningReport] | None = None
    #: the participant was excluded while this page was open: it may only send what it recorded
    #: (its game plays on to the match's end frame behind the message)
    excluded: bool = False


class ParticipantService:
    def __init__(
        self,
        experiment: Experiment,
        store: Store,
        plugins: PluginManager,
        settings: Settings,
        games: GameService,
        clock: Callable[[], float] = time.time,
        admission: Callable[[Participant | None], ProtocolError | None] = lambda existing: None,
        *,
        rules: RuleBook,
        exclusions: Exclusions,
    ) -> None:
        """``admission`` may refuse a hello: a new participant (``None``) when the study is
        closed or full, a known one; it returns the error to answer with. ``rules`` are the
        experiment's exclusion rules, ``exclusions`` what excludes a participant."""
        from igym_core.server.screening import Screening

        self.admission = admission
        self.rules = rules
        self.exclusions = exclusions
        self.screening = Screening(rules, store, settings.limits, self.rule_error)
        self.monitoring = Monitoring(
            rules,
            store,
            settings.limits,
            warn=self.send_to,
            exclude=self._rule_excluded,
            on_error=self.rule_error,
            pinger_of=lambda pid: getattr(self.live.get(pid), "pinger", None),
            match_of=lambda pid, scene_id: (
                None if self.lobby is None else self.lobby.known_match(pid, scene_id)
            ),
            clock=clock,
        )
        self.experiment = experiment
        self.store = store
        self.plugins = plugins
        self.settings = settings
        self.games = games
        self.clock = clock
        self.live: dict[str, Connection] = {}
        #: set by the app: the lobby (one process's, or shared through Redis)
        self.lobby: Any = None
        limits = settings.limits
        self.limits = limits
        self._connections = KeyedBuckets(
            limits.connections_per_s, limits.connection_burst, time.monotonic
        )
        self._new_participants = KeyedBuckets(
            limits.new_participants_per_min / 60, limits.new_participants_per_min, time.monotonic
        )
        self._bad_logs = KeyedBuckets(
            limits.bad_messages_logged / 60, limits.bad_messages_logged, time.monotonic
        )
        self._events = KeyedBuckets(limits.events_per_s, limits.event_burst, time.monotonic)
        self._signals = KeyedBuckets(limits.signals_per_s, limits.signal_burst, time.monotonic)
        self._page_requests = KeyedBuckets(
            limits.connections_per_s, limits.connection_burst, time.monotonic
        )
        #: events stored per participant (loaded from the store the first time it is needed)
        self._event_counts: dict[str, int] = {}
        #: set by the app: the server-authoritative games (igym_core.server.authoritative)
        self.server_games: Any = None
        self._screenings = Background("screening")

    # -- entry point ----------------------------------------------------------------------------

    async def handle(self, conn: Connection, message: Incoming) -> list[Outgoing | Later]:
        """The replies to ``message`` (a :class:`Later` among them comes when its write is
        stored: the socket reads on meanwhile)."""
        conn.heard_at = self.clock()
        if isinstance(message, Ping):
            return [Pong(message.t)]
        if isinstance(message, ProbePong):
            if conn.pinger is not None:
                conn.pinger.pong(message.id)
            return []
        if isinstance(message, Bye):
            conn.said_bye = True
            return []
        if conn.replaced:
            raise ProtocolError(
                "session_taken",
                "this study is open in another tab or window; continue there",
                getattr(message, "seq", None),
            )
        if isinstance(message, Hello):
            return await self._hello(conn, message)
        self._check_token(conn, message.token, message.seq)
        if isinstance(message, Screening):
            return self._screening(conn, message)
        if isinstance(message, Monitor):
            self.monitoring.report(conn.participant_id or "", message)
            return []
        if conn.excluded and not isinstance(message, Frames | EpisodeEnd | Telemetry | Event):
            raise ProtocolError(
                "excluded", "this participant was excluded; only records are taken", message.seq
            )
        if conn.screening is not None and not isinstance(message, Event):
            raise ProtocolError(
                "not_screened", "the entry checks are not done yet; wait for the scene", message.seq
            )
        if isinstance(message, FocusPeriodMessage):
            await self.monitoring.focus_period(conn.participant_id or "", message)
            return [Ack(message.seq)]
        if isinstance(message, Submit):
            return await self._submit(conn, message)
        if isinstance(message, Event):
            return await self._event(conn, message)
        if isinstance(
            message, LobbyJoin | LobbyLeave | Signal | Relay | Probe | PauseReport | Reconnect
        ):
            return await self._lobby_message(conn, message)
        if isinstance(message, ServerInput | ServerReady | ServerDrawn):  # server-mode games
            if self.server_games is None:
                raise ProtocolError("invalid", "this server runs no server-mode games", message.seq)
            self.server_games.handle(conn.participant_id or "", message)
            return []
        return await self._game_message(conn, message)

    def admit(self, address: str) -> bool:
        """Whether a new websocket from ``address`` is within its connection budget."""
        return self._connections.take(address)

    async def record_bad_message(self, conn: Connection, error: ProtocolError) -> None:
        """Keep a trace of a rejected message: at most ``Limits.bad_messages_logged`` per
        connection, and as many a minute per address (a background write)."""
        conn.bad_messages += 1
        if conn.bad_messages > self.limits.bad_messages_logged:
            return
        if not self._bad_logs.take(conn.address):
            return
        self.store.add_event(
            conn.participant_id,
            "bad_message",
            {"code": error.code, "message": error.message[:300], "count": conn.bad_messages},
            self.clock(),
            background=True,
        )

    async def disconnected(self, conn: Connection) -> None:
        if conn.participant_id and self.live.get(conn.participant_id) is conn:
            del self.live[conn.participant_id]
            await self.games.interrupted(conn.participant_id)
            if self.lobby is not None:
                self.lobby.disconnected(conn.participant_id, conn.said_bye)

    def page_requested(self, address: str, params: Mapping[str, str], cookie: str | None) -> None:
        """The participant page was requested (``GET /``) for the participant its URL names,
        or its ``igym_pid`` cookie (set by the page at its welcome): the lobby then takes a
        goodbye of that participant's open page for a reload on its way (see
        :meth:`Lobby.page_requested`). Within the address's connection budget; a hint only
        (a forged one just gives a closed tab the reload's grace)."""
        named = {params.get(k) for k in ID_PARAMS} | {cookie}
        ids = sorted(i for i in named if i and _PARTICIPANT_ID.match(i))
        if self.lobby is None or not ids or not self._page_requests.take(address):
            return
        for participant_id in ids:
            self.lobby.page_requested(participant_id)

    def last_heard(self, participant_id: str) -> float | None:
        """When the participant's open page last sent a message (None: no page is open)."""
        conn = self.live.get(participant_id)
        return None if conn is None else conn.heard_at

    def end_connection(self, participant_id: str, error: Error | str) -> bool:
        """Tell a participant's open page why it can go no further (an admin excluded them);
        its connection then refuses every message. False when no page is open here.
        ``error`` may come encoded (from another process)."""
        conn = self.live.get(participant_id)
        if conn is None:
            return False
        conn.replaced = True
        conn.send(error)
        return True

    def excluded(self, participant_id: str, message: Excluded) -> None:
        """A participant was excluded: their open page is told (it sends what it recorded,
        then shows the message) and may send nothing else."""
        self.monitoring.stop(participant_id)
        conn = self.live.get(participant_id)
        if conn is not None:
            conn.excluded = True
            if conn.screening is not None and not conn.screening.done():
                conn.screening.cancel()
            conn.screening = None
            conn.send(message)

    def rule_error(self, participant_id: str, failure: RuleFailure) -> None:
        """A rule raised: logged with its name and the participant's id, and stored."""
        log.warning(
            "exclusion rule %r raised for %s: %s", failure.rule, participant_id, failure.error
        )
        self.store.add_event(
            participant_id,
            "rule_error",
            {"rule": failure.rule, "error": failure.error},
            self.clock(),
            background=True,
        )

    async def _rule_excluded(self, participant_id: str, verdict: Verdict) -> None:
        await self.exclusions.exclude(
            participant_id,
            rule=verdict.rule,
            phase="continuous",
            reason=verdict.reason,
            message=verdict.message,
            redirect_url=verdict.redirect_url,
            completion_code=verdict.completion_code,
        )

    def send_to(self, participant_id: str, message: Outgoing | str) -> None:
        """Queue a message for a participant's open page (dropped when it is not open)."""
        conn = self.live.get(participant_id)
        if conn is not None:
            conn.send(message)

    # -- hello ----------------------------------------------------------------------------------

    async def _hello(self, conn: Connection, hello: Hello) -> list[Outgoing]:
        if conn.participant_id is not None:
            raise ProtocolError("already_identified", "hello was already sent on this connection")
        params = self._check_params(hello.params)
        wanted = next((params[k] for k in ID_PARAMS if params.get(k)), None)
        token = hello.token
        if wanted is None:
            wanted = hello.participant_id
        elif wanted != hello.participant_id:
            token = None  # the URL names someone else: the stored token is not theirs
        if wanted is not None and not _PARTICIPANT_ID.match(wanted):
            raise ProtocolError(
                "invalid", f"participant id {wanted[:40]!r} must be 1-128 letters, digits or _.@-"
            )
        now = self.clock()
        resumed = False
        fresh: Participant | None = None
        participant_id = wanted or uuid.uuid4().hex
        existing = await asyncio.to_thread(self.store.participant, participant_id)
        if existing is None:
            refusal = self.admission(None)
            if refusal is not None:
                raise refusal
            if not self._new_participants.take(conn.address):
                raise ProtocolError(
                    "rate_limited",
                    f"more than {self.limits.new_participants_per_min:g} new participants a "
                    "minute from this address; wait a minute and reload",
                )
            # a strong token the page proposed is kept, so that a hello sent again after a lost
            # welcome resumes; otherwise the server makes one
            if token is None or not _STRONG_TOKEN.match(token):
                token = secrets.token_urlsafe(32)
            created = await self.store.create_participant(
                participant_id, hash_token(token), params, now
            )
            if not created:  # somebody else created it a moment ago
                raise ProtocolError("bad_token", _taken(participant_id))
            # what was just stored (the table's defaults): no need to read it back
            fresh = Participant(participant_id, hash_token(token), params, 0, "active", now, now)
        else:
            if existing.status == "excluded":  # in any browser: the same page, never again
                raise await self.exclusions.refusal(participant_id)
            if token is None or not hmac.compare_digest(existing.token_hash, hash_token(token)):
                raise ProtocolError("bad_token", _taken(participant_id))
            refusal = self.admission(existing)
            if refusal is not None:
                raise refusal
            resumed = True
        conn.participant_id = participant_id
        conn.token_hash = hash_token(token)
        conn.pinger = Pinger(conn.send)
        previous = self.live.get(participant_id)
        if previous is not None and previous is not conn:
            previous.replaced = True
            previous.send(Error("session_taken", "this study was opened in another tab or window"))
        self.live[participant_id] = conn
        if self.lobby is not None:
            self.lobby.reconnected(participant_id)
        self.store.add_event(
            participant_id, "resumed" if resumed else "joined", {}, now, background=True
        )
        self.plugins.notify(
            "igym_on_participant_joined",
            experiment_id=self.experiment.id,
            participant_id=participant_id,
            params=params,
            resumed=resumed,
        )
        participant = (
            fresh
            if not resumed
            else await asyncio.to_thread(self.store.participant, participant_id)
        )
        assert participant is not None
        conn.scene_index = participant.scene_index
        welcome = Welcome(self.experiment.id, participant_id, token, resumed)
        if await self._needs_screening(participant, new=not resumed):
            conn.screening = asyncio.get_running_loop().create_future()
            self._screenings.start(self._screen(conn, participant))
            return [welcome, Screen()]
        return [welcome, await self._show_current(participant)]

    # -- entry screening ------------------------------------------------------------------------

    async def _needs_screening(self, participant: Participant, new: bool) -> bool:
        if not self.screening.active or participant.scene_index != 0:
            return False
        if participant.status != "active":
            return False
        return new or not await asyncio.to_thread(
            self.store.has_event, participant.participant_id, "screened"
        )

    def _screening(self, conn: Connection, message: Screening) -> list[Outgoing]:
        check_report(message.report, self.limits, message.seq)
        if conn.screening is not None and not conn.screening.done():
            conn.screening.set_result(message.report)
        return []

    async def _screen(self, conn: Connection, participant: Participant) -> None:
        """Judge a participant on the entry rules; then the first scene, or the exclusion."""
        assert conn.pinger is not None and conn.screening is not None
        pid = participant.participant_id
        verdict, context = await self.screening.judge(participant, conn.pinger, conn.screening)
        if self.live.get(pid) is not conn or conn.excluded:
            return  # the page went away meanwhile: it is judged again when it is back
        if verdict is not None:
            await self.exclusions.exclude(
                pid,
                rule=verdict.rule,
                phase="entry",
                reason=verdict.reason,
                message=verdict.message,
                redirect_url=verdict.redirect_url,
                completion_code=verdict.completion_code,
            )
            return
        await self.store.add_event(pid, "screened", screened_record(context), self.clock())
        conn.screening = None
        fresh = await asyncio.to_thread(self.store.participant, pid)
        if fresh is not None and self.live.get(pid) is conn:
            conn.send(await self._show_current(fresh))

    def _check_params(self, params: dict[str, str]) -> dict[str, str]:
        if len(params) > MAX_PARAMS:
            raise ProtocolError("invalid", f"at most {MAX_PARAMS} URL parameters are accepted")
        for key, value in params.items():
            if len(key) > 64 or len(value) > MAX_PARAM_LENGTH:
                raise ProtocolError(
                    "invalid",
                    f"URL parameter {key[:64]!r} is too long (names ≤ 64, values ≤ "
                    f"{MAX_PARAM_LENGTH} characters)",
                )
        return dict(params)

    def _check_token(self, conn: Connection, token: str, seq: int) -> None:
        if conn.participant_id is None or conn.token_hash is None:
            raise ProtocolError("not_identified", "send hello before anything else", seq)
        if not hmac.compare_digest(conn.token_hash, hash_token(token)):
            raise ProtocolError(
                "bad_token", "the token does not belong to this connection's participant", seq
            )

    async def _show_current(
        self, participant: Participant, started: Pending | None = None
    ) -> SceneMessage:
        """The participant's current scene, its start recorded (``started``: already queued)."""
        index = participant.scene_index
        scene = self.experiment.scenes[index]
        if started is None:
            started = self.store.start_scene(
                participant.participant_id, scene.id, index, self.clock()
            )
        first = await started
        if first:
            self.plugins.notify(
                "igym_on_scene_started",
                experiment_id=self.experiment.id,
                participant_id=participant.participant_id,
                scene_id=scene.id,
                scene_index=index,
            )
        if isinstance(scene, GameScene):
            self.monitoring.start(participant.participant_id, scene, dict(participant.params))
            data = self.games.describe(scene, participant.participant_id)
            data["progress"] = await self.games.progress(scene, participant.participant_id)
            data["resume"] = await self.games.resume(
                scene, data["progress"], participant.participant_id
            )
        else:
            data = scene_for_client(scene, participant.participant_id)
        # a scene shown for the first time has no answers stored yet
        data["responses"] = (
            {}
            if first
            else await asyncio.to_thread(
                self.store.responses_for, participant.participant_id, scene.id
            )
        )
        return SceneMessage(index, len(self.experiment.scenes), data)

    # -- submit ---------------------------------------------------------------------------------

    async def _submit(self, conn: Connection, submit: Submit) -> list[Outgoing]:
        participant_id = conn.participant_id
        assert participant_id is not None
        participant = await asyncio.to_thread(self.store.participant, participant_id)
        assert participant is not None
        ids = [s.id for s in self.experiment.scenes]
        if submit.scene_id not in ids:
            raise ProtocolError("unknown_scene", f"no scene {submit.scene_id!r}", submit.seq)
        index = ids.index(submit.scene_id)
        if index < participant.scene_index:  # a retry of something already stored
            conn.scene_index = participant.scene_index
            return [Ack(submit.seq), await self._show_current(participant)]
        if index > participant.scene_index:
            raise ProtocolError(
                "wrong_scene",
                f"scene {submit.scene_id!r} is not the current scene "
                f"{ids[participant.scene_index]!r}",
                submit.seq,
            )
        scene = self.experiment.scenes[index]
        if isinstance(scene, EndScene):
            raise ProtocolError("wrong_scene", "the end scene has nothing to submit", submit.seq)
        answers = self._clean(scene, submit)
        next_index = index + 1
        done = isinstance(self.experiment.scenes[next_index], EndScene)
        status = "completed" if done else "active"
        now = self.clock()
        if isinstance(scene, GameScene):
            stored = await self._finish_game(scene, participant_id, index, status, submit.seq)
            self.monitoring.stop(participant_id, scene.id)
            started = None
        else:
            moving = self.store.finish_scene(
                participant_id, scene.id, index, answers, next_index, status, now
            )
            # the next scene's start is queued right behind: one commit for both
            following = self.experiment.scenes[next_index]
            started = self.store.start_scene(participant_id, following.id, next_index, now)
            stored = await moving
        if stored:  # moved on, as asked: no need to read it back
            participant = attrs.evolve(
                participant, scene_index=next_index, status=status, updated_at=now
            )
        else:  # someone else moved it meanwhile (a retry, an admin): what is stored now
            participant = await asyncio.to_thread(self.store.participant, participant_id)
            assert participant is not None
            started = None
        conn.scene_index = participant.scene_index
        if stored:
            self.plugins.notify(
                "igym_on_scene_finished",
                experiment_id=self.experiment.id,
                participant_id=participant_id,
                scene_id=scene.id,
                scene_index=index,
                responses=answers,
            )
            if done:
                self.plugins.notify(
                    "igym_on_session_end",
                    experiment_id=self.experiment.id,
                    participant_id=participant_id,
                    reason="completed",
                )
        return [Ack(submit.seq), await self._show_current(participant, started)]

    async def _finish_game(
        self, scene: GameScene, participant_id: str, index: int, status: str, seq: int
    ) -> bool:
        """Move on from a game scene: every episode complete, or the game ended by a reason
        the server recorded (a partner left, a timeout). Refused otherwise."""
        ended_by = None
        if scene.matched:
            assert self.lobby is not None
            session = await self.lobby.session(participant_id, scene.id)
            if session is None:
                raise ProtocolError(
                    "episodes_incomplete", f"join the waiting room of {scene.id!r} first", seq
                )
            if session.phase is Phase.ENDED and ended_by_server(session.end_reason):
                ended_by = session.end_reason
        result = await self.store.finish_game_scene(
            participant_id, scene.id, index, scene.episodes, ended_by, index + 1, status,
            self.clock(),
        )  # fmt: skip
        if result.outcome == "incomplete":
            raise ProtocolError("episodes_incomplete", str(result.problem), seq)
        if self.lobby is not None and scene.matched:
            self.lobby.finish(participant_id, scene.id)
        return result.outcome == "stored"

    def _clean(self, scene: Any, submit: Submit) -> dict[str, Any]:
        fields = {f.name: f for f in scene.fields} if isinstance(scene, StaticScene) else {}
        unknown = sorted(set(submit.responses) - set(fields))
        if unknown:
            raise ProtocolError(
                "invalid_response",
                f"scene {scene.id!r} has no field {', '.join(map(repr, unknown))}",
                submit.seq,
            )
        answers: dict[str, Any] = {}
        for name, field in fields.items():
            value, problem = field.clean(submit.responses.get(name))
            if problem:
                raise ProtocolError("invalid_response", problem, submit.seq)
            answers[name] = value
        return answers

    # -- multiplayer ----------------------------------------------------------------------------

    async def _lobby_message(
        self,
        conn: Connection,
        message: LobbyJoin | LobbyLeave | Signal | Relay | Probe | PauseReport | Reconnect,
    ) -> list[Outgoing]:
        participant_id = conn.participant_id
        assert participant_id is not None
        if self.lobby is None:
            raise ProtocolError("invalid", "this experiment has no multiplayer scenes", message.seq)
        if isinstance(message, Signal):
            self._check_signal(participant_id, message)
            return await self.lobby.signal(
                participant_id, message.match_id, message.to, message.data
            )
        if isinstance(message, Relay):  # fire and forget, up to 30 a second: no ack, no database
            return await self.lobby.relay(
                participant_id, message.match_id, message.to, message.packets, message.controls
            )
        if isinstance(message, Probe):
            return await self.lobby.probe(
                participant_id, message.match_id, message.ok, message.rtt_ms, message.seq
            )
        if isinstance(message, PauseReport):
            return await self.lobby.pause_report(participant_id, message)
        if isinstance(message, Reconnect):  # fire and forget, like signals
            self._check_signal_rate(participant_id, message.seq)
            return await self.lobby.reconnect(
                participant_id, message.match_id, message.to, message.gen
            )
        participant = await asyncio.to_thread(self.store.participant, participant_id)
        assert participant is not None
        scene = self.experiment.scenes[participant.scene_index]
        if scene.id != message.scene_id or not (isinstance(scene, GameScene) and scene.matched):
            raise ProtocolError(
                "wrong_scene",
                f"{message.type} for {message.scene_id!r}, but the current scene is {scene.id!r}",
                message.seq,
            )
        if isinstance(message, LobbyJoin):
            attributes = await self._attributes(participant, message.attributes)
            return await self.lobby.join(
                participant_id, scene, attributes, message.server_rtt_ms, message.seq
            )
        return await self.lobby.leave(participant_id, scene.id, message.reason, message.seq)

    def _check_signal(self, participant_id: str, message: Signal) -> None:
        """Signals are forwarded to a partner: size and rate are bounded per member."""
        size = len(json.dumps(message.data, separators=(",", ":"), ensure_ascii=False))
        if size > self.limits.signal_bytes:
            raise ProtocolError(
                "too_large",
                f"signal of {size} characters (at most {self.limits.signal_bytes})",
                message.seq,
            )
        self._check_signal_rate(participant_id, message.seq)

    def _check_signal_rate(self, participant_id: str, seq: int) -> None:
        if not self._signals.take(participant_id):
            raise ProtocolError(
                "rate_limited", f"more than {self.limits.signals_per_s:g} signals a second", seq
            )

    async def _attributes(
        self, participant: Participant, reported: dict[str, Any]
    ) -> dict[str, Any]:
        """What matchmakers see of a participant: what the page reported, then URL parameters
        and answers of earlier scenes (as ``"<scene id>.<field>"``), which win over it: a page
        cannot pretend to have other parameters or answers than the server stored."""
        limits = self.limits
        if len(reported) > limits.attribute_keys:
            raise ProtocolError(
                "invalid", f"at most {limits.attribute_keys} attributes may be reported"
            )
        for key, value in reported.items():
            if len(key) > 64 or (isinstance(value, str) and len(value) > limits.attribute_chars):
                raise ProtocolError(
                    "invalid",
                    f"attribute {key[:64]!r} is too long (names ≤ 64, values ≤ "
                    f"{limits.attribute_chars} characters)",
                )
        attributes: dict[str, Any] = dict(reported)
        attributes.update(participant.params)
        attributes.update(
            await asyncio.to_thread(
                self.store.responses_before, participant.participant_id, participant.scene_index
            )
        )
        return attributes

    # -- game recording -------------------------------------------------------------------------

    async def _game_message(
        self, conn: Connection, message: EpisodeStart | Frames | EpisodeEnd | Telemetry
    ) -> list[Outgoing | Later]:
        participant_id = conn.participant_id
        assert participant_id is not None
        # only this connection moves its participant on (submit): its scene is known here,
        # without a read of the store for every chunk of frames
        index = conn.scene_index
        if index is None:
            participant = await asyncio.to_thread(self.store.participant, participant_id)
            assert participant is not None
            index = conn.scene_index = participant.scene_index
        scene = self.experiment.scenes[index]
        if scene.id != message.scene_id or not isinstance(scene, GameScene):
            raise ProtocolError(
                "wrong_scene",
                f"{message.type} for scene {message.scene_id!r}, but the current scene is "
                f"{scene.id!r}",
                message.seq,
            )
        if isinstance(message, EpisodeStart):
            return list(await self.games.episode_start(scene, participant_id, message))
        if isinstance(message, Frames):
            return list(await self.games.frames(scene, participant_id, message))
        if isinstance(message, Telemetry):
            return list(await self.games.telemetry(scene, participant_id, message))
        return list(await self.games.episode_end(scene, participant_id, message))

    # -- events ---------------------------------------------------------------------------------

    async def _event(self, conn: Connection, event: Event) -> list[Outgoing]:
        """Store what the page wants logged, within the participant's event budget."""
        participant_id = conn.participant_id
        assert participant_id is not None
        limits = self.limits
        if not _EVENT_NAME.match(event.name):
            raise ProtocolError(
                "invalid", "event name must be 1-64 letters, digits or _.:-", event.seq
            )
        if len(event.data) > limits.event_keys:
            raise ProtocolError(
                "too_large", f"event data has more than {limits.event_keys} keys", event.seq
            )
        size = len(json.dumps(event.data, separators=(",", ":"), ensure_ascii=False))
        if size > limits.event_bytes:
            raise ProtocolError(
                "too_large",
                f"event data of {size} characters (at most {limits.event_bytes})",
                event.seq,
            )
        if not self._events.take(participant_id):
            raise ProtocolError(
                "rate_limited", f"more than {limits.events_per_s:g} events a second", event.seq
            )
        count = self._event_counts.get(participant_id)
        if count is None:
            count = await asyncio.to_thread(self.store.event_count, participant_id)
        if count >= limits.events_total:
            self._event_counts[participant_id] = count
            raise ProtocolError(
                "event_budget",
                f"this participant already has {limits.events_total} events; no more are kept",
                event.seq,
            )
        stored = await self.store.add_event(
            participant_id, f"client:{event.name}", event.data, self.clock(), event.seq
        )
        self._event_counts[participant_id] = count + (1 if stored else 0)
        if stored and event.name == "game_error":  # once, not again when the page re-sends
            log_game_error(participant_id, event.data)
        return [Ack(event.seq)]


def _taken(participant_id: str) -> str:
    return (
        f"participant {participant_id!r} has already started this study in another browser; "
        "please continue in the browser where you started"
    )
