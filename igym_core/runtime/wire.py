"""The binary packets peers exchange over their data channels.

Every packet starts with the same 8-byte header (big-endian)::

    magic  b"iG"   2 bytes
    version        u8   (WIRE_VERSION)
    kind           u8   (one of the KIND_* constants)
    sender         u8   (the sending peer's index, 0..254)
    reserved       u8   (must be 0)
    episode        u16  (packets of another episode are ignored by the receiver)

followed by a body that depends on ``kind``:

``KIND_INPUT`` (:class:`InputPacket`) — the sender's unacknowledged inputs, with acks::

    frame        i32  the sender's current frame (for time sync)
    advantage    i16  the sender's frame advantage over the receiver (frames, clamped)
    ack_frame    i32  the receiver's inputs the sender holds: every frame <= ack_frame (-1: none)
    hash_ack     i32  the receiver's hash reports the sender holds: every frame <= hash_ack
    start_frame  i32  the frame of the first input below
    count        u16  inputs in this packet (0..MAX_INPUTS)
    seats        u8   actions per input (1..MAX_SEATS)
    width        u8   bytes per action: 2 (u16) or 4 (u32)
    count x (flags u8 [bit 0: focused, other bits 0], seats x action)

``KIND_HASH`` (:class:`HashPacket`) — confirmed-state hashes::

    count u8, count x (frame i32, hash 16 bytes)

``KIND_PING`` / ``KIND_PONG`` (:class:`Ping`, :class:`Pong`) — one f64: the pinger's clock in ms
(a pong echoes it back, so the pinger measures the round trip on its own clock).

``KIND_EPISODE_END`` (:class:`EpisodeEnd`) — the frame count the sender's confirmed episode ended
at, the hash of its final state, and whether it has seen every peer agree::

    end_frame i32, hash 16 bytes, flags u8 (bit 0: agreed, other bits 0)

``KIND_FOCUS`` (:class:`Focus`) — focus loss (see :mod:`igym_core.runtime.focus`): the
sender's own inputs from ``away_from`` on are its idle default until it is back, and the
receiver's lease as the sender has fixed it::

    away_from i32 (-1: not away), flags u8 (bit 0: asks to come back), lease_end i32 (-1: none)

:func:`decode` checks every field and the exact length; any malformed packet raises
:class:`WireError` and nothing else happens. Decoding is pure: it touches no session state.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import lru_cache

from igym_core.runtime.hashing import HASH_SIZE
from igym_core.runtime.input_queue import PeerInput

__all__ = [
    "KIND_EPISODE_END",
    "KIND_FOCUS",
    "KIND_HASH",
    "KIND_INPUT",
    "KIND_PING",
    "KIND_PONG",
    "MAGIC",
    "MAX_HASHES",
    "MAX_INPUTS",
    "MAX_PEERS",
    "MAX_SEATS",
    "WIRE_VERSION",
    "EpisodeEnd",
    "Focus",
    "HashPacket",
    "InputPacket",
    "Packet",
    "Ping",
    "Pong",
    "WireError",
    "decode",
    "encode",
]

MAGIC = b"iG"
WIRE_VERSION = 1
KIND_INPUT = 1
KIND_HASH = 2
KIND_PING = 3
KIND_PONG = 4
KIND_EPISODE_END = 5
KIND_FOCUS = 8

MAX_PEERS = 255
"""Peer indices are 0..254 (one byte)."""
MAX_INPUTS = 1024
"""Most inputs one packet may carry."""
MAX_SEATS = 64
"""Most actions one input may carry (seats owned by one peer)."""
MAX_HASHES = 32
"""Most hash reports one packet may carry."""
MAX_EPISODE = 0xFFFF
MAX_FRAME = 0x7FFFFFFF

_HEADER = struct.Struct(">2sBBBBH")
_INPUT_HEAD = struct.Struct(">ihiiiHBB")
_HASH_ITEM = struct.Struct(f">i{HASH_SIZE}s")
_F64 = struct.Struct(">d")
_END = struct.Struct(f">i{HASH_SIZE}sB")
_U8 = struct.Struct(">B")
_FOCUS = struct.Struct(">iBi")


class WireError(ValueError):
    """A packet is malformed or hostile; the message says what is wrong with it."""


@dataclass(frozen=True, slots=True)
class InputPacket:
    """A run of the sender's inputs (frames ``start_frame`` onwards) plus acks and sync data."""

    sender: int
    episode: int
    frame: int
    advantage: int
    ack_frame: int
    hash_ack: int
    start_frame: int
    seats: int
    inputs: tuple[PeerInput, ...]


