"""A websocket client on a raw socket, for sending what no library would: compressed frames
nobody agreed to, frames that claim to be huge, and a page that never reads."""

from __future__ import annotations

import base64
import json
import os
import socket
import struct
import zlib


class RawSocket(socket.socket):
    """A socket that keeps the handshake response's headers."""

    headers: dict[str, str]
    status: int


#: where attackers connect from: another loopback address than the well-behaved participants
ATTACKER = "127.0.0.2"


def handshake(
    url: str,
    extensions: str | None = None,
    rcvbuf: int | None = None,
    source: str = ATTACKER,
    expect: int = 101,
) -> RawSocket:
    """Open ``ws://127.0.0.1:PORT/ws`` from ``source``; the response's headers are in
    ``sock.headers`` (its status in ``sock.status``)."""
    host, port = url.removeprefix("ws://").split("/", 1)[0].split(":")
    sock = RawSocket()
    if rcvbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.bind((source, 0))
    sock.settimeout(10)
    sock.connect((host, int(port)))
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        "GET /ws HTTP/1.1",
        f"Host: {host}:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
    ]
    if extensions:
        lines.append(f"Sec-WebSocket-Extensions: {extensions}")
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    response = b""
    while b"\r\n\r\n" not in response:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError(f"closed during the handshake: {response!r}")
        response += chunk
    head = response.split(b"\r\n\r\n", 1)[0].decode()
    sock.status = int(head.split(" ", 2)[1])
    if expect is not None and sock.status != expect:
        raise ConnectionRefusedError(head)
    sock.headers = {
        k.strip().lower(): v.strip()
        for k, _, v in (line.partition(":") for line in head.split("\r\n")[1:])
    }
    return sock


def frame_header(length: int, opcode: int = 1, rsv1: bool = False, fin: bool = True) -> bytes:
    """A masked client frame's header (the mask key is all zeros: the payload goes as is)."""
    first = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode
    if length < 126:
        head = struct.pack("!BB", first, 0x80 | length)
    elif length < 1 << 16:
        head = struct.pack("!BBH", first, 0x80 | 126, length)
    else:
        head = struct.pack("!BBQ", first, 0x80 | 127, length)
    return head + b"\0\0\0\0"


def text_frame(text: str) -> bytes:
    data = text.encode()
    return frame_header(len(data)) + data


def deflate_bomb(inflated: int) -> bytes:
    """``inflated`` bytes of JSON-ish text, deflated as permessage-deflate would (raw deflate,
    no trailer): a few kilobytes on the wire."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    body = b'{"type":"event","data":"' + b"a" * inflated + b'"}'
    return compressor.compress(body) + compressor.flush(zlib.Z_SYNC_FLUSH)[:-4]


def next_frame(buffer: bytes) -> tuple[int, bytes, bytes] | None:
    """``(opcode, payload, rest)`` of the first whole server frame in ``buffer``, or None."""
    if len(buffer) < 2:
        return None
    length, at = buffer[1] & 0x7F, 2
    if length == 126:
        if len(buffer) < 4:
            return None
        length, at = struct.unpack("!H", buffer[2:4])[0], 4
    elif length == 127:
        if len(buffer) < 10:
            return None
        length, at = struct.unpack("!Q", buffer[2:10])[0], 10
    if len(buffer) < at + length:
        return None
    return buffer[0] & 0x0F, buffer[at : at + length], buffer[at + length :]


def read_close(sock: socket.socket, timeout: float = 10) -> int | None:
    """Read until the server's close frame; its status code (None: the socket just closed)."""
    sock.settimeout(timeout)
    buffer = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return None
            buffer += chunk
            while (frame := next_frame(buffer)) is not None:
                opcode, payload, buffer = frame
                if opcode == 8:
                    return struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
    except (ConnectionError, TimeoutError, OSError):
        return None


class RawPage:
    """A scripted page on a raw socket: JSON in, JSON out, and the choice to stop reading."""

    def __init__(self, url: str, rcvbuf: int | None = None) -> None:
        self.sock = handshake(url, rcvbuf=rcvbuf)
        self.buffer = b""
        self.seq = 0
        self.token: str | None = None

    def send(self, message: dict) -> None:
        self.sock.sendall(text_frame(json.dumps(message)))

    def request(self, message: dict) -> None:
        self.seq += 1
        self.send({"token": self.token, "seq": self.seq, **message})

    def recv(self, timeout: float = 10) -> dict | None:
        """The next text message (None: the server closed the connection)."""
        self.sock.settimeout(timeout)
        while True:
            while (frame := next_frame(self.buffer)) is not None:
                opcode, payload, self.buffer = frame
                if opcode == 8:
                    return None
                if opcode == 1:
                    return json.loads(payload)
            try:
                chunk = self.sock.recv(65536)
            except ConnectionError:
                return None
            if not chunk:
                return None
            self.buffer += chunk

    def until(self, kind: str, timeout: float = 10) -> dict:
        while True:
            message = self.recv(timeout)
            if message is None:
                raise ConnectionError(f"closed while waiting for {kind!r}")
            if message.get("type") == kind:
                return message

    def enter(self, pid: str) -> None:
        """Say hello and answer the consent page."""
        self.send({"type": "hello", "params": {"PROLIFIC_PID": pid}})
        self.token = self.until("welcome")["token"]
        self.until("scene")
        self.request({"type": "submit", "scene_id": "consent", "responses": {"consent": True}})
        self.until("ack")
