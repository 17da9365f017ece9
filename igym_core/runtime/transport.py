"""Transports: how a session's packets leave and arrive.

:class:`~igym_core.runtime.rollback.Transport` is the interface (``send(peer, data)``,
``receive() -> [(peer, data)]``). :class:`BufferTransport` is the one the Pyodide worker uses:
the worker's tick message brings the packets the main thread received from the data channels
(:meth:`BufferTransport.deliver`), and the reply carries the packets to send
(:meth:`BufferTransport.take_outgoing`), so one tick is one round trip across the worker boundary.
The simulated network (:mod:`igym_core.runtime.netsim`) is the other implementation.
"""

from __future__ import annotations

from collections.abc import Iterable

from igym_core.runtime.rollback import Transport

__all__ = ["BufferTransport", "Transport"]


class BufferTransport:
    """A :class:`Transport` backed by two in-memory lists, filled and emptied by the host."""

    __slots__ = ("_incoming", "_outgoing", "max_incoming")

    def __init__(self, max_incoming: int = 10_000) -> None:
        self.max_incoming = max_incoming
        self._incoming: list[tuple[int, bytes]] = []
        self._outgoing: list[tuple[int, bytes]] = []

    def deliver(self, packets: Iterable[tuple[int, bytes]]) -> int:
        """Queue packets received from peers; returns how many were dropped because more than
        ``max_incoming`` were already waiting (a flood must not exhaust memory)."""
        dropped = 0
        for peer, data in packets:
            if len(self._incoming) >= self.max_incoming:
                dropped += 1
                continue
            self._incoming.append((int(peer), bytes(data)))
        return dropped

    def take_outgoing(self) -> list[tuple[int, bytes]]:
        """Every packet the session sent since the last call, as ``(to_peer, data)``."""
        out, self._outgoing = self._outgoing, []
        return out

    def send(self, peer: int, data: bytes) -> None:
        self._outgoing.append((peer, data))

    def receive(self) -> list[tuple[int, bytes]]:
        out, self._incoming = self._incoming, []
        return out
