"""A deterministic simulated network: virtual clock, latency, jitter, loss, reordering,
duplication, corruption, outages, per-direction (asymmetric) links.

Nothing here reads a real clock: the owner moves :attr:`SimNetwork.now` forward, and a packet
sent at ``now`` over a link with latency ``L`` and jitter ``J`` becomes receivable at
``now + L + uniform(-J, J)`` (never earlier than ``now``). All randomness comes from one
``random.Random(seed)``, so the same seed and the same sequence of calls give the same deliveries.

:class:`SimTransport` is the per-peer endpoint; it implements the
:class:`~igym_core.runtime.rollback.Transport` interface the sessions use.
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass, field

from igym_core.runtime.rollback import Transport

__all__ = ["LinkConditions", "NetStats", "SimNetwork", "SimTransport", "Transport"]


@dataclass(frozen=True, slots=True)
class LinkConditions:
    """How one direction of one link treats packets.

        ``loss``, ``duplicate``, ``reorder`` and ``corrupt`` are probabilities per packet. A
        reordered packet is held back an extra ``reorder_ms``; a duplicate travels separately (its
        own jitter). With probability ``corrupt`` a garbage packet travels along with the real one
    (cut short, a damaged header, or random bytes): real data channels do not corrupt payloads, but
    peers must survive junk. ``outages``
        are ``(start_ms, end_ms)`` windows of virtual time in which every packet sent is lost
        (temporary disconnects).
    """

    latency_ms: float = 30.0
    jitter_ms: float = 0.0
    loss: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0
    reorder_ms: float = 40.0
    corrupt: float = 0.0
    outages: tuple[tuple[float, float], ...] = ()

    def __post_init__(self) -> None:
        for name in ("loss", "duplicate", "reorder", "corrupt"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"LinkConditions.{name} must be within 0..1, got {value}")
        for name in ("latency_ms", "jitter_ms", "reorder_ms"):
            if getattr(self, name) < 0:
                raise ValueError(f"LinkConditions.{name} must be >= 0")

    def down_at(self, t: float) -> bool:
        """Whether the link is in an outage at virtual time ``t``."""
        return any(start <= t < end for start, end in self.outages)


@dataclass(slots=True)
class NetStats:
    """Counts of what the network did to the packets."""

    sent: int = 0
    delivered: int = 0
    lost: int = 0
    duplicated: int = 0
    reordered: int = 0
    corrupted: int = 0
    bytes: int = 0
    per_link: dict[tuple[int, int], int] = field(default_factory=dict)


class SimNetwork:
    """A network of ``num_peers`` endpoints with independent conditions per direction."""

    def __init__(
        self, num_peers: int, seed: int = 0, default: LinkConditions | None = None
    ) -> None:
        self.num_peers = num_peers
        self.now = 0.0
        self.rng = random.Random(seed)
        self.stats = NetStats()
        base = default or LinkConditions()
        self._links: dict[tuple[int, int], LinkConditions] = {
            (a, b): base for a in range(num_peers) for b in range(num_peers) if a != b
        }
        self._inbox: list[list[tuple[float, int, int, bytes]]] = [[] for _ in range(num_peers)]
        self._seq = 0
        self._endpoints = [SimTransport(self, p) for p in range(num_peers)]

    def set_link(self, src: int, dst: int, conditions: LinkConditions) -> None:
        """Set the conditions of the direction ``src → dst`` only."""
        if (src, dst) not in self._links:
            raise ValueError(f"no link {src} → {dst}")
        self._links[(src, dst)] = conditions

    def link(self, src: int, dst: int) -> LinkConditions:
        """The conditions of the direction ``src → dst``."""
        return self._links[(src, dst)]

    def endpoint(self, peer: int) -> SimTransport:
        """Peer ``peer``'s transport."""
        return self._endpoints[peer]

    def advance_to(self, t: float) -> None:
        """Move the virtual clock forward to ``t`` (never backwards)."""
        if t < self.now:
            raise ValueError(f"the clock cannot go back from {self.now} to {t}")
        self.now = t

    def next_delivery(self) -> float | None:
        """The earliest time any queued packet becomes receivable."""
        times = [box[0][0] for box in self._inbox if box]
        return min(times) if times else None

    def drop_inbox(self, peer: int) -> int:
        """Lose every packet still on its way to ``peer`` (its page went away); returns how
        many."""
        box = self._inbox[peer]
        dropped = len(box)
        box.clear()
        self.stats.lost += dropped
        return dropped

    def _send(self, src: int, dst: int, data: bytes) -> None:
        if dst == src or not 0 <= dst < self.num_peers:
            raise ValueError(f"peer {src} cannot send to {dst}")
        link = self._links[(src, dst)]
        stats = self.stats
        rng = self.rng
        stats.sent += 1
        stats.bytes += len(data)
        key = (src, dst)
        stats.per_link[key] = stats.per_link.get(key, 0) + 1
        now = self.now
        if link.outages and link.down_at(now):
            stats.lost += 1
            return
        if link.loss and rng.random() < link.loss:
            stats.lost += 1
            return
        copies = 1
        if link.duplicate and rng.random() < link.duplicate:
            copies = 2
            stats.duplicated += 1
        payloads = [data] * copies
        if link.corrupt and rng.random() < link.corrupt:
            payloads.append(self._garbage(data))
            stats.corrupted += 1
        for payload in payloads:
            delay = link.latency_ms
            if link.jitter_ms:
                delay += rng.uniform(-link.jitter_ms, link.jitter_ms)
            if link.reorder and rng.random() < link.reorder:
                delay += link.reorder_ms
                stats.reordered += 1
            self._seq += 1
            heapq.heappush(self._inbox[dst], (now + max(0.0, delay), self._seq, src, payload))

    def _garbage(self, data: bytes) -> bytes:
        """A junk packet derived from ``data`` that the decoder must refuse."""
        rng = self.rng
        choice = rng.randrange(3)
        if choice == 0 and len(data) > 1:
            return data[: rng.randrange(len(data) - 1)]  # cut short
        if choice == 1 and len(data) >= 6:
            buf = bytearray(data)
            i = rng.choice((0, 1, 2, 5))  # magic, version or the reserved byte
            buf[i] = (buf[i] + rng.randrange(1, 256)) % 256
            return bytes(buf)
        return b"\x00" + bytes(rng.randrange(256) for _ in range(rng.randrange(64)))

    def _receive(self, dst: int) -> list[tuple[int, bytes]]:
        box = self._inbox[dst]
        now = self.now
        out = []
        while box and box[0][0] <= now:
            _, _, src, data = heapq.heappop(box)
            out.append((src, data))
        self.stats.delivered += len(out)
        return out


class SimTransport:
    """One peer's endpoint of a :class:`SimNetwork` (a :class:`Transport`)."""

    __slots__ = ("network", "peer")

    def __init__(self, network: SimNetwork, peer: int) -> None:
        self.network = network
        self.peer = peer

    def send(self, peer: int, data: bytes) -> None:
        self.network._send(self.peer, peer, data)

    def receive(self) -> list[tuple[int, bytes]]:
        return self.network._receive(self.peer)
