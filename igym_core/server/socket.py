"""One participant websocket, from handshake to close, inside its budgets.

:class:`ParticipantSocket` runs the connection: it refuses a foreign ``Origin`` before the
handshake, closes a socket that says no hello in time, spends the per-connection message budget
before a message is parsed, hands what is accepted to :class:`ParticipantService`, and sends
replies through a bounded :class:`Outbox` (a page that stops reading is disconnected, not
buffered for). The transport refuses messages over ``Limits.max_message_bytes`` before they are
buffered (see :mod:`igym_core.server.transport`), and :class:`BoundedWebsocketConnection` keeps
Quart's own receive queue short, so a page that sends faster than the server handles is slowed
down by TCP instead of filling memory.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Callable

from quart.asgi import ASGIWebsocketConnection
from quart.wrappers import Websocket

from igym_core.server.limits import Limits, TokenBucket
from igym_core.server.participants import Connection, ParticipantService
from igym_core.server.protocol import (
    Error,
    Later,
    Outgoing,
    ProtocolError,
    decode,
    encode,
    peek_seq,
)
from igym_core.storage.writer import StoreBusy

log = logging.getLogger("igym.server")

#: messages Quart keeps for a websocket handler that is busy: beyond that, TCP pushes back
RECEIVE_QUEUE = 8
#: close codes (RFC 6455 §7.4): policy violation, and "try again later"
CLOSE_POLICY = 1008
CLOSE_TRY_AGAIN = 1013


class BoundedWebsocketConnection(ASGIWebsocketConnection):
    """Quart's websocket connection with a bounded receive queue (Quart's is unbounded)."""

    def __init__(self, app, scope) -> None:  # type: ignore[no-untyped-def]
        super().__init__(app, scope)
        self.queue = asyncio.Queue(maxsize=RECEIVE_QUEUE)


class Outbox:
    """Replies waiting to be written to one socket, bounded in count and bytes."""

    def __init__(self, limits: Limits, overflow: Callable[[str], None]) -> None:
        self.limits = limits
        self._overflow = overflow
        self._items: collections.deque[str] = collections.deque()
        self._bytes = 0
        self._ready = asyncio.Event()
        self.overflowed = False

    def put(self, message: Outgoing | str) -> None:
        """Queue a message (or its encoded text, as another process sends it)."""
        if self.overflowed:
            return
        text = message if isinstance(message, str) else encode(message)
        if (
            len(self._items) >= self.limits.outbox_messages
            or self._bytes + len(text) > self.limits.outbox_bytes
        ):
            self.overflowed = True
            waiting = len(self._items)
            self._items.clear()
            self._bytes = 0
            self._ready.set()
            self._overflow(
                f"the page did not read its messages ({waiting} waiting, at most "
                f"{self.limits.outbox_messages} or {self.limits.outbox_bytes} bytes)"
            )
            return
        self._items.append(text)
        self._bytes += len(text)
        self._ready.set()

    async def get(self) -> str | None:
        """The next reply, or None once the outbox overflowed."""
        while not self._items and not self.overflowed:
            self._ready.clear()
            await self._ready.wait()
        if self.overflowed:
            return None
        text = self._items.popleft()
        self._bytes -= len(text)
        return text

    def __len__(self) -> int:
        return len(self._items)


class ParticipantSocket:
    """Runs one accepted websocket until it closes or breaks a budget."""

    def __init__(
        self,
        websocket: Websocket,
        service: ParticipantService,
        limits: Limits,
        address: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.websocket = websocket
        self.service = service
        self.limits = limits
        self.outbox = Outbox(limits, self.close)
        self.conn = Connection(send=self.outbox.put, address=address, close=self.close)
        self.rate = TokenBucket(limits.messages_per_s, limits.message_burst, clock)
        self.volume = TokenBucket(limits.bytes_per_s, limits.byte_burst, clock)
        self.closing: str | None = None
        self._stop = asyncio.Event()
        #: replies still to come (:class:`Later`): a chunk's ack, once it is stored
        self._later: set[asyncio.Task] = set()

    def close(self, reason: str) -> None:
        """End this connection (the page will reconnect): a budget was broken."""
        if self.closing is None:
            self.closing = reason
        self._stop.set()

    async def run(self) -> None:
        await self.websocket.accept()
        tasks = {
            asyncio.ensure_future(self._send_loop()),
            asyncio.ensure_future(self._receive_loop()),
            asyncio.ensure_future(self._stop.wait()),
        }
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            # the writes behind replies still to come are done all the same: only the acks,
            # which nobody would read, are dropped
            tasks |= self._later
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.service.disconnected(self.conn)
            if self.closing is not None:
                log.warning(
                    "closed the websocket of %s (%s): %s",
                    self.conn.participant_id or "a page that said no hello",
                    self.conn.address,
                    self.closing,
                )
                if self.conn.participant_id is not None:
                    self.service.store.add_event(
                        self.conn.participant_id,
                        "connection_closed",
                        {"reason": self.closing[:300]},
                        self.service.clock(),
                        background=True,
                    )
                code = CLOSE_TRY_AGAIN if self.outbox.overflowed else CLOSE_POLICY
                try:  # the page may not be reading at all: do not wait for it
                    await asyncio.wait_for(self.websocket.close(code, self.closing[:120]), 1)
                except (TimeoutError, asyncio.CancelledError, Exception):
                    pass

    async def _send_loop(self) -> None:
        while True:
            text = await self.outbox.get()
            if text is None:
                return
            await self.websocket.send(text)

    async def _receive_loop(self) -> None:
        conn = self.conn
        # the loop also stops by itself once the connection is being closed
        while not self._stop.is_set():
            hello = conn.participant_id is None
            timeout = self.limits.hello_timeout_s if hello else self.limits.idle_timeout_s
            try:
                async with asyncio.timeout(timeout):  # no task per message, as wait_for makes
                    raw = await self.websocket.receive()
            except TimeoutError:
                self.close(
                    f"no hello within {timeout:g} s" if hello else f"silent for {timeout:g} s"
                )
                return
            if self._stop.is_set():
                return
            if not self.rate.take():
                await self._refuse(
                    ProtocolError(
                        "rate_limited",
                        f"more than {self.limits.messages_per_s:g} messages a second; "
                        "this one was not read, send it again later",
                        peek_seq(raw),
                    )
                )
            elif not self.volume.take(len(raw)):
                await self._refuse(
                    ProtocolError(
                        "rate_limited",
                        f"more than {self.limits.bytes_per_s / 1024:g} KiB a second; "
                        "this message was not read, send it again later",
                        peek_seq(raw),
                    )
                )
            else:
                await self._handle(raw)
            if conn.bad_messages >= self.limits.bad_messages_close:
                self.close(f"{conn.bad_messages} messages were refused")
                return

    async def _handle(self, raw: str | bytes) -> None:
        seq = None
        try:
            message = decode(raw, self.limits.max_message_bytes)
            seq = getattr(message, "seq", None)
            replies = await self.service.handle(self.conn, message)
        except Exception as exc:
            await self._failed(exc, seq)
            return
        for reply in replies:
            if isinstance(reply, Later):
                await self._defer(reply, seq)
            else:
                self.conn.send(reply)

    async def _failed(self, exc: Exception, seq: int | None) -> None:
        """Answer a message whose handling failed."""
        if isinstance(exc, ProtocolError):
            await self._refuse(exc if exc.seq is not None or seq is None else exc.with_seq(seq))
        elif isinstance(exc, StoreBusy):
            self.conn.send(Error("store_busy", str(exc), seq))
        else:  # a bug must cost one reply, not the connection or the server
            log.error("error handling a message from %s", self.conn.participant_id, exc_info=exc)
            self.conn.send(Error("server_error", "the server could not handle this message", seq))

    async def _defer(self, later: Later, seq: int | None) -> None:
        """Send ``later``'s replies when they come, reading on meanwhile; with
        ``Limits.writes_waiting`` of them waiting, first wait for one."""
        while len(self._later) >= self.limits.writes_waiting:
            await asyncio.wait(self._later, return_when=asyncio.FIRST_COMPLETED)
        task = asyncio.ensure_future(self._send_later(later, seq))
        self._later.add(task)
        task.add_done_callback(self._later.discard)

    async def _send_later(self, later: Later, seq: int | None) -> None:
        try:
            replies = await later.replies
        except Exception as exc:
            await self._failed(exc, seq)
            return
        for reply in replies:
            self.conn.send(reply)

    async def _refuse(self, error: ProtocolError) -> None:
        self.conn.send(Error(error.code, error.message, error.seq, error.detail))
        await self.service.record_bad_message(self.conn, error)


async def serve_participant(
    websocket: Websocket, service: ParticipantService, limits: Limits
) -> None:
    """The ``/ws`` handler (the :class:`~igym_core.server.gate.Gate` already let it in)."""
    address = websocket.scope.get("state", {}).get("igym_address", "local")
    await ParticipantSocket(websocket, service, limits, address).run()
