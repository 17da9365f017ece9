"""Wire format: round trips, exact sizes, and refusal of malformed or hostile packets."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from igym_core.runtime import wire
from igym_core.runtime.input_queue import PeerInput
from igym_core.runtime.wire import (
    EpisodeEnd,
    Focus,
    HashPacket,
    InputPacket,
    Ping,
    Pong,
    WireError,
    decode,
    encode,
)

H = bytes(range(16))


def input_packet(**changes: object) -> InputPacket:
    fields: dict[str, object] = {
        "sender": 1,
        "episode": 3,
        "frame": 120,
        "advantage": -2,
        "ack_frame": 117,
        "hash_ack": 90,
        "start_frame": 118,
        "seats": 2,
        "inputs": (PeerInput((1, 6), True), PeerInput((4, 65535), False)),
    }
    fields.update(changes)
    return InputPacket(**fields)  # type: ignore[arg-type]


SAMPLES = [
    input_packet(),
    input_packet(inputs=(), start_frame=0, ack_frame=-1, hash_ack=-1),
    input_packet(inputs=(PeerInput((70000, 1), True),)),
    HashPacket(0, 0, ((0, H), (30, bytes(16)))),
    HashPacket(2, 65535, ()),
    Ping(0, 1, 1234.5),
    Pong(1, 1, 0.25),
    EpisodeEnd(1, 2, 450, H, True),
    EpisodeEnd(0, 2, 1, H, False),
    Focus(1, 2, 300, False, -1),
    Focus(0, 2, -1, True, 412),
]


@pytest.mark.parametrize("packet", SAMPLES, ids=lambda p: type(p).__name__)
def test_round_trip(packet: wire.Packet) -> None:
    data = encode(packet)
    assert data[:2] == wire.MAGIC
    assert decode(data) == packet
    assert decode(bytearray(data)) == packet


def test_actions_use_16_bits_and_widen_to_32_when_needed() -> None:
    small = encode(input_packet(inputs=(PeerInput((65535, 0), True),)))
    large = encode(input_packet(inputs=(PeerInput((65536, 0), True),)))
    assert len(large) - len(small) == 4
    assert decode(large).inputs[0].actions == (65536, 0)  # type: ignore[union-attr]


def test_an_input_costs_one_flag_byte_plus_its_actions() -> None:
    one = encode(input_packet(inputs=(PeerInput((1, 2), True),)))
    three = encode(input_packet(inputs=(PeerInput((1, 2), True),) * 3))
    assert len(three) - len(one) == 2 * (1 + 2 * 2)


def test_focus_flag_travels_with_each_input() -> None:
    packet = decode(encode(input_packet()))
    assert [i.focused for i in packet.inputs] == [True, False]  # type: ignore[union-attr]


@given(
    sender=st.integers(0, 254),
    episode=st.integers(0, 65535),
    frame=st.integers(0, 2**31 - 1),
    ack=st.integers(-1, 2**31 - 1),
    start=st.integers(0, 2**20),
    seats=st.integers(1, 4),
    data=st.data(),
)
@settings(max_examples=150, deadline=None)
def test_round_trip_property(
    sender: int, episode: int, frame: int, ack: int, start: int, seats: int, data: st.DataObject
) -> None:
    inputs = data.draw(
        st.lists(
            st.builds(
                PeerInput,
                st.tuples(*[st.integers(0, 2**32 - 1)] * seats),
                st.booleans(),
            ),
            max_size=40,
        )
    )
    packet = InputPacket(sender, episode, frame, 7, ack, ack, start, seats, tuple(inputs))
    assert decode(encode(packet)) == packet


def _valid() -> bytes:
    return encode(input_packet())


def _with_byte(data: bytes, index: int, value: int) -> bytes:
    buf = bytearray(data)
    buf[index] = value
    return bytes(buf)


MALFORMED = {
    "empty": b"",
    "short header": b"iG\x01",
    "bad magic": b"XX" + _valid()[2:],
    "wrong version": _with_byte(_valid(), 2, 9),
    "unknown kind": _with_byte(_valid(), 3, 77),
    "sender 255": _with_byte(_valid(), 4, 255),
    "reserved byte set": _with_byte(_valid(), 5, 1),
    "truncated body": _valid()[:-1],
    "trailing bytes": _valid() + b"\x00",
    "header only": _valid()[:8],
    "focus flag reserved bits": _with_byte(_valid(), 8 + 22, 0x81),
    "zero seats": _with_byte(_valid(), 8 + 20, 0),
    "action width 3": _with_byte(_valid(), 8 + 21, 3),
    "huge count": _valid()[: 8 + 18] + struct.pack(">H", 65535) + _valid()[8 + 20 :],
    "negative start": _valid()[: 8 + 14] + struct.pack(">i", -5) + _valid()[8 + 18 :],
    "ack below -1": _valid()[: 8 + 6] + struct.pack(">i", -7) + _valid()[8 + 10 :],
    "hash count too big": encode(HashPacket(0, 0, ()))[:8] + b"\xff",
    "hash truncated": encode(HashPacket(0, 0, ((0, H),)))[:-3],
    "hash frames out of order": encode(HashPacket(0, 0, ()))[:8]
    + b"\x02"
    + struct.pack(">i", 30)
    + H
    + struct.pack(">i", 0)
    + H,
    "ping too long": encode(Ping(0, 0, 1.0)) + b"\x00",
    "ping nan": encode(Ping(0, 0, 1.0))[:8] + struct.pack(">d", float("nan")),
    "end flags": encode(EpisodeEnd(0, 0, 4, H, True))[:-1] + b"\x02",
    "end negative frame": encode(EpisodeEnd(0, 0, 4, H, True))[:8]
    + struct.pack(">i", -1)
    + H
    + b"\x00",
    "focus flags": encode(Focus(0, 0, 4, True, -1))[:-5] + b"\x02" + struct.pack(">i", -1),
    "focus frame below -1": encode(Focus(0, 0, 4, True, -1))[:8]
    + struct.pack(">i", -2)
    + b"\x00"
    + struct.pack(">i", -1),
    "focus too long": encode(Focus(0, 0, 4, True, -1)) + b"\x00",
}


@pytest.mark.parametrize("data", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_packets_raise_wire_error(data: bytes) -> None:
    with pytest.raises(WireError):
        decode(data)


def test_non_bytes_raise_wire_error() -> None:
    with pytest.raises(WireError, match="bytes"):
        decode("iG")  # type: ignore[arg-type]


@given(st.binary(max_size=200))
@settings(max_examples=300, deadline=None)
def test_random_bytes_never_crash_the_decoder(data: bytes) -> None:
    try:
        decode(data)
    except WireError:
        pass


@given(st.data())
@settings(max_examples=200, deadline=None)
def test_any_truncation_or_byte_flip_is_refused_or_decodes_cleanly(data: st.DataObject) -> None:
    raw = data.draw(st.sampled_from([encode(p) for p in SAMPLES]))
    cut = data.draw(st.integers(0, len(raw) - 1))
    with pytest.raises(WireError):
        decode(raw[:cut])
    index = data.draw(st.integers(0, len(raw) - 1))
    flipped = _with_byte(raw, index, (raw[index] + data.draw(st.integers(1, 255))) % 256)
    try:
        decode(flipped)
    except WireError:
        pass


@pytest.mark.parametrize(
    "packet",
    [
        input_packet(sender=255),
        input_packet(episode=70000),
        input_packet(seats=1),
        input_packet(inputs=(PeerInput((-1, 0), True),)),
        input_packet(inputs=(PeerInput((2**32, 0), True),)),
        input_packet(ack_frame=-2),
        input_packet(inputs=(PeerInput((0, 0), True),) * (wire.MAX_INPUTS + 1)),
        HashPacket(0, 0, ((0, b"short"),)),
        HashPacket(0, 0, tuple((i, H) for i in range(wire.MAX_HASHES + 1))),
        EpisodeEnd(0, 0, -1, H, False),
        Focus(0, 0, -2, False, -1),
        Focus(0, 0, 0, False, wire.MAX_FRAME + 1),
    ],
)
def test_encoding_refuses_what_does_not_fit(packet: wire.Packet) -> None:
    with pytest.raises(WireError):
        encode(packet)
