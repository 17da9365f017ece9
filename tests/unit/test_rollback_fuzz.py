"""A hostile or broken remote cannot crash a session: any packet either applies or raises
WireError, and the session keeps producing valid requests for its host."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from igym_core.runtime import toygame, wire
from igym_core.runtime.host import GameHost, SeatPlan
from igym_core.runtime.input_queue import PeerInput
from igym_core.runtime.rollback import RollbackSession, SessionConfig
from igym_core.runtime.transport import BufferTransport

frames = st.integers(-1, 600)
inputs = st.lists(st.builds(PeerInput, st.tuples(st.integers(0, 9)), st.booleans()), max_size=12)
hashes = st.lists(st.integers(0, 600), max_size=5, unique=True).map(
    lambda fs: tuple((f, bytes([f % 256]) * 16) for f in sorted(fs))
)
packets = st.one_of(
    st.builds(
        wire.InputPacket,
        sender=st.sampled_from([1, 2]),
        episode=st.sampled_from([0, 0, 0, 1]),
        frame=st.integers(0, 600),
        advantage=st.integers(-50, 50),
        ack_frame=frames,
        hash_ack=frames,
        start_frame=st.integers(0, 600),
        seats=st.sampled_from([1, 1, 1, 2]),
        inputs=inputs,
    ).filter(lambda p: all(len(i.actions) == p.seats for i in p.inputs)),
    st.builds(wire.HashPacket, st.sampled_from([1, 2]), st.just(0), hashes),
    st.builds(wire.Ping, st.sampled_from([1, 2]), st.just(0), st.floats(0, 1e6)),
    st.builds(wire.Pong, st.sampled_from([1, 2]), st.just(0), st.floats(0, 1e6)),
    st.builds(
        wire.EpisodeEnd,
        st.sampled_from([1, 2]),
        st.just(0),
        st.integers(0, 600),
        st.binary(min_size=16, max_size=16),
        st.booleans(),
    ),
    st.builds(
        wire.Focus,
        st.sampled_from([1, 2]),
        st.just(0),
        frames,
        st.booleans(),
        frames,
    ),
)


@given(st.lists(st.tuples(packets, st.integers(0, 3), st.sampled_from([1, 2])), max_size=60))
@settings(max_examples=150, deadline=None)
def test_sessions_survive_any_sequence_of_packets(script: list) -> None:
    transport = BufferTransport()
    config = SessionConfig(
        num_peers=3,
        local_peer=0,
        seats_per_peer=(1, 1, 1),
        default_actions=((6,), (6,), (6,)),
        input_delay=1,
        max_prediction=6,
        max_frames=200,
        hash_interval=10,
        action_count=7,
    )
    host = GameHost(
        RollbackSession(config, transport), toygame.make(3, seed=1), SeatPlan.one_seat_each(3)
    )
    now = 0.0
    for packet, ticks, claimed in script:
        transport.deliver([(claimed, wire.encode(packet))])
        for _ in range(ticks):
            now += 33.0
            host.tick(now, (int(now // 33) % 7,), True)
        transport.take_outgoing()
    session = host.session
    assert session.settled_frame <= session.confirmed_frame
    assert session.current_frame - session.settled_frame <= config.max_prediction + 1
    assert len(host.canonical) == session.settled_frame + 1 or host.canonical.is_final
