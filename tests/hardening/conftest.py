"""The hardening tests: attacks on a real igym server (a subprocess serving exactly as ``igym
run`` does), each on loopback, bounded in count and time, while a well-behaved participant
completes the study; the server's memory is read from /proc."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from tests.conftest import ROOT

HERE = Path(__file__).resolve().parent
STUDIES = {"static": ROOT / "examples/static_study.py", "mp": HERE / "mp_study.py"}


class Server:
    """One igym server process."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.process: subprocess.Popen[str] | None = None
        self.url = ""
        self.lines: list[str] = []

    def start(self) -> Server:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.hardening.serve", json.dumps(self.spec)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=ROOT,
        )
        assert self.process.stdout is not None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            self.lines.append(line)
            if " at http://" in line:
                self.url = line.rsplit(" at ", 1)[1].strip()
                break
            if not line and self.process.poll() is not None:
                break
        else:
            self.process.kill()
        if not self.url:
            raise RuntimeError("the server did not start:\n" + "".join(self.lines))
        os.set_blocking(self.process.stdout.fileno(), False)
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "ws"

    @property
    def store_path(self) -> Path:
        experiment = {"static": "static_study", "mp": "mp_study"}
        name = next(v for k, v in experiment.items() if str(STUDIES[k]) == self.spec["experiment"])
        return Path(self.spec["data_dir"]) / f"{name}.sqlite3"

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS")

    def output(self) -> str:
        """Everything the server printed so far."""
        assert self.process is not None and self.process.stdout is not None
        fd = self.process.stdout.fileno()
        chunks = []
        while True:
            try:
                chunk = os.read(fd, 65536)
            except (BlockingIOError, OSError):
                break
            if not chunk:
                break
            chunks.append(chunk)
        self.lines.append(b"".join(chunks).decode("utf-8", "replace"))
        return "".join(self.lines)

    def stop(self, timeout: float = 15) -> float:
        """SIGTERM; returns how long the process took to end."""
        assert self.process is not None
        if self.process.poll() is not None:
            return 0.0
        started = time.monotonic()
        self.process.terminate()
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise
        return time.monotonic() - started


@pytest.fixture
def hardened(tmp_path) -> Iterator[Any]:
    servers: list[Server] = []

    def start(study: str = "static", settings: dict | None = None, **limits: Any) -> Server:
        server = Server(
            {
                "experiment": str(STUDIES[study]),
                "data_dir": str(tmp_path / f"data{len(servers)}"),
                "limits": limits,
                "settings": settings or {},
            }
        )
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        if server.process is not None and server.process.poll() is None:
            server.process.kill()
            server.process.wait()


class Page:
    """A scripted participant's page on a real websocket: replies in order, pongs timed."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.seq = 0
        self.token: str | None = None
        self.participant_id: str | None = None
        self.scene: dict[str, Any] | None = None
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.rtts_ms: list[float] = []
        #: messages a request() passed over while it waited for its reply
        self.stash: list[dict[str, Any]] = []
        self.closed: asyncio.Event = asyncio.Event()
        self._reader = asyncio.ensure_future(self._read())

    @classmethod
    async def open(cls, url: str, **kwargs: Any) -> Page:
        return cls(await connect(url, max_size=None, **kwargs))

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                message = json.loads(raw)
                if message.get("type") == "pong":
                    self.rtts_ms.append((time.perf_counter() - message["t"]) * 1000)
                else:
                    await self.inbox.put(message)
        except Exception:
            pass
        finally:
            self.closed.set()

    async def send(self, message: dict[str, Any] | str) -> None:
        await self.ws.send(message if isinstance(message, str) else json.dumps(message))

    async def recv(self, timeout: float = 10) -> dict[str, Any]:
        if self.stash:
            return self.stash.pop(0)
        return await asyncio.wait_for(self.inbox.get(), timeout)

    async def until(self, kind: str, timeout: float = 10) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            message = await self.recv(max(0.01, deadline - time.monotonic()))
            if message["type"] == kind:
                return message

    async def hello(self, **params: str) -> dict[str, Any]:
        await self.send(
            {"type": "hello", "params": params, "participant_id": self.participant_id,
             "token": self.token}
        )  # fmt: skip
        welcome = await self.recv()
        if welcome["type"] == "welcome":
            self.token = welcome["token"]
            self.participant_id = welcome["participant_id"]
            self.scene = (await self.recv())["scene"]
        return welcome

    async def request(self, message: dict[str, Any]) -> dict[str, Any]:
        """Send a seq'd message; return its ack or error (other messages are skipped)."""
        self.seq += 1
        seq = self.seq
        await self.send({"token": self.token, "seq": seq, **message})
        passed = []
        while True:
            reply = await asyncio.wait_for(self.inbox.get(), 10)
            if reply["type"] in ("ack", "error") and reply.get("seq") == seq:
                self.stash.extend(passed)
                return reply
            passed.append(reply)

    async def submit(self, responses: dict[str, Any]) -> dict[str, Any]:
        assert self.scene is not None
        reply = await self.request(
            {"type": "submit", "scene_id": self.scene["id"], "responses": responses}
        )
        if reply["type"] == "ack":
            self.scene = (await self.until("scene"))["scene"]
        return reply

    async def ping(self) -> None:
        await self.send({"type": "ping", "t": time.perf_counter()})

    async def close(self) -> None:
        await self.ws.close()
        self._reader.cancel()


