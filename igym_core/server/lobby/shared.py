"""The lobby of a study served by several igym processes, shared through Redis.

One :class:`~igym_core.server.lobby.lobby.Lobby` engine decides everything, run by whichever
process holds the lease; every process forwards what its participants' pages ask.

* **Forwarding.** Each process (an *origin*) checks a page's lobby message where it arrived (size,
  rate, scene) and appends it to the stream ``commands``, in order, from one task. That a page
  connected or disconnected goes the same way, with the hash ``where`` (participant -> the
  process its page is connected to) updated in the same script.
* **Leading.** The process holding the key ``leader`` (taken with ``SET NX``, renewed by every
  commit, lost ``lease_ms`` after the last) keeps the lobby's state in memory, runs the commands
  after its cursor through the engine, and commits in one script: the sessions, matches and pairs
  that changed (hashes), the cursor, and every message the engine sent, published on the channel
  ``to:<process>`` of the process the participant is connected to. A commit checks the lease first,
  so a leader that lost it changes nothing. A new leader loads the hashes and runs the commands
  after the cursor: each command changes the state once.
* **Processes.** Each process renews a key ``alive:<process>``; the leader takes the pages of a
  process whose key expired as disconnected (they may reconnect to any other process).

Everything a page sees is what the one-process lobby would send, in the same order; a reply that
answers a message (``ack``, or an ``error`` with its ``seq``) comes from the leader after the
command ran. Reads (a participant's session, the admin console's counts) come from the hashes: the
state as of the last commit, at most a step (0.1 s) old.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from igym_core.config import GameScene
from igym_core.server.background import Background
from igym_core.server.lobby.lobby import Lobby, end_of
from igym_core.server.lobby.relay import check_relay
from igym_core.server.lobby.sessions import GameSession, Phase
from igym_core.server.lobby.snapshot import (
    Mirror,
    decode_match,
    decode_session,
    load_tracker,
    session_key,
)
from igym_core.server.protocol import Ack, Error, Outgoing, ProtocolError, encode
from igym_core.server.protocol_lobby import PauseReport

log = logging.getLogger("igym.lobby")

#: commands waiting to be forwarded before a page's lobby message is refused as "busy"
MAX_WAITING = 20_000
#: commands read from the stream in one step
STEP_COMMANDS = 500
#: the stream is trimmed to about this many commands even when no leader reads it
MAX_STREAM = 200_000

# Appends commands; a "hello" or "bye" also moves the participant in ``where``.
# KEYS: commands, where. ARGV: process, prefix, max stream length, session_taken text, then
# (kind, participant, command) triples.
_SUBMIT = """
local proc, prefix, maxlen, taken = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
for i = 5, #ARGV, 3 do
  local kind, pid, text = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local forward = true
  if kind == 'hello' then
    local old = redis.call('HGET', KEYS[2], pid)
    redis.call('HSET', KEYS[2], pid, proc)
    redis.call('SADD', prefix .. 'on:' .. proc, pid)
    if old and old ~= proc then
      redis.call('SREM', prefix .. 'on:' .. old, pid)
      redis.call('PUBLISH', prefix .. 'to:' .. old, '!' .. pid .. '\\n' .. taken)
    end
  elseif kind == 'bye' then
    if redis.call('HGET', KEYS[2], pid) == proc then
      redis.call('HDEL', KEYS[2], pid)
      redis.call('SREM', prefix .. 'on:' .. proc, pid)
    else
      forward = false
    end
  end
  if forward then
    redis.call('XADD', KEYS[1], 'MAXLEN', '~', maxlen, '*', 'c', text)
  end
