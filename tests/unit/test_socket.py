"""One participant socket's budgets, with a fake websocket: a page that stops reading is
disconnected once its outbox is full, one that says no hello in time is closed, and a socket
over its message rate gets errors without its messages being read."""

from __future__ import annotations

import asyncio
import json

from igym_core.server.limits import Limits
from igym_core.server.protocol import Ack, Later, Pong
from igym_core.server.socket import ParticipantSocket


class FakeWebsocket:
    def __init__(self, reads: int = 10**9) -> None:
        self.incoming: asyncio.Queue[str] = asyncio.Queue()
        self.sent: list[str] = []
        self.reads = reads  # how many messages the page reads before it stops
        self.closed: tuple[int, str] | None = None

    async def accept(self) -> None:
        pass

    async def receive(self) -> str:
        return await self.incoming.get()

    async def send(self, text: str) -> None:
        if len(self.sent) >= self.reads:
            await asyncio.Event().wait()  # the page stopped reading: the write never ends
        self.sent.append(text)

    async def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)


class PingService:
    store = None

    def __init__(self) -> None:
        self.handled = 0
        self.disconnects = 0

    async def handle(self, conn, message):
        self.handled += 1
        return [Pong(1.0)]

    async def disconnected(self, conn) -> None:
        self.disconnects += 1

    async def record_bad_message(self, conn, error) -> None:
        conn.bad_messages += 1

    def clock(self) -> float:
        return 0.0


async def test_a_page_that_stops_reading_is_disconnected_when_its_outbox_is_full():
    ws = FakeWebsocket(reads=3)
    service = PingService()
    sock = ParticipantSocket(ws, service, Limits(outbox_messages=50), "10.0.0.1")
    task = asyncio.ensure_future(sock.run())
    for _ in range(100):  # more come in while the connection is being closed
        await ws.incoming.put('{"type":"ping","t":1}')
        await asyncio.sleep(0)
    await asyncio.wait_for(task, 2)
    assert "did not read its messages (50 waiting" in sock.closing
    assert ws.closed is not None and ws.closed[0] == 1013
    assert service.disconnects == 1
    assert len(sock.outbox) == 0, "what was waiting is dropped, not kept"


async def test_a_socket_without_hello_is_closed_and_one_over_its_rate_is_not_read():
    ws = FakeWebsocket()
    service = PingService()
    limits = Limits(hello_timeout_s=0.2, message_burst=5, messages_per_s=1)
    sock = ParticipantSocket(ws, service, limits, "10.0.0.1")
    task = asyncio.ensure_future(sock.run())
    for seq in range(1, 11):
        await ws.incoming.put(json.dumps({"type": "ping", "t": 1.0, "seq": seq}))
    await asyncio.wait_for(task, 2)
    assert service.handled == 5, "beyond the burst nothing is parsed or handled"
    errors = [json.loads(t) for t in ws.sent if '"error"' in t]
    assert [e["seq"] for e in errors] == [6, 7, 8, 9, 10]
    assert {e["code"] for e in errors} == {"rate_limited"}
    assert sock.closing == "no hello within 0.2 s"


class SlowWriteService(PingService):
    """Frames are acked once their write is done (here: when the test says so)."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[asyncio.Future] = []

    async def handle(self, conn, message):
        self.handled += 1
        if message.type != "frames":
            return [Pong(message.t)]
        stored = asyncio.get_running_loop().create_future()
        self.writes.append(stored)

        async def ack():
            await stored
            return [Ack(message.seq)]

        return [Later(ack())]


def frames(seq: int) -> str:
    return json.dumps(
        {"type": "frames", "scene_id": "g", "episode": 0, "records": [], "token": "t", "seq": seq}
    )


async def replies(ws: FakeWebsocket, count: int) -> list[dict]:
    for _ in range(200):
        if len(ws.sent) >= count:
            break
        await asyncio.sleep(0.005)
    return [json.loads(t) for t in ws.sent]


async def test_a_ping_is_not_kept_behind_a_chunk_being_stored():
    ws = FakeWebsocket()
    service = SlowWriteService()
    sock = ParticipantSocket(ws, service, Limits(hello_timeout_s=5), "10.0.0.1")
    task = asyncio.ensure_future(sock.run())
    await ws.incoming.put(frames(1))
    await ws.incoming.put('{"type":"ping","t":7}')
    assert await replies(ws, 1) == [{"type": "pong", "t": 7}], "the pong comes while storing"
    service.writes[0].set_result(None)
    assert (await replies(ws, 2))[1] == {"type": "ack", "seq": 1}
    sock.close("done")
    await asyncio.wait_for(task, 2)


async def test_a_connection_waits_once_its_writes_waiting_budget_is_spent():
    ws = FakeWebsocket()
    service = SlowWriteService()
    sock = ParticipantSocket(ws, service, Limits(hello_timeout_s=5, writes_waiting=2), "x")
    task = asyncio.ensure_future(sock.run())
    for seq in (1, 2, 3):
        await ws.incoming.put(frames(seq))
    await ws.incoming.put('{"type":"ping","t":7}')
    await asyncio.sleep(0.05)
    # two chunks wait for their writes; the third is handled only once one is stored, and
    # nothing after it is read meanwhile
    assert service.handled == 3 and len(service.writes) == 3 and ws.sent == []
    service.writes[1].set_result(None)
    got = await replies(ws, 2)
    assert got == [{"type": "ack", "seq": 2}, {"type": "pong", "t": 7}]
    for write in service.writes:
        if not write.done():
            write.set_exception(RuntimeError("disk gone"))
    got = await replies(ws, 4)
    assert [m["code"] for m in got[2:]] == ["server_error", "server_error"]
    assert {m["seq"] for m in got[2:]} == {1, 3}
    sock.close("done")
    await asyncio.wait_for(task, 2)
