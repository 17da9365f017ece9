"""The waiting room of every multiplayer game scene, and the one code path that creates games.

The lobby asks the scene's matchmaker (a plugin) for groups, checks its answer, creates matches,
relays WebRTC signaling between the members, collects their P2P probe results and either starts
the game or re-queues everyone. While a game is played it also relays game packets between the
members when their data channel stalls. Every assignment, probe and ended game is appended to a
JSON Lines log.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from igym_core.config import Experiment, GameScene
from igym_core.options import build
from igym_core.plugins import PluginManager
from igym_core.server.lobby.absences import Absences
from igym_core.server.lobby.parity import compare_logs
from igym_core.server.lobby.relay import check_relay
from igym_core.server.lobby.sessions import GameSession, Match, Phase, Tracker, TransitionError
from igym_core.server.protocol import Outgoing, ProtocolError
from igym_core.server.protocol_lobby import (
    LobbyStatus,
    LobbyTimeout,
    MatchEnded,
    MatchFound,
    MatchStart,
    Parity,
    PauseReport,
    PeerLinkReset,
    Relayed,
    Requeued,
    SignalRelay,
)
from igym_core.specs import MatchContext, Matchmaker, WaitingParticipant
from igym_core.storage.store import Store

log = logging.getLogger("igym.lobby")

Send = Callable[[str, Outgoing], None]

#: what a page says when it leaves a game because its partner seems gone (its connection closed
#: or went silent, or the game stayed paused past the reconnect timeout): the server checks who
#: is really gone
PARTNER_GONE = frozenset(
    {"partner_closed", "p2p_disconnected", "p2p_failed", "partner_left", "reconnect_timeout"}
)
#: new peer connections a pair of members may ask for in one match (repairs and reloads)
MAX_LINK_GENERATIONS = 20
#: a page that said goodbye with no reload of it on its way (a closed tab, another site) is
#: gone after this long: time for a reload's page request that was forwarded by another
#: process (SharedLobby) to arrive after the goodbye
GOODBYE_GRACE_S = 0.1
#: an exclusion ends a peer-to-peer game this long (in frames at the scene's fps) past the
#: furthest frame a member's page reported: pages report about once a second, so none of them
#: has settled that far yet, and every member's records end on that frame
END_MARGIN_S = 1.5

#: (episode, frame) of a game scene
Position = tuple[int, int]


def end_of(scene: GameScene, positions: Iterable[Position | None]) -> Position | None:
    """Where an exclusion ends a peer-to-peer game for every member, from the positions the
    members' pages reported: the furthest plus :data:`END_MARGIN_S` of frames, at most the
    episode's ``max_steps``; None when no page reported playing an episode (or the scene is
    server-authoritative: the server's game stops where it is)."""
    known = [p for p in positions if p is not None and p[0] >= 0]
    if scene.server_mode or not known:
        return None
    episode, frame = max(known)
    margin = max(1, math.ceil(END_MARGIN_S * scene.fps))
    return episode, min(scene.max_steps, frame + margin)


