"""FIFO that keeps slow connections apart, using the RTTs the server has measured."""

from __future__ import annotations

from collections.abc import Sequence

from igym_core import MatchContext, Matchmaker, WaitingParticipant
from igym_fifo_matchmaker.fifo import greedy_groups


class RttFifoMatchmaker(Matchmaker):
    """First come, first served, among partners who can play together smoothly.

    Uses the scene's ``max_p2p_rtt_ms`` (from the match context): two participants are only
    grouped when the P2P RTT measured between them is at most this, or, when it was never
    measured, when the sum of their server RTTs (a rough estimate of the path between them) is.
    Participants whose RTTs are unknown are treated as close. Without a limit it is plain FIFO.

    Option ``max_server_rtt_ms``: anyone whose own RTT to the server is higher waits until it
    is lower (it is measured again when the page rejoins).
    """

    name = "rtt_fifo"

    def __init__(self, *, max_server_rtt_ms: float | None = None) -> None:
        if max_server_rtt_ms is not None and max_server_rtt_ms <= 0:
            raise ValueError(f"max_server_rtt_ms must be positive, got {max_server_rtt_ms!r}")
        self.max_server_rtt_ms = max_server_rtt_ms

    @staticmethod
    def close_enough(a: WaitingParticipant, b: WaitingParticipant, limit: float | None) -> bool:
        if limit is None:
            return True
        measured = a.p2p_rtt_ms.get(b.participant_id, b.p2p_rtt_ms.get(a.participant_id))
        if measured is not None:
            return measured <= limit
        if a.server_rtt_ms is None or b.server_rtt_ms is None:
            return True
        return a.server_rtt_ms + b.server_rtt_ms <= limit

    def match(
        self, waiting: Sequence[WaitingParticipant], context: MatchContext
    ) -> list[tuple[str, ...]]:
        queue = sorted(waiting, key=lambda p: (p.waiting_since, p.participant_id))
        if self.max_server_rtt_ms is not None:
            queue = [
                p
                for p in queue
                if p.server_rtt_ms is None or p.server_rtt_ms <= self.max_server_rtt_ms
            ]
        limit = context.max_p2p_rtt_ms
        return greedy_groups(queue, context.group_size, lambda a, b: self.close_enough(a, b, limit))
