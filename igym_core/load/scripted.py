"""A scripted participant: speaks the participant protocol over a real websocket, as the page
does, and goes through whatever study the server hosts.

Static scenes are answered with valid values read from their fields; a single-player game
scene uploads every episode's frames in 0.5 s chunks at the scene's fps (on time, not waiting
for the previous chunk's ack, as a page's outbox does); a multiplayer scene
waits in the lobby, signals its partner, passes the P2P check, relays a few packets and
uploads the same canonical frames as its partner (so parity holds). Every seq'd message's
round trip (sent → ack) is timed, and so is a ping every second.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

#: frames a page sends per chunk: 0.5 s at 30 fps
CHUNK_S = 0.5


class ScriptError(Exception):
    """The server answered something a page could not go on from."""


def answer(field: dict[str, Any]) -> Any:
    """A valid answer to one form field."""
    kind = field["kind"]
    if kind == "checkbox":
        return True
    if kind == "number":
        low = field.get("min")
        return low if low is not None else 1
    if kind in ("choice", "likert"):
        return field["choices"][0]
    if kind == "multichoice":
        return field["choices"][:1]
    return "load test"


def frame_records(scene: dict[str, Any], first: int, count: int) -> list[dict[str, Any]]:
    """Frame records ``first .. first+count-1`` of an episode, as a page records them (every
    agent at its default action; the last frame truncates)."""
    agents = list(scene["seats"])
    default = int(scene["env"]["default_action"])
    last = scene["max_steps"] - 1
    humans = (scene.get("multiplayer") or {}).get("human_agents")
    records = []
    for frame in range(first, min(first + count, last + 1)):
        focused: Any = True if not humans else {a: (True if a in humans else None) for a in agents}
        records.append(
            {
                "frame": frame,
                "actions": dict.fromkeys(agents, default),
                "rewards": dict.fromkeys(agents, 0.0),
                "terminated": False,
                "truncated": frame == last,
                "focused": focused,
                "t": {"tick": float(frame)},
            }
        )
    return records


_CHUNKS: dict[tuple[str, int, int], list[tuple[str, int]]] = {}


def chunk_texts(scene: dict[str, Any], episode: int, per_chunk: int) -> list[tuple[str, int]]:
    """An episode's ``frames`` messages as JSON text without token and seq (every scripted
    participant of a scene sends the same ones: made once), with their record counts."""
    key = (scene["id"], episode, per_chunk)
    if key not in _CHUNKS:
        texts = []
        for first in range(0, scene["max_steps"], per_chunk):
            records = frame_records(scene, first, per_chunk)
            body = json.dumps(
                {"type": "frames", "scene_id": scene["id"], "episode": episode, "records": records},
                separators=(",", ":"),
            )
            texts.append((body[:-1], len(records)))
        _CHUNKS[key] = texts
    return _CHUNKS[key]


class ScriptedParticipant:
    """One participant, from hello to the end scene."""

    def __init__(
        self,
        url: str,
        name: str,
        record: Callable[[str, float], None],
        *,
        source: str | None = None,
        speed: float = 1.0,
        think_s: float = 0.0,
    ) -> None:
        self.url = url
        self.name = name
        self.record = record  # (kind, ms) → the run's statistics
        self.source = source
        self.speed = speed
        self.think_s = think_s  # seconds spent on each static page before continuing
        self.ws: ClientConnection | None = None
        self.token: str | None = None
        self.seq = 0
        self.scene: dict[str, Any] = {}
        self.waiters: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.frames_sent = 0
        self.frames_acked = 0
        self.messages = 0
        self.errors: dict[str, int] = {}
        self.done = False

    # -- the connection ---------------------------------------------------------------------------

    async def run(self, deadline: float) -> None:
        kwargs: dict[str, Any] = {"max_size": None, "open_timeout": 30}
        if self.source:
            kwargs["local_addr"] = (self.source, 0)
        async with connect(self.url, **kwargs) as ws:
            self.ws = ws
            reader = asyncio.ensure_future(self._read())
            pinger = asyncio.ensure_future(self._ping())
            try:
                await self._hello()
                while not self.done and time.monotonic() < deadline:
                    await self._play_scene(deadline)
            finally:
                pinger.cancel()
                reader.cancel()

    async def _read(self) -> None:
        assert self.ws is not None
        async for raw in self.ws:
            message = json.loads(raw)
            kind = message.get("type")
            if kind == "pong":
                self.record("ping", (time.perf_counter() - message["t"]) * 1000)
                continue
            seq = message.get("seq")
            if kind in ("ack", "error") and seq in self.waiters:
                self.waiters.pop(seq).set_result(message)
                continue
            if kind == "error":
                self._count_error(message["code"])
            await self.inbox.put(message)

    async def _ping(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            await self._send({"type": "ping", "t": time.perf_counter()})

    async def _send(self, message: dict[str, Any]) -> None:
        assert self.ws is not None
        self.messages += 1
        await self.ws.send(json.dumps(message, separators=(",", ":")))

    async def request(self, message: dict[str, Any] | str, kind: str = "request") -> dict[str, Any]:
        """Send a seq'd message and wait for its ack (timed) or error (counted, raised). A
        message given as JSON text (an object without its closing brace) gets token and seq
        appended, as a page's outbox does, without encoding it again."""
        self.seq += 1
        seq = self.seq
        waiter: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.waiters[seq] = waiter
        started = time.perf_counter()
        if isinstance(message, str):
            assert self.ws is not None
            self.messages += 1
            await self.ws.send(f'{message},"token":"{self.token}","seq":{seq}}}')
            message = {"type": "frames"}
        else:
            await self._send({**message, "token": self.token, "seq": seq})
        reply = await asyncio.wait_for(waiter, 30)
        if reply["type"] == "error":
            self._count_error(reply["code"])
            raise ScriptError(f"{message['type']}: {reply['code']}: {reply['message']}")
        self.record(kind, (time.perf_counter() - started) * 1000)
        return reply

    async def until(self, kind: str, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            message = await asyncio.wait_for(
                self.inbox.get(), max(0.01, deadline - time.monotonic())
            )
            if message.get("type") == kind:
                return message
            if message.get("type") == "scene":
                self.scene = message["scene"]

    def _count_error(self, code: str) -> None:
        self.errors[code] = self.errors.get(code, 0) + 1

    # -- the study --------------------------------------------------------------------------------

    async def _hello(self) -> None:
        started = time.perf_counter()
        await self._send({"type": "hello", "params": {"PROLIFIC_PID": self.name}})
        welcome = await self.until_any(("welcome", "error"))
        if welcome["type"] == "error":
            raise ScriptError(f"hello: {welcome['code']}: {welcome['message']}")
        self.record("hello", (time.perf_counter() - started) * 1000)
        self.token = welcome["token"]
        self.scene = (await self.until("scene"))["scene"]

    async def until_any(self, kinds: tuple[str, ...], timeout: float = 60) -> dict[str, Any]:
        while True:
            message = await asyncio.wait_for(self.inbox.get(), timeout)
            if message.get("type") in kinds:
                return message

    async def _play_scene(self, deadline: float) -> None:
        scene = self.scene
        if scene["kind"] == "end":
            self.done = True
            return
        if scene["kind"] == "game":
            if scene.get("mode") == "server":
                raise ScriptError(f"scene {scene['id']!r} is a server-mode game: not scripted")
            if scene.get("multiplayer"):
                await self._multiplayer(deadline)
            else:
                await self._single(deadline)
            if time.monotonic() >= deadline:
                return  # the run is over: the game was cut short, not finished
            responses: dict[str, Any] = {}
        else:
            responses = {f["name"]: answer(f) for f in scene.get("fields", [])}
            think = self.think_s * random.uniform(0.5, 1.5)  # people do not all click at once
            left = deadline - time.monotonic()
            await asyncio.sleep(max(0.0, min(think, left)))
            if think >= left:
                return  # the run ended while this page was being read: nobody clicks at the bell
        await self.request(
            {"type": "submit", "scene_id": scene["id"], "responses": responses}, "submit"
        )
        self.scene = (await self.until("scene"))["scene"]

    async def _episode(self, episode: int, deadline: float) -> None:
        scene = self.scene
        sid = scene["id"]
        await self.request({"type": "episode_start", "scene_id": sid, "episode": episode})
        fps = float(scene["fps"]) * self.speed
        per_chunk = max(1, round(scene["fps"] * CHUNK_S))
        sent = 0
        next_at = time.monotonic()
        chunks = chunk_texts(scene, episode, per_chunk)
        uploads = []
        for text, count in chunks:
            if time.monotonic() >= deadline:
                break
            next_at += per_chunk / fps
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            # as a page's outbox does: chunks go out on time, their acks come when they come
            uploads.append(asyncio.ensure_future(self._upload(text, count)))
            sent += count
        for failed in await asyncio.gather(*uploads, return_exceptions=True):
            if isinstance(failed, BaseException):
                raise failed
        await self.request(
            {"type": "episode_end", "scene_id": sid, "episode": episode, "frames": sent},
            "episode_end",
        )

    async def _upload(self, text: str, count: int) -> None:
        self.frames_sent += count
        await self.request(text, "frames")
        self.frames_acked += count

    async def _single(self, deadline: float) -> None:
        done = {p["episode"] for p in self.scene.get("progress", []) if p["status"] == "complete"}
        for episode in range(self.scene["episodes"]):
            if episode not in done:
                await self._episode(episode, deadline)

    async def _multiplayer(self, deadline: float) -> None:
        sid = self.scene["id"]
        await self.request({"type": "lobby_join", "scene_id": sid}, "lobby_join")
        match = await self.until("match", timeout=max(1.0, deadline - time.monotonic()))
        match_id = match["match_id"]
        partners = [m["peer"] for i, m in enumerate(match["members"]) if i != match["you"]]
        for peer in partners:  # the offer a page makes, and a candidate
            for data in ({"description": {"type": "offer", "sdp": "v=0"}}, {"candidate": "c"}):
                signal = {"type": "signal", "match_id": match_id, "to": peer, "data": data}
                await self._send({**signal, "token": self.token, "seq": 0})
        probe = {"type": "probe", "match_id": match_id, "ok": True, "rtt_ms": 1.0}
        await self.request(probe, "probe")
        await self.until("match_start")
        for peer in partners:  # a stalled data channel: a few packets through the server
            relay = {"type": "relay", "match_id": match_id, "to": peer, "packets": ["AAEC"]}
            await self._send({**relay, "token": self.token, "seq": 0})
        for episode in range(self.scene["episodes"]):
            await self._episode(episode, deadline)
            await self.until("parity")
