"""First come, first served: the longest-waiting participants play together."""

from __future__ import annotations

from collections.abc import Sequence

from igym_core import Matchmaker, WaitingParticipant


class FifoMatchmaker(Matchmaker):
    """Groups participants in the order they started waiting (ties broken by id)."""

    name = "fifo"

    def match(
        self, waiting: Sequence[WaitingParticipant], group_size: int
    ) -> list[tuple[str, ...]]:
        if group_size < 1:
            raise ValueError(f"group_size must be at least 1, got {group_size}")
        queue = sorted(waiting, key=lambda p: (p.waiting_since, p.participant_id))
        full = len(queue) - len(queue) % group_size
        return [
            tuple(p.participant_id for p in queue[i : i + group_size])
            for i in range(0, full, group_size)
        ]