@dataclass(frozen=True, slots=True)
class HashPacket:
    """Confirmed-state hash reports ``(frame, 16-byte hash)``, oldest first."""

    sender: int
    episode: int
    reports: tuple[tuple[int, bytes], ...]


@dataclass(frozen=True, slots=True)
class Ping:
    """Asks the receiver to echo ``time_ms`` back in a :class:`Pong`."""

    sender: int
    episode: int
    time_ms: float


@dataclass(frozen=True, slots=True)
class Pong:
    """The echo of a :class:`Ping`'s ``time_ms``."""

    sender: int
    episode: int
    time_ms: float


@dataclass(frozen=True, slots=True)
class EpisodeEnd:
    """The sender's confirmed episode is complete: ``end_frame`` frames, final state ``hash``."""

    sender: int
    episode: int
    end_frame: int
    hash: bytes
    agreed: bool


@dataclass(frozen=True, slots=True)
class Focus:
    """The sender's focus lease: its inputs from ``away_from`` on (``-1``: it is not away) are
    its idle default, unfocused, until it is back; ``back`` asks every peer to fix where that
    ends; ``lease_end`` is the receiver's own lease as the sender fixed it (every input of the
    receiver before it was taken as idle; ``-1``: none)."""

    sender: int
    episode: int
    away_from: int
    back: bool
    lease_end: int


Packet = InputPacket | HashPacket | Ping | Pong | EpisodeEnd | Focus


def _check_header(sender: int, episode: int) -> None:
    if not 0 <= sender < MAX_PEERS:
        raise WireError(f"sender {sender} is outside 0..{MAX_PEERS - 1}")
    if not 0 <= episode <= MAX_EPISODE:
        raise WireError(f"episode {episode} is outside 0..{MAX_EPISODE}")


def _frame_ok(value: int, name: str, low: int = -1) -> None:
    if not low <= value <= MAX_FRAME:
        raise WireError(f"{name} {value} is outside {low}..{MAX_FRAME}")


@lru_cache(maxsize=512)
def _inputs_struct(count: int, seats: int, width: int) -> struct.Struct:
    code = "H" if width == 2 else "I"
    return struct.Struct(">" + ("B" + code * seats) * count)


