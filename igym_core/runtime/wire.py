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
``KIND_REJOIN`` (:class:`Rejoin`) — the sender's page was reloaded and rebuilt the episode from
its records; it asks the receiver for the inputs it lost::

    own_from   i32  the first of the sender's own inputs it no longer holds
    your_last  i32  the receiver's inputs the sender holds: every frame <= your_last (-1: none)

``KIND_ECHO`` (:class:`Echo`) — the answer to a rejoin: the rejoining peer's own inputs as the
sender holds them, so that it plays them again exactly::

    owner u8, last i32 (the highest of the owner's inputs the sender holds, -1: none),
    start_frame i32, count u16, seats u8, width u8, count x (flags u8, seats x action)

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
    "KIND_ECHO",
    "KIND_EPISODE_END",
    "KIND_FOCUS",
    "KIND_HASH",
    "KIND_INPUT",
    "KIND_PING",
    "KIND_PONG",
    "KIND_REJOIN",
    "MAGIC",
    "MAX_HASHES",
    "MAX_INPUTS",
    "MAX_PEERS",
    "MAX_SEATS",
    "WIRE_VERSION",
    "Echo",
    "EpisodeEnd",
    "Focus",
    "HashPacket",
    "InputPacket",
    "Packet",
    "Ping",
    "Pong",
    "Rejoin",
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
KIND_REJOIN = 6
KIND_ECHO = 7

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
_INPUT_PREFIX = struct.Struct(">ihii")
_HASH_ITEM = struct.Struct(f">i{HASH_SIZE}s")
_F64 = struct.Struct(">d")
_END = struct.Struct(f">i{HASH_SIZE}sB")
_U8 = struct.Struct(">B")
_FOCUS = struct.Struct(">iBi")
_REJOIN = struct.Struct(">ii")
_RUN_HEAD = struct.Struct(">iHBB")
_ECHO_HEAD = struct.Struct(">Bi")


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


@dataclass(frozen=True, slots=True)
class Rejoin:
    """The sender rebuilt the episode after a reload: it holds its own inputs up to
    ``own_from - 1`` and the receiver's up to ``your_last``; it asks for the rest."""

    sender: int
    episode: int
    own_from: int
    your_last: int


@dataclass(frozen=True, slots=True)
class Echo:
    """Peer ``owner``'s inputs as the sender holds them: frames ``start_frame`` onwards, and
    ``last``, the highest of them the sender holds (``-1``: none)."""

    sender: int
    episode: int
    owner: int
    last: int
    start_frame: int
    seats: int
    inputs: tuple[PeerInput, ...]


Packet = InputPacket | HashPacket | Ping | Pong | EpisodeEnd | Focus | Rejoin | Echo


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
    if isinstance(packet, Rejoin):
        _frame_ok(packet.own_from, "own_from", 0)
        _frame_ok(packet.your_last, "your_last")
        return _HEADER.pack(
            MAGIC, WIRE_VERSION, KIND_REJOIN, packet.sender, 0, packet.episode
        ) + _REJOIN.pack(packet.own_from, packet.your_last)
    if isinstance(packet, Echo):
        if not 0 <= packet.owner < MAX_PEERS:
            raise WireError(f"owner {packet.owner} is outside 0..{MAX_PEERS - 1}")
        _frame_ok(packet.last, "last")
        head = _HEADER.pack(MAGIC, WIRE_VERSION, KIND_ECHO, packet.sender, 0, packet.episode)
        return (
            head
            + _ECHO_HEAD.pack(packet.owner, packet.last)
            + _encode_run(packet.start_frame, packet.seats, packet.inputs)
        )
    raise WireError(f"cannot encode {type(packet).__name__}")


def _encode_input(p: InputPacket) -> bytes:
    _frame_ok(p.frame, "frame", 0)
    _frame_ok(p.ack_frame, "ack_frame")
    _frame_ok(p.hash_ack, "hash_ack")
    advantage = max(-32768, min(32767, int(p.advantage)))
    head = _HEADER.pack(MAGIC, WIRE_VERSION, KIND_INPUT, p.sender, 0, p.episode)
    return (
        head
        + _INPUT_PREFIX.pack(p.frame, advantage, p.ack_frame, p.hash_ack)
        + _encode_run(p.start_frame, p.seats, p.inputs)
    )


def _encode_run(start_frame: int, seats: int, inputs: tuple[PeerInput, ...]) -> bytes:
    """A run of inputs from ``start_frame`` on: start, count, seats, width, then each input."""
    count = len(inputs)
    if count > MAX_INPUTS:
        raise WireError(f"{count} inputs; at most {MAX_INPUTS} fit in one packet")
    if not 1 <= seats <= MAX_SEATS:
        raise WireError(f"seats {seats} is outside 1..{MAX_SEATS}")
    _frame_ok(start_frame, "start_frame", 0)
    if start_frame + count - 1 > MAX_FRAME:
        raise WireError("input frames run past the largest frame number")
    values: list[int] = []
    widest = 0
    for item in inputs:
        actions = item[0]
        if len(actions) != seats:
            raise WireError(f"an input has {len(actions)} actions; the packet says {seats}")
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
    return _RUN_HEAD.pack(start_frame, count, seats, width) + _inputs_struct(
        count, seats, width
    ).pack(*values)


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
    if kind == KIND_REJOIN:
        _expect(len(body), _REJOIN.size, "rejoin packet")
        own_from, your_last = _REJOIN.unpack_from(body, 0)
        _frame_ok(own_from, "own_from", 0)
        _frame_ok(your_last, "your_last")
        return Rejoin(sender, episode, own_from, your_last)
    if kind == KIND_ECHO:
        if len(body) < _ECHO_HEAD.size:
            raise WireError(f"echo packet body is {len(body)} bytes; too short")
        owner, last = _ECHO_HEAD.unpack_from(body, 0)
        if owner >= MAX_PEERS:
            raise WireError(f"owner {owner} is outside 0..{MAX_PEERS - 1}")
        _frame_ok(last, "last")
        start, seats, inputs = _decode_run(body[_ECHO_HEAD.size :], "echo packet")
        return Echo(sender, episode, owner, last, start, seats, inputs)
    raise WireError(f"unknown packet kind {kind}")


def _expect(actual: int, wanted: int, what: str) -> None:
    if actual != wanted:
        raise WireError(f"{what} body is {actual} bytes; its fields need exactly {wanted}")


def _decode_input(sender: int, episode: int, body: memoryview) -> InputPacket:
    if len(body) < _INPUT_HEAD.size:
        raise WireError(
            f"input packet body is {len(body)} bytes; its header needs {_INPUT_HEAD.size}"
        )
    frame, advantage, ack, hash_ack = _INPUT_PREFIX.unpack_from(body, 0)
    _frame_ok(frame, "frame", 0)
    _frame_ok(ack, "ack_frame")
    _frame_ok(hash_ack, "hash_ack")
    start, seats, inputs = _decode_run(body[_INPUT_PREFIX.size :], "input packet")
    return InputPacket(sender, episode, frame, advantage, ack, hash_ack, start, seats, inputs)


def _decode_run(body: memoryview, what: str) -> tuple[int, int, tuple[PeerInput, ...]]:
    """``(start_frame, seats, inputs)`` of a run of inputs (see :func:`_encode_run`)."""
    if len(body) < _RUN_HEAD.size:
        raise WireError(f"{what} body is too short for its run of inputs")
    start, count, seats, width = _RUN_HEAD.unpack_from(body, 0)
    _frame_ok(start, "start_frame", 0)
    if count > MAX_INPUTS:
        raise WireError(f"{what} claims {count} inputs; at most {MAX_INPUTS}")
    if not 1 <= seats <= MAX_SEATS:
        raise WireError(f"{what} claims {seats} seats; must be 1..{MAX_SEATS}")
    if width not in (2, 4):
        raise WireError(f"action width {width}; must be 2 or 4 bytes")
    if start + count - 1 > MAX_FRAME:
        raise WireError("input frames run past the largest frame number")
    _expect(len(body), _RUN_HEAD.size + count * (1 + seats * width), what)
    values = _inputs_struct(count, seats, width).unpack_from(body, _RUN_HEAD.size)
    inputs = []
    step = seats + 1
    for i in range(0, count * step, step):
        flags = values[i]
        if flags & ~1:
            raise WireError(f"input flags {flags:#x} set reserved bits")
        inputs.append(PeerInput(tuple(values[i + 1 : i + step]), flags == 1))
    return start, seats, tuple(inputs)