end
return 1
"""

# The leader's commit. KEYS: leader, sessions, matches, pairs, cursor, commands, where, processes.
# ARGV: process, lease ms, cursor ('' when unchanged), prefix, then four counts (sessions,
# matches, pairs, messages, dead processes) and their items.
_COMMIT = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
local prefix = ARGV[4]
local counts = {tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])}
local i = 10
for h = 1, 3 do
  for _ = 1, counts[h] do
    redis.call('HSET', KEYS[h + 1], ARGV[i], ARGV[i + 1])
    i = i + 2
  end
end
for _ = 1, tonumber(ARGV[8]) do
  local proc = redis.call('HGET', KEYS[7], ARGV[i])
  if proc then
    redis.call('PUBLISH', prefix .. 'to:' .. proc, ARGV[i] .. '\\n' .. ARGV[i + 1])
  end
  i = i + 2
end
for _ = 1, tonumber(ARGV[9]) do
  local dead = ARGV[i]
  for _, pid in ipairs(redis.call('SMEMBERS', prefix .. 'on:' .. dead)) do
    if redis.call('HGET', KEYS[7], pid) == dead then redis.call('HDEL', KEYS[7], pid) end
  end
  redis.call('DEL', prefix .. 'on:' .. dead)
  redis.call('SREM', KEYS[8], dead)
  i = i + 1
end
if ARGV[3] ~= '' then
  redis.call('SET', KEYS[5], ARGV[3])
  redis.call('XTRIM', KEYS[6], 'MINID', ARGV[3])
end
return 1
"""

# A message for one participant's page, from any process. KEYS: where. ARGV: prefix,
# participant, text ('!' first: the connection ends with it).
_DELIVER = """
local proc = redis.call('HGET', KEYS[1], ARGV[2])
if not proc then return 0 end
return redis.call('PUBLISH', ARGV[1] .. 'to:' .. proc, ARGV[3])
"""

# Gives the lease up. KEYS: leader. ARGV: process.
_RESIGN = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

#: commands whose page waits for an answer (an ack, or an error naming its seq)
_ANSWERED = frozenset({"join", "leave", "probe", "signal", "relay", "pause", "reconnect"})