def encode(packet: Packet) -> bytes:
    """Encode a packet to bytes. Raises :class:`WireError` if a field does not fit the format."""
    _check_header(packet.sender, packet.episode)
    if isinstance(packet, InputPacket):
        return _encode_input(packet)
    if isinstance(packet, HashPacket):
        if len(packet.reports) > MAX_HASHES:
            raise WireError(f"{len(packet.reports)} hash reports; at most {MAX_HASHES} fit")
        parts = [
            _HEADER.pack(MAGIC, WIRE_VERSION, KIND_HASH, packet.sender, 0, packet.episode),
            _U8.pack(len(packet.reports)),
        ]
        for frame, digest in packet.reports:
            _frame_ok(frame, "hash frame", 0)
            if len(digest) != HASH_SIZE:
                raise WireError(f"a hash must be {HASH_SIZE} bytes, got {len(digest)}")
            parts.append(_HASH_ITEM.pack(frame, digest))
        return b"".join(parts)
    if isinstance(packet, Ping | Pong):
        kind = KIND_PING if isinstance(packet, Ping) else KIND_PONG
        return _HEADER.pack(
            MAGIC, WIRE_VERSION, kind, packet.sender, 0, packet.episode
        ) + _F64.pack(packet.time_ms)
    if isinstance(packet, EpisodeEnd):
        _frame_ok(packet.end_frame, "end_frame", 0)
        if len(packet.hash) != HASH_SIZE:
            raise WireError(f"a hash must be {HASH_SIZE} bytes, got {len(packet.hash)}")
        return _HEADER.pack(
            MAGIC, WIRE_VERSION, KIND_EPISODE_END, packet.sender, 0, packet.episode
        ) + _END.pack(packet.end_frame, packet.hash, 1 if packet.agreed else 0)
    if isinstance(packet, Focus):
        _frame_ok(packet.away_from, "away_from")
        _frame_ok(packet.lease_end, "lease_end")
        return _HEADER.pack(
            MAGIC, WIRE_VERSION, KIND_FOCUS, packet.sender, 0, packet.episode
        ) + _FOCUS.pack(packet.away_from, 1 if packet.back else 0, packet.lease_end)
    raise WireError(f"cannot encode {type(packet).__name__}")


def _encode_input(p: InputPacket) -> bytes:
    count = len(p.inputs)
    if count > MAX_INPUTS:
        raise WireError(f"{count} inputs; at most {MAX_INPUTS} fit in one packet")
    if not 1 <= p.seats <= MAX_SEATS:
        raise WireError(f"seats {p.seats} is outside 1..{MAX_SEATS}")
    _frame_ok(p.frame, "frame", 0)
    _frame_ok(p.ack_frame, "ack_frame")
    _frame_ok(p.hash_ack, "hash_ack")
    _frame_ok(p.start_frame, "start_frame", 0)
    if p.start_frame + count - 1 > MAX_FRAME:
        raise WireError("input frames run past the largest frame number")
    advantage = max(-32768, min(32767, int(p.advantage)))
    values: list[int] = []
    widest = 0
    for item in p.inputs:
        actions = item[0]
        if len(actions) != p.seats:
            raise WireError(f"an input has {len(actions)} actions; the packet says {p.seats}")
        values.append(1 if item[1] else 0)
        values.extend(actions)
        for a in actions:
            if a > widest:
                widest = a
            if a < 0:
                raise WireError(f"action {a} is negative")
    if widest > 0xFFFFFFFF:
        raise WireError(f"action {widest} does not fit in 32 bits")
    width = 2 if widest <= 0xFFFF else 4
    head = _HEADER.pack(MAGIC, WIRE_VERSION, KIND_INPUT, p.sender, 0, p.episode)
    body = _INPUT_HEAD.pack(
        p.frame, advantage, p.ack_frame, p.hash_ack, p.start_frame, count, p.seats, width
    )
    return head + body + _inputs_struct(count, p.seats, width).pack(*values)


