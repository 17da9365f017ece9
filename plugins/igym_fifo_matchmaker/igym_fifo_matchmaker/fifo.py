"""First come, first served: the longest-waiting participants play together."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from igym_core import MatchContext, Matchmaker, WaitingParticipant


class FifoMatchmaker(Matchmaker):
    """Groups participants in the order they started waiting (ties broken by id).

    No options. Pairs whose P2P check failed are never grouped (the lobby tells it which, in
    each participant's ``avoid``).
    """

    name = "fifo"

    def match(
        self, waiting: Sequence[WaitingParticipant], context: MatchContext
    ) -> list[tuple[str, ...]]:
        queue = sorted(waiting, key=lambda p: (p.waiting_since, p.participant_id))
        return greedy_groups(queue, context.group_size, lambda a, b: True)


def greedy_groups(
    queue: Sequence[WaitingParticipant],
    group_size: int,
    compatible: Callable[[WaitingParticipant, WaitingParticipant], bool],
) -> list[tuple[str, ...]]:
    """Walk the queue in order; each participant still free heads a group filled with the
    earliest free participants compatible with every member (never one it must avoid)."""
    if group_size < 1:
        raise ValueError(f"group_size must be at least 1, got {group_size}")
    groups: list[tuple[str, ...]] = []
    taken: set[str] = set()
    for head in queue:
        if head.participant_id in taken:
            continue
        group = [head]
        for other in queue:
            if len(group) == group_size:
                break
            if other.participant_id in taken or any(other is m for m in group):
                continue
            if all(
                other.participant_id not in m.avoid
                and m.participant_id not in other.avoid
                and compatible(m, other)
                for m in group
            ):
                group.append(other)
        if len(group) == group_size:
            groups.append(tuple(p.participant_id for p in group))
            taken.update(p.participant_id for p in group)
    return groups