class SharedLobby:
    """The lobby of one study, shared by every igym process given the same Redis."""

    def __init__(
        self,
        engine: Lobby,
        redis_url: str,
        deliver: Callable[[str, str], None],
        end_connection: Callable[[str, str], bool],
        *,
        lease_ms: int = 5000,
        alive_ms: int = 3000,
        process_id: str | None = None,
    ) -> None:
        """``deliver(participant_id, text)`` queues an encoded message for a page connected to
        this process; ``end_connection(participant_id, text)`` sends it and ends the page's
        connection (False when no page of that participant is connected here)."""
        import redis.asyncio

        self.engine = engine
        engine.send = self._from_engine
        self.redis_url = redis_url
        self.process_id = (
            process_id or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        )
        self.lease_ms = lease_ms
        self.alive_ms = alive_ms
        self._deliver = deliver
        self._end_connection = end_connection
        self.prefix = f"igym:{engine.experiment.id}:"
        self._redis = redis.asyncio.Redis.from_url(redis_url, decode_responses=True, protocol=2)
        self._submit = self._redis.register_script(_SUBMIT)
        self._commit = self._redis.register_script(_COMMIT)
        self._deliver_script = self._redis.register_script(_DELIVER)
        self._resign = self._redis.register_script(_RESIGN)
        self._waiting: asyncio.Queue[tuple[str, str, str]] = asyncio.Queue()
        self._out: list[tuple[str, str]] = []
        self._tasks: list[asyncio.Task] = []
        self._checks = Background("the parity check")
        #: (participant, scene) -> the match this process last told the page about
        self._known: dict[tuple[str, str], str] = {}
        self._subscriber: Any = None
        self.leading = False
        self._mirror: Mirror | None = None
        self._cursor = "0-0"
        self._taken = encode(
            Error("session_taken", "this study was opened in another tab or window")
        )

    def key(self, name: str) -> str:
        return self.prefix + name

    @property
    def tracker(self):  # the leader's state (tests and the leader only)
        return self.engine.tracker

    # -- what a participant's page asks (at its origin) ---------------------------------------

    async def join(
        self,
        participant_id: str,
        scene: GameScene,
        attributes: Mapping[str, Any],
        server_rtt_ms: float | None,
        seq: int | None,
    ) -> list[Outgoing]:
        self._forward(
            "join",
            participant_id,
            seq,
            scene=scene.id,
            attributes=dict(attributes),
            rtt=server_rtt_ms,
        )
        return []

    async def leave(
        self, participant_id: str, scene_id: str, reason: str, seq: int | None
    ) -> list[Outgoing]:
        self._forward("leave", participant_id, seq, scene=scene_id, reason=reason)
        return []

    async def signal(
        self, participant_id: str, match_id: str, to: str, data: Mapping[str, Any]
    ) -> list[Outgoing]:
        self._forward("signal", participant_id, None, match=match_id, to=to, data=dict(data))
        return []

    async def relay(
        self,
        participant_id: str,
        match_id: str,
        to: str,
        packets: Sequence[str],
        controls: Sequence[Mapping[str, Any]],
    ) -> list[Outgoing]:
        check_relay(packets, controls)  # the budget, before anything is forwarded
        self._forward(
            "relay",
            participant_id,
            None,
            match=match_id,
            to=to,
            packets=list(packets),
            controls=[dict(c) for c in controls],
        )
        return []

    async def probe(
        self, participant_id: str, match_id: str, ok: bool, rtt_ms: float | None, seq: int | None
    ) -> list[Outgoing]:
        self._forward("probe", participant_id, seq, match=match_id, ok=bool(ok), rtt=rtt_ms)
        return []

    def finish(self, participant_id: str, scene_id: str) -> None:
        self._forward("finish", participant_id, None, scene=scene_id)

    async def pause_report(self, participant_id: str, report: PauseReport) -> list[Outgoing]:
        fields = attrs.asdict(report)
        for name in ("type", "token", "seq"):
            fields.pop(name)
        self._forward("pause", participant_id, report.seq, report=fields)
        return []

    async def reconnect(
        self, participant_id: str, match_id: str, to: str, gen: int
    ) -> list[Outgoing]:
        self._forward("reconnect", participant_id, None, match=match_id, to=to, gen=gen)
        return []

    def disconnected(self, participant_id: str, said_bye: bool = False) -> None:
        command = {"op": "disconnected", "pid": participant_id, "a": {"bye": said_bye}}
        self._queue("bye", participant_id, command)

    def reconnected(self, participant_id: str) -> None:
        self._queue("hello", participant_id, {"op": "reconnected", "pid": participant_id})

    def page_requested(self, participant_id: str) -> None:
        if self._waiting.qsize() < MAX_WAITING:  # a hint: dropped rather than queued unbounded
            self._queue("page", participant_id, {"op": "page", "pid": participant_id})

    async def episode_closed(self, participant_id: str, scene: GameScene, episode: int) -> None:
        self._forward("episode_closed", participant_id, None, scene=scene.id, episode=episode)

    # -- what the researcher does ---------------------------------------------------------------

    async def exclude(
        self, participant_id: str, reason: str
    ) -> tuple[tuple[int, int] | None, list[str]]:
        """End the games of an excluded participant (the leader runs
        :meth:`Lobby.exclude`). Where a peer-to-peer game ends is decided here, from the
        positions the members' pages reported to this process (:func:`end_of`), and the
        leader ends it there for every member. Returns that and the partners whose game
        ends."""
        partners: list[str] = []
        end: tuple[int, int] | None = None
        for session in await self.active_of(participant_id):
            text = await self._redis.hget(self.key("matches"), session.match_id or "")
            match = decode_match(text) if text else None
            if match is None or not match.started or match.ended is not None:
                continue
            partners += [m for m in match.members if m != participant_id]
            scene = self._scene(session.scene_id)
            end = end_of(scene, (self.engine.position_of(m, scene.id) for m in match.members))
        self._forward("exclude", participant_id, None, reason=reason, end=end)
        return end, partners

    async def end_sessions(self, participant_id: str, reason: str) -> int:
        active = await self.active_of(participant_id)
        if active:
            self._forward("leave", participant_id, None, scene=None, reason=reason)
        return len(active)

    async def deliver(self, participant_id: str, message: Outgoing) -> None:
        await self._deliver_script(
            keys=[self.key("where")],
            args=[self.prefix, participant_id, f"{participant_id}\n{encode(message)}"],
        )

    async def end_connection(self, participant_id: str, error: Error) -> bool:
        told = await self._deliver_script(
            keys=[self.key("where")],
            args=[self.prefix, participant_id, f"!{participant_id}\n{encode(error)}"],
        )
        return bool(told)

    # -- what is known (as of the leader's last commit) ---------------------------------------

    async def session(self, participant_id: str, scene_id: str) -> GameSession | None:
        text = await self._redis.hget(self.key("sessions"), session_key(participant_id, scene_id))
        return None if text is None else decode_session(text)

    async def active_of(self, participant_id: str) -> list[GameSession]:
        scenes = [
            s.id for s in self.engine.experiment.scenes if isinstance(s, GameScene) and s.matched
        ]
        if not scenes:
            return []
        texts = await self._redis.hmget(
            self.key("sessions"), [session_key(participant_id, s) for s in scenes]
        )
        found = [decode_session(t) for t in texts if t is not None]
        return [s for s in found if s.phase is not Phase.ENDED]

    async def sessions(self) -> list[GameSession]:
        return [
            decode_session(t) for t in (await self._redis.hgetall(self.key("sessions"))).values()
        ]

    async def connected(self) -> frozenset[str]:
        return frozenset(await self._redis.hkeys(self.key("where")))

    async def match_of(self, participant_id: str, scene_id: str) -> str | None:
        session = await self.session(participant_id, scene_id)
        return None if session is None else session.match_id

    def known_match(self, participant_id: str, scene_id: str) -> str | None:
        """The match this process last told the participant's page about (no I/O)."""
        return self._known.get((participant_id, scene_id))

    # -- forwarding -----------------------------------------------------------------------------

    def _forward(self, op: str, participant_id: str, seq: int | None, **arguments: Any) -> None:
        if self._waiting.qsize() >= MAX_WAITING:
            raise ProtocolError(
                "busy", "the waiting room is overloaded; try again in a moment", seq
            )
        command = {"op": op, "pid": participant_id, "seq": seq, "a": arguments}
        self._queue("c", participant_id, command)

    def _queue(self, kind: str, participant_id: str, command: Mapping[str, Any]) -> None:
        text = json.dumps(command, separators=(",", ":"), allow_nan=False)
        self._waiting.put_nowait((kind, participant_id, text))

    async def _forwarder(self) -> None:
        """Appends the queued commands in order; a batch that fails is sent again."""
        while True:
            batch = [await self._waiting.get()]
            while len(batch) < STEP_COMMANDS and not self._waiting.empty():
                batch.append(self._waiting.get_nowait())
            args: list[Any] = [self.process_id, self.prefix, MAX_STREAM, self._taken]
            for item in batch:
                args.extend(item)
            delay = 0.05
            while True:
                try:
                    await self._submit(keys=[self.key("commands"), self.key("where")], args=args)
                    break
                except Exception as exc:  # Redis away: keep the batch, try again
                    log.warning("could not forward %d lobby commands to Redis: %s", len(batch), exc)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 2.0)
            for _ in batch:
                self._waiting.task_done()

    async def _listen(self) -> None:
        """Delivers what the leader (or an admin on another process) sends this process's pages."""
        assert self._subscriber is not None
        while True:
            try:
                message = await self._subscriber.get_message(
                    ignore_subscribe_messages=True, timeout=1.0
                )
            except Exception as exc:
                log.warning("lost the lobby's channel in Redis: %s", exc)
                await asyncio.sleep(0.5)
                continue
            if message is None or message.get("type") != "message":
                continue
            data: str = message["data"]
            head, _, text = data.partition("\n")
            try:
                if head.startswith("!"):
                    self._end_connection(head[1:], text)
                else:
                    if text.endswith('"type":"match"}'):  # MatchFound: remember the match
                        found = json.loads(text)
                        self._known[(head, found["scene_id"])] = found["match_id"]
                    self._deliver(head, text)
            except Exception:
                log.exception("could not deliver a lobby message to %s", head[:80])

    async def _heartbeat(self) -> None:
        while True:
            try:
                async with self._redis.pipeline(transaction=False) as pipe:
                    pipe.set(self.key("alive:" + self.process_id), "1", px=self.alive_ms)
                    pipe.sadd(self.key("processes"), self.process_id)
                    await pipe.execute()
            except Exception as exc:
                log.warning("could not renew this process in Redis: %s", exc)
            await asyncio.sleep(self.alive_ms / 3000)

    # -- leading --------------------------------------------------------------------------------

    async def _lead(self) -> None:
        last_tick = 0.0
        while True:
            try:
                if not self.leading:
                    taken = await self._redis.set(
                        self.key("leader"), self.process_id, nx=True, px=self.lease_ms
                    )
                    if not taken:
                        await asyncio.sleep(self.lease_ms / 5000)
                        continue
                    await self._load()
                    last_tick = 0.0
                dead: list[str] = []
                if time.monotonic() - last_tick >= 1.0:
                    # first the pages of processes that stopped answering, so that nobody is
                    # matched with a page that is gone
                    last_tick = time.monotonic()
                    dead = await self._dead_processes()
                    self._run_safely(self.engine.expire)
                await self._step()
                if not await self._commit_step(dead):
                    log.warning("process %s lost the lobby's lease", self.process_id)
                    self.leading = False
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("the shared lobby's leader stopped leading: %s", exc)
                self.leading = False
                await asyncio.sleep(0.5)

    async def _load(self) -> None:
        """Take the state as the last leader committed it."""
        sessions, matches, pairs, cursor = await asyncio.gather(
            self._redis.hgetall(self.key("sessions")),
            self._redis.hgetall(self.key("matches")),
            self._redis.hgetall(self.key("pairs")),
            self._redis.get(self.key("cursor")),
        )
        self.engine.tracker = load_tracker(sessions, matches, pairs)
        self._mirror = Mirror(self.engine.tracker)
        self._cursor = cursor or "0-0"
        self._out.clear()
        self.leading = True
        log.info(
            "process %s leads the lobby (%d sessions, %d matches, from %s)",
            self.process_id,
            len(sessions),
            len(matches),
            self._cursor,
        )

    async def _step(self) -> None:
        read = await self._redis.xread(
            {self.key("commands"): self._cursor}, count=STEP_COMMANDS, block=100
        )
        for _stream, entries in read or ():
            for entry_id, fields in entries:
                self._cursor = entry_id
                try:
                    command = json.loads(fields["c"])
                except (KeyError, ValueError):
                    log.error("a lobby command in Redis is not JSON: %.200r", fields)
                    continue
                self._run(command)

    def _run(self, command: Mapping[str, Any]) -> None:
        op, pid, seq = command.get("op"), command.get("pid"), command.get("seq")
        a = command.get("a") or {}
        engine = self.engine
        try:
            if op == "join":
                engine.join(pid, self._scene(a["scene"]), a["attributes"], a["rtt"])
            elif op == "leave":
                engine.leave(pid, a["scene"], a["reason"])
            elif op == "signal":
                engine.signal(pid, a["match"], a["to"], a["data"])
            elif op == "relay":
                engine.relay(pid, a["match"], a["to"], a["packets"], a["controls"])
            elif op == "probe":
                engine.probe(pid, a["match"], a["ok"], a["rtt"])
            elif op == "finish":
                engine.finish(pid, a["scene"])
            elif op == "disconnected":
                engine.disconnected(pid, bool(a.get("bye")))
            elif op == "pause":
                engine.pause_report(
                    pid, PauseReport(type="pause", token="", seq=seq, **a["report"])
                )
            elif op == "reconnect":
                engine.reconnect(pid, a["match"], a["to"], a["gen"])
            elif op == "exclude":
                end = a.get("end")
                engine.exclude(pid, a["reason"], None if end is None else (end[0], end[1]))
            elif op == "reconnected":
                engine.reconnected(pid)
            elif op == "page":
                engine.page_requested(pid)
            elif op == "episode_closed":
                self._checks.start(
                    engine.episode_closed(pid, self._scene(a["scene"]), a["episode"])
                )
            else:
                log.error("unknown lobby command %.80r", op)
                return
        except ProtocolError as exc:
            if op in _ANSWERED:
                self._from_engine(pid, Error(exc.code, exc.message, seq))
            return
        except Exception:
            log.exception("the lobby failed on %s from %s", op, pid)
            return
        if op in ("join", "leave", "probe", "pause") and seq is not None:
            self._from_engine(pid, Ack(seq))

    def _run_safely(self, function: Callable[[], None]) -> None:
        try:
            function()
        except Exception:
            log.exception("the lobby's %s failed", getattr(function, "__name__", function))

    def _scene(self, scene_id: str) -> GameScene:
        scene = self.engine.experiment.scene(scene_id)
        assert isinstance(scene, GameScene)
        return scene

    def _from_engine(self, participant_id: str, message: Outgoing) -> None:
        self._out.append((participant_id, encode(message)))

    async def _dead_processes(self) -> list[str]:
        """Processes whose alive key expired; their pages are taken as disconnected."""
        processes = [
            p for p in await self._redis.smembers(self.key("processes")) if p != self.process_id
        ]
        if not processes:
            return []
        alive = await asyncio.gather(
            *(self._redis.exists(self.key("alive:" + p)) for p in processes)
        )
        dead = [p for p, up in zip(processes, alive, strict=True) if not up]
        for process in dead:
            pids = list(await self._redis.smembers(self.key("on:" + process)))
            where = await self._redis.hmget(self.key("where"), pids) if pids else []
            gone = [pid for pid, at in zip(pids, where, strict=True) if at == process]
            log.warning(
                "igym process %s stopped answering: %d of its pages disconnected",
                process,
                len(gone),
            )
            for pid in gone:
                self._run_safely(lambda pid=pid: self.engine.disconnected(pid))
        return dead

    async def _commit_step(self, dead: Sequence[str]) -> bool:
        assert self._mirror is not None
        changes = self._mirror.changes(self.engine.tracker)
        out, self._out = self._out, []
        args: list[Any] = [
            self.process_id,
            self.lease_ms,
            self._cursor if self._cursor != "0-0" else "",
            self.prefix,
            len(changes.sessions),
            len(changes.matches),
            len(changes.pairs),
            len(out),
            len(dead),
        ]
        for group in (changes.sessions, changes.matches, changes.pairs):
            for k, v in group.items():
                args.extend((k, v))
        for pid, text in out:
            args.extend((pid, text))
        args.extend(dead)
        keys = [
            self.key(name)
            for name in (
                "leader",
                "sessions",
                "matches",
                "pairs",
                "cursor",
                "commands",
                "where",
                "processes",
            )
        ]
        return bool(await self._commit(keys=keys, args=args))

    # -- running ----------------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect (a clear error when Redis does not answer) and start the tasks."""
        try:
            await self._redis.ping()
        except Exception as exc:
            raise RuntimeError(f"Redis at {self.redis_url} does not answer: {exc}") from None
        self._subscriber = self._redis.pubsub(ignore_subscribe_messages=True)
        await self._subscriber.subscribe(self.key("to:" + self.process_id))
        for work in (self._heartbeat, self._listen, self._forwarder, self._lead):
            self._tasks.append(asyncio.ensure_future(work()))

    async def stop(self, flush_s: float = 2.0) -> None:
        """Forward what is queued and finish the parity checks under way (at most ``flush_s``
        each), give the lease up, stop."""
        try:
            await asyncio.wait_for(self._waiting.join(), flush_s)
        except TimeoutError:
            log.warning("%d lobby commands were not forwarded", self._waiting.qsize())
        await self._checks.finish(flush_s)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        try:
            if self.leading:
                await self._resign(keys=[self.key("leader")], args=[self.process_id])
            await self._redis.delete(self.key("alive:" + self.process_id))
            if self._subscriber is not None:
                await self._subscriber.aclose()
        except Exception as exc:
            log.warning("could not say goodbye to Redis: %s", exc)
        finally:
            self.leading = False
            await self._redis.aclose()
