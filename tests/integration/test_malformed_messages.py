"""1,000 malformed messages each get an error naming the problem; nobody else is disturbed."""

from __future__ import annotations

import asyncio
import json
import random

from igym_core.server.limits import Limits
from tests.integration.conftest import Page

#: this test is about every error naming its problem: its budgets let 1,000 bad messages through
GENEROUS = Limits(
    bad_messages_close=5000, message_burst=5000, bad_messages_logged=1000, byte_burst=10**9
)


def malformed(rng: random.Random, token: str, other_token: str) -> tuple[str | bytes, str, str]:
    """One bad message, the error code it must get, and a word the message must contain."""
    kind = rng.randrange(16)
    seq = rng.randrange(1, 10**6)
    submit = {"type": "submit", "token": token, "seq": seq, "scene_id": "consent", "responses": {}}
    if kind == 0:
        return "{not json" + "x" * rng.randrange(50), "not_json", "not JSON"
    if kind == 1:
        return json.dumps([1, 2, 3]), "invalid", "JSON object"
    if kind == 2:
        return (
            json.dumps({"type": rng.choice(["hack", "", 7, None])}),
            "unknown_type",
            "unknown message type",
        )
    if kind == 3:
        return (
            json.dumps({k: v for k, v in submit.items() if k != "scene_id"}),
            "invalid",
            "scene_id",
        )
    if kind == 4:
        return json.dumps({**submit, "seq": "seven"}), "invalid", "$.seq"
    if kind == 5:
        return json.dumps({**submit, "responses": ["agree"]}), "invalid", "$.responses"
    if kind == 6:
        return json.dumps({**submit, "responses": {"agree": {"deep": 1}}}), "invalid", "$.responses"
    if kind == 7:
        return json.dumps({**submit, "pad": "x" * 1_000_000}), "too_large", "limit"
    if kind == 8:
        return json.dumps({**submit, "token": other_token}), "bad_token", "does not belong"
    if kind == 9:
        return json.dumps({**submit, "token": "forged" + str(seq)}), "bad_token", "does not belong"
    if kind == 10:
        return json.dumps({**submit, "scene_id": "end"}), "wrong_scene", "not the current scene"
    if kind == 11:
        return json.dumps({**submit, "scene_id": "nope"}), "unknown_scene", "no scene 'nope'"
    if kind == 12:
        return json.dumps({**submit, "responses": {"agree": "yes"}}), "invalid_response", "'agree'"
    if kind == 13:
        return (
            json.dumps({**submit, "responses": {"agree": True, "evil": 1}}),
            "invalid_response",
            "'evil'",
        )
    if kind == 14:
        return bytes(rng.randrange(256) for _ in range(32)), "not_json", "binary"
    return "[" * 100_000 + "]" * 100_000, "too_large", "limit"


async def test_a_thousand_malformed_messages(make_app):
    app = make_app(limits=GENEROUS)
    client = app.test_client()
    rng = random.Random(20261126)
    store = app.extensions["igym"].store

    async def attacker(victim_token: asyncio.Future) -> None:
        async with client.websocket("/ws") as ws:
            page = Page(ws)
            # before hello, anything with a token is refused
            await page.send(
                {"type": "submit", "token": "t", "seq": 1, "scene_id": "consent", "responses": {}}
            )
            assert (await page.recv())["code"] == "not_identified"
            await page.hello(subject_id="attacker")
            other = await victim_token
            for i in range(1000):
                raw, code, word = malformed(rng, page.token, other)
                await page.send(raw)
                reply = await page.recv()
                assert reply["type"] == "error", (i, raw[:80], reply)
                assert reply["code"] == code, (i, raw[:80], reply)
                assert word in reply["message"], (i, raw[:80], reply)
                if i % 50 == 0:
                    await asyncio.sleep(0)  # let the honest participant interleave
            # the attacker's own state is untouched, and the connection still works
            assert store.participant("attacker").scene_index == 0
            await page.send({"type": "ping", "t": 1.5})
            assert await page.recv() == {"type": "pong", "t": 1.5}

    async def honest(victim_token: asyncio.Future) -> None:
        async with client.websocket("/ws") as ws:
            page = Page(ws)
            await page.hello(subject_id="honest")
            victim_token.set_result(page.token)
            for responses in ({"agree": True}, {"age": 31, "hand": "left", "note": "fine"}):
                await asyncio.sleep(0.01)
                replies = await page.submit(responses)
                assert replies[0]["type"] == "ack", replies
            assert page.scene["scene"]["kind"] == "end"

    token: asyncio.Future = asyncio.get_running_loop().create_future()
    await asyncio.wait_for(asyncio.gather(attacker(token), honest(token)), timeout=120)

    assert store.integrity_ok()
    assert store.participant("honest").status == "completed"
    assert store.responses_for("honest", "survey") == {"age": 31, "hand": "left", "note": "fine"}
    assert store.responses_for("attacker", "consent") == {}
    store.flush()  # rejected messages are logged by background writes
    bad = [e for e in store.reader().events() if e["kind"] == "bad_message"]
    # 1,001 were refused on one connection; logging stops at the per-connection bound
    assert len(bad) == GENEROUS.bad_messages_logged == 1000
    assert {e["participant_id"] for e in bad} == {None, "attacker"}
