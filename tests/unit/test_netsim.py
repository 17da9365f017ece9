"""The simulated network: virtual time, latency, loss, duplication, reordering, outages."""

from __future__ import annotations

import pytest

from igym_core.runtime import wire
from igym_core.runtime.netsim import LinkConditions, SimNetwork


def send_many(net: SimNetwork, n: int, src: int = 0, dst: int = 1) -> None:
    for i in range(n):
        net.endpoint(src).send(dst, i.to_bytes(4, "big"))


def drain(net: SimNetwork, until: float, dst: int = 1) -> list[int]:
    net.advance_to(until)
    return [int.from_bytes(d, "big") for _, d in net.endpoint(dst).receive()]


def test_packets_arrive_after_the_latency_and_not_before() -> None:
    net = SimNetwork(2, default=LinkConditions(latency_ms=50))
    net.endpoint(0).send(1, b"x")
    net.advance_to(49.9)
    assert net.endpoint(1).receive() == []
    net.advance_to(50.0)
    assert net.endpoint(1).receive() == [(0, b"x")]
    assert net.next_delivery() is None


def test_links_are_asymmetric() -> None:
    net = SimNetwork(2, default=LinkConditions(latency_ms=10))
    net.set_link(1, 0, LinkConditions(latency_ms=200))
    net.endpoint(0).send(1, b"a")
    net.endpoint(1).send(0, b"b")
    net.advance_to(20)
    assert net.endpoint(1).receive() == [(0, b"a")]
    assert net.endpoint(0).receive() == []
    net.advance_to(200)
    assert net.endpoint(0).receive() == [(1, b"b")]


def test_loss_drops_about_the_given_share() -> None:
    net = SimNetwork(2, seed=3, default=LinkConditions(latency_ms=1, loss=0.25))
    send_many(net, 2000)
    got = drain(net, 10)
    assert 1300 < len(got) < 1700
    assert net.stats.lost == 2000 - len(got)


def test_jitter_and_reordering_change_the_order() -> None:
    net = SimNetwork(2, seed=1, default=LinkConditions(latency_ms=20, jitter_ms=15, reorder=0.2))
    send_many(net, 200)
    got = drain(net, 1000)
    assert sorted(got) == list(range(200))
    assert got != sorted(got)


def test_duplicates_arrive_twice() -> None:
    net = SimNetwork(2, seed=2, default=LinkConditions(latency_ms=5, duplicate=0.5))
    send_many(net, 100)
    got = drain(net, 100)
    assert len(got) == 100 + net.stats.duplicated
    assert 30 < net.stats.duplicated < 70


def test_outages_drop_everything_inside_the_window() -> None:
    net = SimNetwork(2, default=LinkConditions(latency_ms=5, outages=((100.0, 200.0),)))
    for t in (50.0, 150.0, 250.0):
        net.advance_to(t)
        net.endpoint(0).send(1, str(t).encode())
    net.advance_to(1000)
    assert [d for _, d in net.endpoint(1).receive()] == [b"50.0", b"250.0"]


def test_junk_travels_with_the_real_packet_and_never_decodes() -> None:
    net = SimNetwork(2, seed=4, default=LinkConditions(latency_ms=1, corrupt=1.0))
    real = wire.encode(wire.Ping(0, 0, 1.0))
    for _ in range(200):
        net.endpoint(0).send(1, real)
    net.advance_to(10)
    got = [d for _, d in net.endpoint(1).receive()]
    assert got.count(real) == 200
    junk = [d for d in got if d != real]
    assert len(junk) == 200
    for data in junk:
        with pytest.raises(wire.WireError):
            wire.decode(data)


def test_same_seed_same_deliveries() -> None:
    def run(seed: int) -> list[int]:
        net = SimNetwork(2, seed=seed, default=LinkConditions(20, 10, 0.1, 0.1, 0.1))
        send_many(net, 300)
        return drain(net, 1000)

    assert run(9) == run(9)
    assert run(9) != run(10)


def test_bad_conditions_and_time_travel_are_refused() -> None:
    with pytest.raises(ValueError, match="loss"):
        LinkConditions(loss=1.5)
    with pytest.raises(ValueError, match="latency"):
        LinkConditions(latency_ms=-1)
    net = SimNetwork(2)
    net.advance_to(5)
    with pytest.raises(ValueError, match="back"):
        net.advance_to(4)
    with pytest.raises(ValueError):
        net.endpoint(0).send(0, b"self")


def test_buffer_transport_moves_packets_per_tick_and_bounds_floods() -> None:
    from igym_core.runtime.transport import BufferTransport

    t = BufferTransport(max_incoming=3)
    assert t.deliver([(1, b"a"), (2, bytearray(b"b"))]) == 0
    assert t.deliver([(1, b"c"), (1, b"d"), (1, b"e")]) == 2
    assert t.receive() == [(1, b"a"), (2, b"b"), (1, b"c")]
    assert t.receive() == []
    t.send(1, b"x")
    t.send(2, b"y")
    assert t.take_outgoing() == [(1, b"x"), (2, b"y")]
    assert t.take_outgoing() == []
