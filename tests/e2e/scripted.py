"""Scripted participants: websocket clients that go through a study as a page would.

They speak the participant protocol over a real websocket and upload true game records: a
single-player episode is played in CPython with the same ``LocalPlay`` the worker runs (the
human seat driven by the environment's scripted policy), a multiplayer episode by stepping the
environment with every agent's action (both members upload the same canonical rows, as rollback
peers do). So what they store replays exactly, and parity holds. Used by the admin console's
browser test and its load check; both run them on a thread of their own (Playwright's sync API
holds the main thread's event loop).
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

import attrs
from websockets.asyncio.client import ClientConnection, connect

from igym_core.runtime.game import EnvGame, load_callable
from igym_core.runtime.play import LocalPlay

CHUNK = 30
#: what plays every human seat (the Overcooked pack's scripted cook)
COOK = "igym_overcooked.policies:scripted_cook"


@attrs.define
class Plan:
    """What one scripted participant does."""

    subject: str
    #: answers for static scenes, by scene id (missing scenes: every field filled in)
    answers: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    #: seconds to wait between steps (so a watcher sees them happen)
    pace_s: float = 0.0
    #: report a browser error in the first game scene and stop there
    fail_game: bool = False
    #: stop after this many scenes (None: go to the end)
    stop_after: int | None = None


@attrs.define
class Outcome:
    subject: str
    participant_id: str | None = None
    scenes: list[str] = attrs.field(factory=list)
    episodes: list[tuple[str, int, int]] = attrs.field(factory=list)
    matches: list[str] = attrs.field(factory=list)
    parity: list[str] = attrs.field(factory=list)
    error: dict[str, Any] | None = None
    welcomed_at: float | None = None
    done: bool = False


class Participant:
    def __init__(self, base_url: str, plan: Plan) -> None:
        self.url = base_url.replace("http://", "ws://") + "/ws"
        self.origin = base_url
        self.plan = plan
        self.ws: ClientConnection | None = None
        self.token: str | None = None
        self.seq = 0
        self.outcome = Outcome(plan.subject)
        self.scene: dict[str, Any] = {}
        self._waiting: list[dict[str, Any]] = []

    async def run(self) -> Outcome:
        async with connect(self.url, origin=self.origin, max_size=None) as ws:  # type: ignore[arg-type]
            self.ws = ws
            await self._send({"type": "hello", "params": {"subject_id": self.plan.subject}})
            welcome = await self._recv()
            if welcome["type"] != "welcome":
                self.outcome.error = welcome
                return self.outcome
            self.outcome.welcomed_at = time.time()
            self.token = welcome["token"]
            self.outcome.participant_id = welcome["participant_id"]
            self.scene = (await self._until("scene"))["scene"]
            while self.scene["kind"] != "end":
                if (
                    self.plan.stop_after is not None
                    and len(self.outcome.scenes) >= self.plan.stop_after
                ):
                    return self.outcome
                self.outcome.scenes.append(self.scene["id"])
                await self._pause()
                if self.scene["kind"] == "game" and self.scene.get("multiplayer"):
                    await self._multiplayer()
                elif self.scene["kind"] == "game":
                    if self.plan.fail_game:
                        await self._request(
                            {
                                "type": "event",
                                "name": "game_error",
                                "data": {
                                    "code": "game_failed",
                                    "message": "The game stopped unexpectedly (the worker crashed)",
                                    "episode": 0,
                                },
                            }
                        )
                        return self.outcome
                    await self._single()
                reply = await self._request(
                    {"type": "submit", "scene_id": self.scene["id"], "responses": self._answers()}
                )
                if reply["type"] != "ack":
                    self.outcome.error = reply
                    return self.outcome
                self.scene = (await self._until("scene"))["scene"]
            self.outcome.done = True
            return self.outcome

    # -- scenes ---------------------------------------------------------------------------------

    def _answers(self) -> dict[str, Any]:
        scene = self.scene
        if scene["id"] in self.plan.answers:
            return self.plan.answers[scene["id"]]
        out: dict[str, Any] = {}
        for field in scene.get("fields") or ():
            kind = field["kind"]
            if kind == "checkbox":
                out[field["name"]] = True
            elif kind == "number":
                out[field["name"]] = field.get("min") or 30
            elif kind in ("choice", "likert"):
                out[field["name"]] = field["choices"][0]
            elif kind == "multichoice":
                out[field["name"]] = field["choices"][:1]
            else:
                out[field["name"]] = f"answer of {self.plan.subject}"
        return out

    async def _single(self) -> None:
        scene = self.scene
        play = LocalPlay(scene)
        policy = load_callable(COOK)
        for episode in range(scene["episodes"]):
            seed = scene["seeds"][episode]
            play.start(episode, seed)
            human = policy(play.human, seed)
            records = []
            while not play.done:
                action = int(human.act(play.game.observe(play.human_index)))  # type: ignore[union-attr]
                records.append(play.tick(action)["record"])
            await self._upload(episode, records, {"score": play.score})

    async def _multiplayer(self) -> None:
        scene = self.scene
        await self._request(
            {"type": "lobby_join", "scene_id": scene["id"], "attributes": {}, "server_rtt_ms": 1.0}
        )
        match = await self._until("match")
        self.outcome.matches.append(match["match_id"])
        await self._pause()
        await self._request(
            {
                "type": "probe",
                "match_id": match["match_id"],
                "ok": True,
                "rtt_ms": 2.0 + match["you"],
            }
        )
        await self._until("match_start")
        for episode in range(scene["episodes"]):
            records = canonical_episode(scene, match["seeds"][episode])
            rtt = round(3.0 + 2 * episode + random.Random(episode).random(), 2)
            await self._request(
                {
                    "type": "event",
                    "name": "p2p_health",
                    "data": {"episode": episode, "ok": True, "rtt_ms": rtt},
                }
            )
            summary = {
                "score": sum(r["rewards"][scene["human_agent"]] for r in records),
                "p2p_rollbacks": 4 * (episode + 1) + match["you"],
                "p2p_stalls": episode,
                "p2p_p2p_rtt_ms": rtt + 0.5,
                "p2p_packets_sent": len(records) * 2,
                "relayed_out": episode * 3,
                "latency_p50_ms": 20.0 + episode,
                "latency_p95_ms": 30.0 + episode,
            }
            await self._upload(episode, records, summary)
            parity = await self._until("parity")
            self.outcome.parity.append(parity["status"])

    async def _upload(
        self, episode: int, records: list[dict[str, Any]], summary: dict[str, Any]
    ) -> None:
        scene_id = self.scene["id"]
        await self._request({"type": "episode_start", "scene_id": scene_id, "episode": episode})
        now = 1000.0
        for start in range(0, len(records), CHUNK):
            chunk = []
            for record in records[start : start + CHUNK]:
                tick = now + record["frame"] * 33.3
                chunk.append(
                    {
                        **record,
                        "t": {"key": None, "tick": tick, "step": tick + 0.4, "drawn": tick + 9.0},
                    }
                )
            await self._request(
                {"type": "frames", "scene_id": scene_id, "episode": episode, "records": chunk}
            )
            await self._pause(0.25)
        await self._request(
            {
                "type": "episode_end",
                "scene_id": scene_id,
                "episode": episode,
                "frames": len(records),
                "summary": summary,
            }
        )
        self.outcome.episodes.append((scene_id, episode, len(records)))

    # -- the protocol ---------------------------------------------------------------------------

    async def _pause(self, share: float = 1.0) -> None:
        if self.plan.pace_s:
            await asyncio.sleep(self.plan.pace_s * share)

    async def _send(self, message: dict[str, Any]) -> None:
        assert self.ws is not None
        await self.ws.send(json.dumps(message))

    async def _recv(self) -> dict[str, Any]:
        assert self.ws is not None
        if self._waiting:
            return self._waiting.pop(0)
        return json.loads(await asyncio.wait_for(self.ws.recv(), 60))

    async def _request(self, message: dict[str, Any]) -> dict[str, Any]:
        """Send with a token and seq; the answer to it (ack or error), keeping other messages."""
        self.seq += 1
        seq = self.seq
        await self._send({**message, "token": self.token, "seq": seq})
        kept = []
        try:
            while True:
                reply = await self._recv_new()
                if reply["type"] in ("ack", "error") and reply.get("seq") == seq:
                    return reply
                kept.append(reply)
        finally:
            self._waiting.extend(kept)

    async def _recv_new(self) -> dict[str, Any]:
        assert self.ws is not None
        return json.loads(await asyncio.wait_for(self.ws.recv(), 60))

    async def _until(self, kind: str) -> dict[str, Any]:
        while True:
            for i, message in enumerate(self._waiting):
                if message["type"] == kind:
                    return self._waiting.pop(i)
            message = await self._recv_new()
            if message["type"] == kind:
                return message
            if message["type"] == "error" and message.get("seq") is None:
                raise RuntimeError(f"{self.plan.subject}: {message}")
            self._waiting.append(message)


def canonical_episode(scene: dict[str, Any], seed: int) -> list[dict[str, Any]]:
    """A multiplayer episode's canonical rows: every agent played by the environment's scripted
    policy, the state hash every ``hash_interval`` frames and after the last one."""
    env = scene["env"]
    agents = list(env["agent_ids"])
    game = EnvGame(load_callable(env["factory"])(**env["kwargs"]), seed=seed, agent_ids=agents)
    cook = load_callable(COOK)
    cooks = [cook(a, seed) for a in agents]
    interval = int((scene.get("multiplayer") or {}).get("hash_interval") or 30)
    rows = []
    for frame in range(int(scene["max_steps"])):
        actions = [int(c.act(game.observe(i))) for i, c in enumerate(cooks)]
        outcome = game.step(actions)
        last = outcome.terminated or outcome.truncated or frame + 1 == scene["max_steps"]
        row = {
            "frame": frame,
            "actions": dict(zip(agents, actions, strict=True)),
            "rewards": dict(zip(agents, outcome.rewards, strict=True)),
            "terminated": outcome.terminated,
            "truncated": outcome.truncated or (last and not outcome.terminated),
            "focused": dict.fromkeys(agents, True),
            "infos": {},
        }
        if last or (frame + 1) % interval == 0:
            row["state_hash"] = game.state_hash().hex()
        rows.append(row)
        if last:
            break
    return rows


def run_in_thread(
    work: Callable[[], Coroutine[Any, Any, Any]],
) -> tuple[threading.Thread, dict[str, Any]]:
    """Run ``work()`` on a thread with its own event loop; ``result["value"]`` or
    ``result["error"]`` once the thread is done."""
    result: dict[str, Any] = {}

    def main() -> None:
        try:
            result["value"] = asyncio.run(work())
        except BaseException as exc:  # reported by the test that joins the thread
            result["error"] = exc

    thread = threading.Thread(target=main, name="scripted-participants", daemon=True)
    thread.start()
    return thread, result


async def run_all(base_url: str, plans: Sequence[Plan], stagger_s: float = 0.0) -> list[Outcome]:
    """Every plan as its own participant, started ``stagger_s`` apart."""

    async def one(i: int, plan: Plan) -> Outcome:
        await asyncio.sleep(i * stagger_s)
        return await Participant(base_url, plan).run()

    return list(await asyncio.gather(*(one(i, p) for i, p in enumerate(plans))))