class Lobby:
    def __init__(
        self,
        experiment: Experiment,
        plugins: PluginManager,
        store: Store,
        send: Send,
        assignment_log: Path,
        ice_servers: Sequence[Mapping[str, Any]],
        disconnect_grace_s: float = 20.0,
        clock: Callable[[], float] = time.time,
        *,
        left_grace_s: float = 1.5,
        last_heard: Callable[[str], float | None] = lambda participant_id: None,
        max_pause_reports: int = 200,
    ) -> None:
        """``last_heard(participant_id)``: when the participant's open websocket last spoke
        (None when it has none); it decides, with the websocket's state, who went away."""
        self.disconnect_grace_s = disconnect_grace_s
        self.left_grace_s = left_grace_s
        self.max_pause_reports = max_pause_reports
        self.experiment = experiment
        self.plugins = plugins
        self.store = store
        self.send = send
        self.assignment_log = assignment_log
        self.ice_servers = [dict(s) for s in ice_servers]
        self.clock = clock
        self.tracker = Tracker()
        self.absences = Absences(store, clock, last_heard)
        self._matchmakers: dict[str, Matchmaker] = {}
        #: set by the app: start the game of a server-mode match (members -> their agent)
        self.on_server_match: Callable[[str, GameScene, dict[str, str]], None] = lambda *args: None
        #: set by the app: a match ended (its server game, if any, stops)
        self.on_match_ended: Callable[[str, str], None] = lambda *args: None
        #: set by the app: the episode and frame a participant's page last said it was at in
        #: a scene
        self.position_of: Callable[[str, str], Position | None] = lambda pid, scene_id: None

    # -- entering and leaving -------------------------------------------------------------------

    def join(
        self,
        participant_id: str,
        scene: GameScene,
        attributes: Mapping[str, Any],
        server_rtt_ms: float | None,
    ) -> None:
        """Put a participant in the scene's waiting room (again, after a reload: idempotent)."""
        now = self.clock()
        session = self.tracker.session(participant_id, scene.id)
        if session is not None and session.phase is not Phase.ENDED:
            session.attributes = dict(attributes) or session.attributes
            session.server_rtt_ms = server_rtt_ms or session.server_rtt_ms
            self._resend(session, scene)
            return
        ended = self.tracker.matches.get(session.match_id or "") if session else None
        if session is not None and ended is not None and ended.started and ended.ended:
            # a page reloaded after its game was ended: it is told again, and can go on
            self.send(participant_id, self._ended_message(ended, scene, participant_id))
            return
        if session is not None:
            raise ProtocolError(
                "session_ended", f"your session in {scene.id!r} ended ({session.end_reason})"
            )
        session = GameSession(participant_id, scene.id, now, dict(attributes), server_rtt_ms)
        session.history.append((Phase.WAITING.value, now, "joined"))
        self.tracker.add(session)
        self._event(participant_id, scene.id, "waiting", "joined")
        self.match(scene)
        self._broadcast_waiting(scene)

    def leave(self, participant_id: str, scene_id: str | None, reason: str) -> None:
        """A participant left (closed the tab, navigated away, was excluded). Idempotent.

        A page that leaves a game because its partner is gone (``reason`` in
        :data:`PARTNER_GONE`) is not taken at its word: the server decides who left. A member
        whose websocket is closed left; when every member is still connected, the peer-to-peer
        connection failed and the game ends for everyone as ``connection_lost``."""
        sessions = (
            [s for s in [self.tracker.session(participant_id, scene_id)] if s]
            if scene_id
            else list(self.tracker.active_of(participant_id))
        )
        for session in sessions:
            if session.phase is Phase.ENDED:
                continue
            scene = self._scene(session.scene_id)
            match = self.tracker.matches.get(session.match_id or "")
            if (
                match is not None
                and match.started
                and match.ended is None
                and reason in PARTNER_GONE
            ):
                self._partner_gone(match, scene, participant_id)
                continue
            self._move(session, Phase.ENDED, reason)
            if match is None:
                self._broadcast_waiting(scene)
                continue
            if session.phase is Phase.ENDED and match.ended is None:
                self._partner_left(match, scene, participant_id, reason)

    def exclude(
        self, participant_id: str, reason: str = "excluded", end: Position | None = None
    ) -> tuple[Position | None, list[str]]:
        """An excluded participant's game sessions end. A match being played ends for every
        member: the excluded one with ``reason``, the others with ``partner_excluded`` (they
        are told ``GameScene.partner_excluded_message`` and may go on). Before play, the
        others go back to waiting. Returns where a peer-to-peer game ends for every member
        (episode, frame: :func:`end_of`; every page plays on to it) and the partners whose
        game ended. ``end``: where it ends, decided already (a lobby shared between processes
        decides it where the exclusion happened, from the positions that process knows)."""
        ended: Position | None = None
        partners: list[str] = []
        for session in list(self.tracker.active_of(participant_id)):
            scene = self._scene(session.scene_id)
            match = self.tracker.matches.get(session.match_id or "")
            if match is None or not match.started or match.ended is not None:
                self.leave(participant_id, session.scene_id, reason)
                continue
            ended = end if end is not None and not scene.server_mode else None
            if ended is None:
                ended = end_of(scene, (self.position_of(m, scene.id) for m in match.members))
            partners = [m for m in match.members if m != participant_id]
            reasons = {m: "partner_excluded" for m in partners}
            reasons[participant_id] = reason
            self._end_match(
                match,
                scene,
                "partner_excluded",
                scene.partner_excluded_message,
                participant_id,
                reasons=reasons,
                end=ended,
                completion_code=scene.partner_excluded_code,
            )
        return ended, partners

    def _partner_gone(self, match: Match, scene: GameScene, reporter: str) -> None:
        """A page gave up on its partners: the members the server lost too are gone
        (``partner_left`` when they said goodbye, else ``reconnect_timeout``); when the server
        still hears everyone, the connection between them failed (``connection_lost``)."""
        gone = [
            s
            for s in self.tracker.members(match)
            if s.participant_id != reporter and self.absences.lost(s)
        ]
        if not gone:
            self._end_match(match, scene, "connection_lost", scene.connection_lost_message, None)
            return
        left = gone[0]
        who = left.participant_id
        # the one gone ends with the match's reason too: a page back later moves on with it
        if left.said_bye and left.offline_since is not None:
            self._end_match(match, scene, f"partner_left:{who}", scene.partner_left_message, who)
            return
        self._end_match(
            match, scene, f"reconnect_timeout:{who}", scene.reconnect_timeout_message, who
        )

    def _partner_left(self, match: Match, scene: GameScene, who: str, reason: str) -> None:
        if match.started:  # even if the others already finished: never back to waiting
            self._end_match(match, scene, f"partner_left:{who}", scene.partner_left_message, who)
        else:  # not playing yet: the others go back to the waiting room
            match.ended = f"partner_left:{who}"
            self._store_match(match, "requeued")
            for other in self.tracker.members(match):
                if other.phase is not Phase.ENDED:
                    self._move(other, Phase.WAITING, f"partner {who} left ({reason})")
                    self.send(other.participant_id, Requeued(match.match_id, "partner_left"))
            self.match(scene)
            self._broadcast_waiting(scene)

    # -- matchmaking ----------------------------------------------------------------------------

    def matchmaker(self, scene: GameScene) -> Matchmaker:
        """The scene's matchmaker, built once from its ``matchmaker_options`` (checked when the
        experiment loaded); the scene's own settings reach it in each ``MatchContext``."""
        if scene.id not in self._matchmakers:
            cls = self.plugins.matchmakers[scene.matchmaker]
            where = f"GameScene({scene.id!r}).matchmaker_options"
            self._matchmakers[scene.id] = build(cls, scene.matchmaker_options, where)
        return self._matchmakers[scene.id]

    def match(self, scene: GameScene) -> list[Match]:
        """Ask the matchmaker for groups among the waiting; create a match for each valid one."""
        waiting = [s for s in self.tracker.waiting(scene.id) if s.offline_since is None]
        size = len(scene.human_agents)
        if len(waiting) < size:
            return []
        view = [
            WaitingParticipant(
                s.participant_id,
                s.waiting_since,
                dict(s.attributes),
                s.server_rtt_ms,
                self.tracker.pair_rtts(s.participant_id),
                self.tracker.avoided_by(s.participant_id),
            )
            for s in waiting
        ]
        matchmaker = self.matchmaker(scene)
        context = MatchContext(
            scene.id, size, self.clock(), scene.max_p2p_rtt_ms, scene.waiting_timeout_s
        )
        try:
            groups = matchmaker.match(view, context)
        except Exception as exc:
            log.error("matchmaker %r raised %s: %s", matchmaker.name, type(exc).__name__, exc)
            return []
        made = []
        free = {s.participant_id for s in waiting}
        for group in groups if isinstance(groups, list | tuple) else []:
            problem = self._check_group(group, size, free)
            if problem:
                log.error("matchmaker %r proposed %r: %s", matchmaker.name, group, problem)
                continue
            free -= set(group)
            made.append(self.create_match(scene, tuple(group), matchmaker.name))
        return made

    def _check_group(self, group: Any, size: int, free: set[str]) -> str | None:
        if not isinstance(group, list | tuple) or len(group) != size:
            return f"a group must be {size} participant ids"
        if len(set(group)) != size or not set(group) <= free:
            return "names a participant twice or one who is not waiting"
        for i, a in enumerate(group):
            for b in group[i + 1 :]:
                if frozenset((a, b)) in self.tracker.failed_pairs:
                    return f"{a} and {b} failed a P2P check before"
        return None

    def create_match(self, scene: GameScene, group: tuple[str, ...], matchmaker: str) -> Match:
        """The one place a game is created."""
        now = self.clock()
        match = Match(
            match_id=uuid.uuid4().hex[:16],
            scene_id=scene.id,
            members=group,
            agents={pid: (agent,) for pid, agent in zip(group, scene.human_agents, strict=True)},
            matchmaker=matchmaker,
            created_at=now,
        )
        self.tracker.matches[match.match_id] = match
        sessions = [self.tracker.session(pid, scene.id) for pid in group]
        for session in sessions:
            assert session is not None
            session.match_id = match.match_id
            self._move(session, Phase.MATCHED, f"match {match.match_id}")
        self._append_assignment(match, sessions)
        self._store_match(match, "matched")
        self.plugins.notify(
            "igym_on_match",
            experiment_id=self.experiment.id,
            scene_id=scene.id,
            match_id=match.match_id,
            participant_ids=list(group),
            matchmaker=matchmaker,
        )
        for session in sessions:
            assert session is not None
            self._move(session, Phase.VALIDATING, "peers connecting")
            self.send(session.participant_id, self._found(match, scene, session.participant_id))
        if scene.server_mode:
            self._start_match(match, scene, "server game")
        return match

    def _found(self, match: Match, scene: GameScene, participant_id: str) -> MatchFound:
        aliases = match.aliases
        return MatchFound(
            match_id=match.match_id,
            scene_id=scene.id,
            members=[{"peer": aliases[p], "agents": list(match.agents[p])} for p in match.members],
            you=match.members.index(participant_id),
            ice_servers=self.ice_servers,
            max_p2p_rtt_ms=scene.max_p2p_rtt_ms,
            seeds=[scene.episode_seed(match.match_id, e) for e in range(scene.episodes)],
            links={
                aliases[o]: match.links.get(frozenset((participant_id, o)), 0)
                for o in match.members
                if o != participant_id
            },
        )

    # -- signaling and validation ---------------------------------------------------------------

    def signal(self, participant_id: str, match_id: str, to: str, data: Mapping[str, Any]) -> None:
        """Forward WebRTC signaling to another member (``to`` is its alias in the match), while
        the members connect or play."""
        match = self._member_match(participant_id, match_id)
        recipient = self._recipient(match, participant_id, to)
        session = self.tracker.session(participant_id, match.scene_id)
        if session is None or session.phase not in (Phase.VALIDATING, Phase.PLAYING):
            phase = session.phase.value if session is not None else "unknown"
            raise ProtocolError(
                "wrong_phase", f"signaling is for connecting and playing; your session is {phase}"
            )
        self.send(recipient, SignalRelay(match_id, match.aliases[participant_id], dict(data)))

    @staticmethod
    def _recipient(match: Match, participant_id: str, alias: str) -> str:
        recipient = match.member(alias)
        if recipient is None or recipient == participant_id:
            raise ProtocolError(
                "invalid", f"{alias[:40]!r} is not another member of match {match.match_id!r}"
            )
        return recipient

    def relay(
        self,
        participant_id: str,
        match_id: str,
        to: str,
        packets: Sequence[str],
        controls: Sequence[Mapping[str, Any]],
    ) -> None:
        """Forward game packets (base64) and small control messages to another member while
        the game is played: the fallback for a stalled data channel. Nothing is stored."""
        match = self._member_match(participant_id, match_id)
        to = self._recipient(match, participant_id, to)
        session = self.tracker.session(participant_id, match.scene_id)
        if session is None or session.phase is not Phase.PLAYING:
            phase = session.phase.value if session is not None else "unknown"
            raise ProtocolError(
                "not_playing",
                f"relay is only allowed in the playing phase; your session in match "
                f"{match_id!r} is {phase}",
            )
        check_relay(packets, controls)
        recipient = self.tracker.session(to, match.scene_id)
        if recipient is None or recipient.phase is Phase.ENDED:
            return  # the partner finished the scene: its page no longer listens
        counts = match.relayed.setdefault(
            participant_id, {"messages": 0, "packets": 0, "controls": 0}
        )
        counts["messages"] += 1
        counts["packets"] += len(packets)
        counts["controls"] += len(controls)
        sender = match.aliases[participant_id]
        self.send(to, Relayed(match_id, sender, list(packets), [dict(c) for c in controls]))

    def probe(self, participant_id: str, match_id: str, ok: bool, rtt_ms: float | None) -> None:
        """A member's P2P check: ``ok`` with the median RTT to the others, or a failure.

        Only while the match is being validated, once per member (the same result sent again
        changes nothing); anything else is refused and changes nothing."""
        match = self._member_match(participant_id, match_id)
        scene = self._scene(match.scene_id)
        if participant_id in match.probes:
            if match.probes[participant_id] == (ok, rtt_ms):
                return  # the page sent it again (a reconnect)
            raise ProtocolError(
                "wrong_phase", f"your P2P check for match {match_id!r} was already received"
            )
        session = self.tracker.session(participant_id, match.scene_id)
        if session is None or session.phase is not Phase.VALIDATING or match.started:
            phase = session.phase.value if session is not None else "unknown"
            raise ProtocolError(
                "wrong_phase",
                f"a P2P check is only taken while validating; your session is {phase}",
            )
        if rtt_ms is not None and not 0 <= rtt_ms <= 600_000:
            raise ProtocolError("invalid", f"rtt_ms must be 0..600000, got {rtt_ms}")
        match.probes[participant_id] = (ok, rtt_ms)
        if len(match.probes) < len(match.members):
            return
        too_slow = scene.max_p2p_rtt_ms is not None and any(
            rtt is None or rtt > scene.max_p2p_rtt_ms for _, rtt in match.probes.values()
        )
        failed = not all(ok for ok, _ in match.probes.values())
        worst = max((rtt for _, rtt in match.probes.values() if rtt is not None), default=None)
        members = match.members
        for i, a in enumerate(members):
            for b in members[i + 1 :]:
                if worst is not None:
                    self.tracker.pair_rtt[frozenset((a, b))] = worst
                if failed or too_slow:
                    self.tracker.failed_pairs.add(frozenset((a, b)))
        self._append_probe(match, failed, too_slow)
        if failed or too_slow:
            reason = "p2p_failed" if failed else "p2p_rtt_too_high"
            match.ended = reason
            self._store_match(match, "requeued")
            for session in self.tracker.members(match):
                if session.phase is Phase.VALIDATING:
                    self._move(session, Phase.WAITING, reason)
                    self.send(session.participant_id, Requeued(match.match_id, reason))
            self.match(scene)
            self._broadcast_waiting(scene)
            return
        self._start_match(match, scene, "validated")

    def _start_match(self, match: Match, scene: GameScene, reason: str) -> None:
        for session in self.tracker.members(match):
            self._move(session, Phase.PLAYING, reason)
        match.started = True
        match.started_at = self.clock()
        self._store_match(match, "playing")
        for pid in match.members:
            self.send(pid, MatchStart(match.match_id))
        if scene.server_mode:  # the server plays it: no peer-to-peer connection to check
            self.on_server_match(
                match.match_id, scene, {p: match.agents[p][0] for p in match.members}
            )

    def finish(self, participant_id: str, scene_id: str, reason: str = "completed") -> None:
        """The participant's game in ``scene_id`` is over (they move to the next scene)."""
        session = self.tracker.session(participant_id, scene_id)
        if session is None or session.phase is Phase.ENDED:
            return
        match = self.tracker.matches.get(session.match_id or "")
        self._move(session, Phase.ENDED, reason)
        if match is not None and all(s.phase is Phase.ENDED for s in self.tracker.members(match)):
            match.ended = match.ended or reason
            self._store_match(match, "ended")
            self._append_end(match)

    def server_game_over(self, match_id: str, reason: str, message: str) -> None:
        """A server-mode game stopped on its own (its environment raised): the match ends for
        every member, who can go on (their data is kept)."""
        match = self.tracker.matches.get(match_id)
        if match is not None and match.ended is None:
            self._end_match(match, self._scene(match.scene_id), reason, message, None)

    def page_requested(self, participant_id: str) -> None:
        """The participant page was requested for this participant (``GET /``). A reload
        asks for the new page before the old one is unloaded and says goodbye, so a goodbye
        after this is a reload on its way, not a closed tab (see :meth:`disconnected`)."""
        for session in self.tracker.active_of(participant_id):
            session.reload_requested = True

    def disconnected(self, participant_id: str, said_bye: bool = False) -> None:
        """The participant's websocket closed: they leave if not back within the grace time.
        After a goodbye that is :data:`GOODBYE_GRACE_S` (a closed tab, another site: partners
        are told at once), or ``left_grace_s`` when the page was requested again first (a
        reload, which says hello again in a moment; :meth:`page_requested`); after a dropped
        connection ``disconnect_grace_s``."""
        now = self.clock()
        for session in self.tracker.active_of(participant_id):
            session.offline_since = now
            session.said_bye = said_bye
            match = self.tracker.matches.get(session.match_id or "")
            if match is not None and match.started and match.ended is None:
                self.absences.went_away(match, participant_id, "closed" if said_bye else "network")

    def reconnected(self, participant_id: str) -> None:
        for session in self.tracker.active_of(participant_id):
            session.offline_since = None
            session.said_bye = False
            session.reload_requested = False

    def pause_report(self, participant_id: str, report: PauseReport) -> None:
        """A member's game paused, resumed or gave up waiting (see :class:`PauseReport`).

        The server records who its game waited for (as the server saw them, see
        :class:`~igym_core.server.lobby.absences.Absences`); a ``timeout`` ends the match
        unless it already ended (reports from a page that was offline arrive late)."""
        match = self.tracker.matches.get(report.match_id)
        if match is None or participant_id not in match.members:
            raise ProtocolError("invalid", f"you are not in match {report.match_id[:40]!r}")
        if not match.started or match.ended is not None:
            return  # late news of a game that is over
        count = match.pause_reports.get(participant_id, 0)
        if count >= self.max_pause_reports:
            return
        match.pause_reports[participant_id] = count + 1
        if report.state == "paused":
            if self.absences.rejoining(match, participant_id):
                return  # a rebuilt page waits for its partners' echo: nobody went away
            for alias in report.waiting_for[: len(match.members)]:
                who = match.member(alias)
                if who is not None and who != participant_id:
                    self.absences.reported(match, who, report.episode, report.frame)
        elif report.state == "resumed":
            self.absences.resumed(match, report.paused_ms)
        else:
            self._partner_gone(match, self._scene(match.scene_id), participant_id)

    def reconnect(self, participant_id: str, match_id: str, to: str, gen: int) -> None:
        """A member asks for a new peer connection to ``to`` (ICE restart failed): both get
        a :class:`PeerLinkReset` of the next generation, unless ``gen`` is not the current
        one (the other member asked first) or the pair used up its generations."""
        match = self._member_match(participant_id, match_id)
        other = self._recipient(match, participant_id, to)
        if not match.started:
            raise ProtocolError("not_playing", "a new peer connection is for a game being played")
        pair = frozenset((participant_id, other))
        current = match.links.get(pair, 0)
        if gen != current or current >= MAX_LINK_GENERATIONS:
            return
        self._new_link(match, pair, pair, "repair", None)

    def _new_link(
        self,
        match: Match,
        pair: frozenset[str],
        tell: frozenset[str],
        reason: str,
        hold_s: float | None,
    ) -> None:
        """The next generation of the connection between two members; those in ``tell`` get
        a :class:`PeerLinkReset` naming the other."""
        gen = match.links.get(pair, 0) + 1
        match.links[pair] = gen
        aliases = match.aliases
        for pid in sorted(tell):
            (other,) = pair - {pid}
            self.send(pid, PeerLinkReset(match.match_id, aliases[other], gen, reason, hold_s))

    def _rejoin(self, session: GameSession, scene: GameScene, match: Match) -> None:
        """A member's page was reloaded mid-game and joins again: new peer connections to
        everyone (its partners wait for it up to the scene's ``reload_timeout_s``), then the
        match again, and the page rebuilds its episode."""
        pid = session.participant_id
        self.absences.rejoined(match, pid)
        for other in match.members:
            if other != pid:
                pair = frozenset((pid, other))
                if match.links.get(pair, 0) < MAX_LINK_GENERATIONS:
                    tell = frozenset((other,))
                    self._new_link(match, pair, tell, "rejoined", scene.reload_timeout_s)
        self.send(pid, self._found(match, scene, pid))
        self.send(pid, MatchStart(match.match_id))

    def expire(self) -> None:
        """End what timed out: waiting too long, offline longer than the grace time, a match
        not validated in time, a game played far longer than it can take."""
        now = self.clock()
        for match in list(self.tracker.matches.values()):
            if match.ended is not None:
                continue
            scene = self._scene(match.scene_id)
            if not match.started and now - match.created_at >= scene.validation_timeout_s:
                self._validation_timed_out(match, scene)
            elif match.started_at is not None and now - match.started_at >= scene.play_timeout_s:
                self._end_match(match, scene, "match_timeout", scene.match_timeout_message, None)
            elif match.started:
                self._check_absences(match, scene, now)
        for session in list(self.tracker.sessions.values()):
            if session.phase is Phase.ENDED:
                continue
            grace = self.disconnect_grace_s
            if session.said_bye:
                grace = self.left_grace_s if session.reload_requested else GOODBYE_GRACE_S
            if session.offline_since is not None and now - session.offline_since >= grace:
                reason = "left" if session.said_bye else "disconnected"
                self.leave(session.participant_id, session.scene_id, reason)
                continue
            if session.phase is not Phase.WAITING:
                continue
            scene = self._scene(session.scene_id)
            if now - session.waiting_since >= scene.waiting_timeout_s:
                self._move(session, Phase.ENDED, "waiting_timeout")
                self.send(
                    session.participant_id,
                    LobbyTimeout(
                        scene.id, scene.waiting_timeout_message, scene.waiting_timeout_redirect
                    ),
                )
                self._broadcast_waiting(scene)

    def _check_absences(self, match: Match, scene: GameScene, now: float) -> None:
        """Members partners wait for: lost by the server too (see Absences.check), and if a
        page that should have reported its timeout has not, the server ends the game itself
        once its partners waited twice the reconnect timeout (the reload timeout for a page
        that came back reloaded)."""
        members = list(self.tracker.members(match))
        self.absences.check(match, members)
        for absence in self.absences.open_in(match):
            if absence.reported_at is None:
                continue
            limit = (
                scene.reload_timeout_s if absence.kind == "reload" else scene.reconnect_timeout_s
            )
            if now - absence.reported_at >= 2 * limit + 2:
                reporter = next(p for p in match.members if p != absence.participant_id)
                self._partner_gone(match, scene, reporter)
                return

    def _validation_timed_out(self, match: Match, scene: GameScene) -> None:
        """Members that sent their P2P check go back to waiting; the silent ones are dropped."""
        silent = [p for p in match.members if p not in match.probes]
        match.ended = "validation_timeout:" + ",".join(silent)
        self._store_match(match, "requeued")
        self._append_probe(match, failed=True, too_slow=False)
        for session in self.tracker.members(match):
            if session.phase is Phase.ENDED:
                continue
            if session.participant_id in silent:
                self._move(session, Phase.ENDED, "validation_timeout")
                self.send(
                    session.participant_id,
                    MatchEnded(
                        match.match_id, "validation_timeout", scene.validation_timeout_message
                    ),
                )
            else:
                self._move(session, Phase.WAITING, "partner did not connect in time")
                self.send(session.participant_id, Requeued(match.match_id, "validation_timeout"))
        self.match(scene)
        self._broadcast_waiting(scene)

    # -- parity ---------------------------------------------------------------------------------

    def match_of(self, participant_id: str, scene_id: str) -> str | None:
        session = self.tracker.session(participant_id, scene_id)
        return None if session is None else session.match_id

    async def episode_closed(self, participant_id: str, scene: GameScene, episode: int) -> None:
        """Once every member closed ``episode``, compare their canonical logs and store it
        (the lobbies run this after the page's ack, in the background)."""
        match = self.tracker.matches.get(self.match_of(participant_id, scene.id) or "")
        if match is None:
            return
        statuses = {}
        for member in match.members:
            found = [
                e
                for e in await asyncio.to_thread(self.store.episodes_for, member, scene.id)
                if e["episode"] == episode
            ]
            if not found or found[0]["status"] not in ("complete", "partial"):
                return
            statuses[member] = found[0]["status"]
        if episode in match.parity_checked:
            return  # both members closed it at the same moment: checked once
        match.parity_checked.add(episode)
        # the store is read in a thread; the logs are compared here (~3 ms for two members' 450
        # frames: in a thread, that work would hold the GIL against the loop's every socket call)
        texts = {
            m: await asyncio.to_thread(self.store.frame_texts, m, scene.id, episode)
            for m in match.members
        }
        status, summary, difference, validation = compare_logs(
            match, scene.id, episode, statuses, texts
        )
        self.store.save_parity(
            match.match_id, scene.id, episode, status, summary, difference, self.clock(), validation
        )
        if status == "mismatch":
            log.error(
                "match %s episode %d: canonical logs differ: %s",
                match.match_id,
                episode,
                difference,
            )
        for member in match.members:
            self.send(member, Parity(match.match_id, episode, status))

    # -- helpers --------------------------------------------------------------------------------

    def _end_match(
        self,
        match: Match,
        scene: GameScene,
        reason: str,
        message: str,
        who: str | None,
        *,
        reasons: Mapping[str, str] | None = None,
        end: Position | None = None,
        completion_code: str | None = None,
    ) -> None:
        """End a match for every member (``reasons`` may give each its own); everyone but
        ``who`` is told."""
        match.ended = reason
        self.on_match_ended(match.match_id, reason)
        self.absences.ended(match, reason)
        self._store_match(match, "ended")
        self._append_end(match)
        for session in self.tracker.members(match):
            own = (reasons or {}).get(session.participant_id, reason)
            if session.phase is not Phase.ENDED:
                self._move(session, Phase.ENDED, own)
            if session.participant_id != who:
                episode, frame = end if end is not None else (None, None)
                self.send(
                    session.participant_id,
                    MatchEnded(match.match_id, own, message, frame, episode, completion_code),
                )
            elif not reason.startswith(("partner_left", "partner_excluded")):
                # it may still be there: tell it too (an excluded member sees its own page)
                self.send(who, self._ended_message(match, scene, who))

    def _ended_message(self, match: Match, scene: GameScene, participant_id: str) -> MatchEnded:
        """What a member of an ended match is told: the one the end reason names gets the
        connection-lost message, the others the scene's message for that reason."""
        reason = match.ended or "connection_lost"
        head, _, who = reason.partition(":")
        if who == participant_id:
            message = scene.connection_lost_message
        elif head == "partner_left":
            message = scene.partner_left_message
        elif head == "reconnect_timeout":
            message = scene.reconnect_timeout_message
        elif head == "match_timeout":
            message = scene.match_timeout_message
        else:
            message = scene.connection_lost_message
        return MatchEnded(match.match_id, reason, message)

    def _member_match(self, participant_id: str, match_id: str) -> Match:
        match = self.tracker.matches.get(match_id)
        if match is None or participant_id not in match.members:
            raise ProtocolError("invalid", f"you are not in match {match_id!r}")
        if match.ended is not None:
            raise ProtocolError("match_ended", f"match {match_id!r} has ended ({match.ended})")
        return match

    def _scene(self, scene_id: str) -> GameScene:
        scene = self.experiment.scene(scene_id)
        assert isinstance(scene, GameScene)
        return scene

    def _move(self, session: GameSession, to: Phase, reason: str) -> None:
        try:
            session.move(to, self.clock(), reason)
        except TransitionError as exc:
            self.store.add_event(
                session.participant_id,
                "invalid_transition",
                {"error": str(exc)},
                self.clock(),
                background=True,
            )
            raise
        self._event(session.participant_id, session.scene_id, to.value, reason)

    def _event(self, participant_id: str, scene_id: str, phase: str, reason: str) -> None:
        self.store.add_event(
            participant_id,
            "session_phase",
            {"scene_id": scene_id, "phase": phase, "reason": reason},
            self.clock(),
            background=True,
        )

    def _broadcast_waiting(self, scene: GameScene) -> None:
        waiting = self.tracker.waiting(scene.id)
        count = len(waiting) if scene.show_waiting_count else None
        for session in waiting:
            self.send(session.participant_id, LobbyStatus(scene.id, "waiting", count))

    def _resend(self, session: GameSession, scene: GameScene) -> None:
        if session.phase is Phase.WAITING:
            count = len(self.tracker.waiting(scene.id)) if scene.show_waiting_count else None
            self.send(session.participant_id, LobbyStatus(scene.id, "waiting", count))
            return
        match = self.tracker.matches.get(session.match_id or "")
        if match is not None and session.phase is Phase.PLAYING and match.started:
            self._rejoin(session, scene, match)  # a page joins again only after a reload
        elif match is not None:
            self.send(session.participant_id, self._found(match, scene, session.participant_id))

    def _append_assignment(self, match: Match, sessions: Sequence[GameSession | None]) -> None:
        record = {
            "at": match.created_at,
            "match_id": match.match_id,
            "scene_id": match.scene_id,
            "matchmaker": match.matchmaker,
            "participants": [
                {
                    "participant_id": s.participant_id,
                    "agents": list(match.agents[s.participant_id]),
                    "waited_s": round(match.created_at - s.waiting_since, 3),
                    "server_rtt_ms": s.server_rtt_ms,
                    "p2p_rtt_ms": self.tracker.pair_rtts(s.participant_id),
                    "attributes": dict(s.attributes),
                }
                for s in sessions
                if s is not None
            ],
        }
        self._write_log(record)

    def _append_probe(self, match: Match, failed: bool, too_slow: bool) -> None:
        self._write_log(
            {
                "at": self.clock(),
                "match_id": match.match_id,
                "scene_id": match.scene_id,
                "probe": {p: {"ok": ok, "rtt_ms": rtt} for p, (ok, rtt) in match.probes.items()},
                "accepted": not (failed or too_slow),
            }
        )

    def _append_end(self, match: Match) -> None:
        self._write_log(
            {
                "at": self.clock(),
                "match_id": match.match_id,
                "scene_id": match.scene_id,
                "ended": match.ended,
                "relayed": {p: dict(c) for p, c in match.relayed.items()},
            }
        )

    def _write_log(self, record: Mapping[str, Any]) -> None:
        self.assignment_log.parent.mkdir(parents=True, exist_ok=True)
        with self.assignment_log.open("a", encoding="utf-8") as f:
            f.write(json.dumps(record, sort_keys=True) + "\n")

    def _store_match(self, match: Match, status: str) -> None:
        self.store.save_match(
            match.match_id,
            match.scene_id,
            list(match.members),
            match.matchmaker,
            status,
            match.ended,
            match.created_at,
            self.clock(),
        )