async def attack(name: str, server: Server, **args: Any) -> dict[str, Any]:
    """Run one of :mod:`tests.hardening.attacks` in its own process; its results."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.hardening.attacks", name, server.ws_url, json.dumps(args),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=ROOT,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, err.decode()
    return json.loads(out.decode().strip().splitlines()[-1])


STATIC_ANSWERS = ({"consent": True}, {"age": 33, "games": "Weekly", "comment": "fine"})


async def legit_participant(url: str, name: str, during: asyncio.Event) -> list[float]:
    """A well-behaved participant: pings every 20 ms while ``during`` is not set, completes
    the static study meanwhile, and returns its round trips (ms)."""
    page = await Page.open(url)
    try:
        while (reply := await page.hello(PROLIFIC_PID=name))["type"] != "welcome":
            assert reply["code"] == "store_busy", reply
            await asyncio.sleep(0.5)  # the store was busy: the page says hello again
        answers = list(STATIC_ANSWERS)
        while not during.is_set() or answers:
            await page.ping()
            if answers and len(page.rtts_ms) >= 5:
                reply = await page.submit(answers[0])
                if reply["type"] == "ack":
                    answers.pop(0)
                else:
                    assert reply["code"] == "store_busy", reply
            await asyncio.sleep(0.02)
        assert page.scene is not None and page.scene["kind"] == "end", page.scene
        return page.rtts_ms
    finally:
        await page.close()


def p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


async def settle_rss(server: Server, baseline: float, seconds: float = 10) -> float:
    """The server's RSS once it is back within 20% of ``baseline`` (or after ``seconds``)."""
    deadline = time.monotonic() + seconds
    rss = server.rss_mb()
    while rss > baseline * 1.2 and time.monotonic() < deadline:
        await asyncio.sleep(0.25)
        rss = server.rss_mb()
    return rss


def game_frames(steps: int) -> list[dict[str, Any]]:
    """What both members of a two-person Overcooked match upload for one episode."""
    return [
        {
            "frame": f,
            "actions": {"agent_0": f % 6, "agent_1": (f + 1) % 6},
            "rewards": {"agent_0": 0.0, "agent_1": 0.0},
            "terminated": False,
            "truncated": f == steps - 1,
            "focused": {"agent_0": True, "agent_1": True},
            "t": {"tick": float(f)},
        }
        for f in range(steps)
    ]


async def legit_member(url: str, name: str, during: asyncio.Event) -> list[float]:
    """One of a well-behaved pair in the multiplayer study: waits, is matched, passes the P2P
    check, uploads its episode, completes the study, pinging every 20 ms until ``during`` is
    set. Returns its round trips (ms)."""
    page = await Page.open(url)

    async def pinging() -> None:
        while not page.closed.is_set():
            await page.ping()
            await asyncio.sleep(0.02)

    pinger = asyncio.ensure_future(pinging())
    try:
        while (reply := await page.hello(PROLIFIC_PID=name))["type"] != "welcome":
            assert reply["code"] == "store_busy", reply
            await asyncio.sleep(0.5)
        assert (await page.submit({"consent": True}))["type"] == "ack"
        assert (await page.request({"type": "lobby_join", "scene_id": "game"}))["type"] == "ack"
        match = await page.until("match", timeout=30)
        probe = {"type": "probe", "match_id": match["match_id"], "ok": True, "rtt_ms": 1.0}
        assert (await page.request(probe))["type"] == "ack"
        await page.until("match_start", timeout=30)
        game = {"scene_id": "game", "episode": 0}
        assert (await page.request({"type": "episode_start", **game}))["type"] == "ack"
        frames = {"type": "frames", **game, "records": game_frames(10)}
        assert (await page.request(frames))["type"] == "ack"
        assert (await page.request({"type": "episode_end", **game, "frames": 10}))["type"] == "ack"
        assert (await page.until("parity", timeout=30))["status"] == "identical"
        assert (await page.submit({}))["type"] == "ack"
        assert page.scene is not None and page.scene["kind"] == "end", page.scene
        await during.wait()
        return page.rtts_ms
    finally:
        pinger.cancel()
        await page.close()


async def legit_pair(url: str, name: str, during: asyncio.Event) -> list[float]:
    """Two well-behaved members playing the multiplayer study; their round trips."""
    a, b = await asyncio.gather(
        legit_member(url, f"{name}-a", during), legit_member(url, f"{name}-b", during)
    )
    return a + b
