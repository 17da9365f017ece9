"""How Hypercorn carries igym's websockets: message size refused before buffering, no
compression, no server pings, a short graceful shutdown.

Hypercorn always accepts the ``permessage-deflate`` extension a browser offers, and inflates a
compressed frame completely before its size is checked: a few kilobytes on the wire become
gigabytes in memory. igym's messages are small JSON, so the server does not compress at all: the
extension is declined in the handshake (:func:`decline_compression`), every frame arrives as it
is sent, and it saves the compression state each open socket would otherwise hold.

Hypercorn's message buffer also appends what arrives before it compares the length with
``websocket_max_message_size``, goes on appending the rest of an oversized frame after it
refused it, and keeps reading (and unmasking, and decoding) whatever else the peer sends.
:class:`BoundedMessageBuffer` checks first, so no socket ever buffers more than
``Limits.max_message_bytes``, and :class:`GuardedStream` drops the connection right after
the "message too big" close frame (code 1009), so that the rest is never read.

These are set by replacing names in ``hypercorn.protocol`` (Hypercorn has no setting for
them); ``tests/hardening/test_transport.py`` fails if a Hypercorn release changes what they
rely on.
"""

from __future__ import annotations

import logging

from hypercorn.config import Config
from hypercorn.protocol import h2, h11, ws_stream
from hypercorn.protocol.events import Data, Event, StreamClosed
from wsproto.events import Message
from wsproto.extensions import Extension

from igym_core.settings import Settings

#: seconds open connections get to finish when the server stops
GRACEFUL_TIMEOUT_S = 2


class _DeclinedDeflate(Extension):
    """Stands where Hypercorn expects ``PerMessageDeflate``: it is offered, never accepted."""

    name = "permessage-deflate"

    def offer(self) -> bool:
        return False

    def accept(self, offer: str) -> bool:
        return False


def decline_compression() -> None:
    """Make Hypercorn decline ``permessage-deflate`` (it has no setting for it)."""
    ws_stream.PerMessageDeflate = _DeclinedDeflate  # type: ignore[misc]


class BoundedMessageBuffer(ws_stream.WebsocketBuffer):
    """Hypercorn's message buffer, refusing a piece that would make the message too long
    before it is added (and every piece after it)."""

    refused = False

    def extend(self, event: Message) -> None:
        if self.refused or self.length + len(event.data) > self.max_length:
            self.refused = True  # nothing more is added
            raise ws_stream.FrameTooLargeError()
        super().extend(event)


class GuardedStream(ws_stream.WSStream):
    """Hypercorn's websocket stream, closing the connection once a message was refused."""

    async def handle(self, event: Event) -> None:
        if self.closed:
            return
        if not (isinstance(event, Data) and getattr(self.buffer, "refused", False)):
            await super().handle(event)
        if not self.closed and getattr(self.buffer, "refused", False):
            await self.send(StreamClosed(stream_id=self.stream_id))


def guard_streams() -> None:
    ws_stream.WebsocketBuffer = BoundedMessageBuffer  # type: ignore[misc]
    for module in (h11, h2):
        module.WSStream = GuardedStream  # type: ignore[misc]


def hypercorn_config(settings: Settings, bind: str) -> Config:
    """The Hypercorn configuration every igym server uses."""
    decline_compression()
    guard_streams()
    config = Config()
    config.bind = [bind]
    config.accesslog = None
    config.errorlog = logging.getLogger("hypercorn.error")
    # no server pings: Hypercorn keeps each connection (and what it holds) alive until its
    # ping task next wakes up, which made every closed socket cost memory for 20 s. Pages ping
    # the server every few seconds instead, and a socket silent for Limits.idle_timeout_s is
    # closed (igym_core.server.socket).
    config.websocket_ping_interval = None
    config.websocket_max_message_size = settings.limits.max_message_bytes
    config.graceful_timeout = GRACEFUL_TIMEOUT_S
    return config