def decode(data: bytes | bytearray | memoryview) -> Packet:
    """Decode one packet. Raises :class:`WireError` (saying what is wrong) for anything malformed."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise WireError(f"a packet must be bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) < _HEADER.size:
        raise WireError(
            f"packet of {len(data)} bytes is shorter than the {_HEADER.size}-byte header"
        )
    magic, version, kind, sender, reserved, episode = _HEADER.unpack_from(data, 0)
    if magic != MAGIC:
        raise WireError(f"bad magic {magic!r}; not an igym packet")
    if version != WIRE_VERSION:
        raise WireError(f"wire version {version}; this peer speaks version {WIRE_VERSION}")
    if reserved != 0:
        raise WireError(f"reserved header byte is {reserved}, must be 0")
    _check_header(sender, episode)
    body = memoryview(data)[_HEADER.size :]
    if kind == KIND_INPUT:
        return _decode_input(sender, episode, body)
    if kind == KIND_HASH:
        if len(body) < 1:
            raise WireError("hash packet has no count")
        count = body[0]
        if count > MAX_HASHES:
            raise WireError(f"hash packet claims {count} reports; at most {MAX_HASHES}")
        _expect(len(body), 1 + count * _HASH_ITEM.size, "hash packet")
        reports = []
        last = -1
        for i in range(count):
            frame, digest = _HASH_ITEM.unpack_from(body, 1 + i * _HASH_ITEM.size)
            _frame_ok(frame, "hash frame", 0)
            if frame <= last:
                raise WireError("hash reports are not in increasing frame order")
            last = frame
            reports.append((frame, bytes(digest)))
        return HashPacket(sender, episode, tuple(reports))
    if kind in (KIND_PING, KIND_PONG):
        _expect(len(body), _F64.size, "ping/pong packet")
        (time_ms,) = _F64.unpack_from(body, 0)
        if time_ms != time_ms or time_ms in (float("inf"), float("-inf")):
            raise WireError("ping/pong time is not a finite number")
        return (Ping if kind == KIND_PING else Pong)(sender, episode, time_ms)
    if kind == KIND_EPISODE_END:
        _expect(len(body), _END.size, "episode-end packet")
        end_frame, digest, flags = _END.unpack_from(body, 0)
        _frame_ok(end_frame, "end_frame", 0)
        if flags & ~1:
            raise WireError(f"episode-end flags {flags:#x} set reserved bits")
        return EpisodeEnd(sender, episode, end_frame, bytes(digest), bool(flags & 1))
    if kind == KIND_FOCUS:
        _expect(len(body), _FOCUS.size, "focus packet")
        away_from, flags, lease_end = _FOCUS.unpack_from(body, 0)
        _frame_ok(away_from, "away_from")
        _frame_ok(lease_end, "lease_end")
        if flags & ~1:
            raise WireError(f"focus flags {flags:#x} set reserved bits")
        return Focus(sender, episode, away_from, bool(flags & 1), lease_end)
    raise WireError(f"unknown packet kind {kind}")


def _expect(actual: int, wanted: int, what: str) -> None:
    if actual != wanted:
        raise WireError(f"{what} body is {actual} bytes; its fields need exactly {wanted}")


def _decode_input(sender: int, episode: int, body: memoryview) -> InputPacket:
    if len(body) < _INPUT_HEAD.size:
        raise WireError(
            f"input packet body is {len(body)} bytes; its header needs {_INPUT_HEAD.size}"
        )
    frame, advantage, ack, hash_ack, start, count, seats, width = _INPUT_HEAD.unpack_from(body, 0)
    _frame_ok(frame, "frame", 0)
    _frame_ok(ack, "ack_frame")
    _frame_ok(hash_ack, "hash_ack")
    _frame_ok(start, "start_frame", 0)
    if count > MAX_INPUTS:
        raise WireError(f"input packet claims {count} inputs; at most {MAX_INPUTS}")
    if not 1 <= seats <= MAX_SEATS:
        raise WireError(f"input packet claims {seats} seats; must be 1..{MAX_SEATS}")
    if width not in (2, 4):
        raise WireError(f"action width {width}; must be 2 or 4 bytes")
    if start + count - 1 > MAX_FRAME:
        raise WireError("input frames run past the largest frame number")
    _expect(len(body), _INPUT_HEAD.size + count * (1 + seats * width), "input packet")
    values = _inputs_struct(count, seats, width).unpack_from(body, _INPUT_HEAD.size)
    inputs = []
    step = seats + 1
    for i in range(0, count * step, step):
        flags = values[i]
        if flags & ~1:
            raise WireError(f"input flags {flags:#x} set reserved bits")
        inputs.append(PeerInput(tuple(values[i + 1 : i + step]), flags == 1))
    return InputPacket(
        sender, episode, frame, advantage, ack, hash_ack, start, seats, tuple(inputs)
    )
