"""One peer's inputs, frame by frame: what is confirmed, and what to predict for the rest.

A :class:`PeerInput` is what one peer contributes to one frame: an action for each seat it owns
and its focus flag (whether its tab was focused when the input was sampled). Inputs arrive over
the network out of order and more than once; an :class:`InputQueue` keeps the confirmed ones as a
contiguous run from frame 0 and parks early arrivals until the gap before them is filled.

Prediction follows GGPO: a frame whose input is not confirmed yet is predicted to repeat the
last confirmed input, or the peer's default input before any has been confirmed.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["InputQueue", "PeerInput"]


class PeerInput(NamedTuple):
    """One peer's input for one frame: an action per owned seat, and its focus flag."""

    actions: tuple[int, ...]
    focused: bool = True


class InputQueue:
    """The confirmed inputs of one peer, plus the prediction for frames not confirmed yet.

    ``max_parked`` bounds how many out-of-order future inputs are held; a hostile or broken peer
    cannot make the queue grow without bound.
    """

    __slots__ = ("_confirmed", "_parked", "default", "max_parked")

    def __init__(self, default: PeerInput, max_parked: int = 4096) -> None:
        self.default = default
        self.max_parked = max_parked
        self._confirmed: list[PeerInput] = []
        self._parked: dict[int, PeerInput] = {}

    @property
    def last_confirmed(self) -> int:
        """The highest frame such that this frame and every earlier one is confirmed (-1: none)."""
        return len(self._confirmed) - 1

    def get(self, frame: int) -> PeerInput | None:
        """The confirmed input for ``frame``, or ``None`` when it is not confirmed yet."""
        if 0 <= frame < len(self._confirmed):
            return self._confirmed[frame]
        return None

    def predict(self) -> PeerInput:
        """The input to assume for any unconfirmed frame: the last confirmed, else the default."""
        return self._confirmed[-1] if self._confirmed else self.default

    def input_for(self, frame: int) -> tuple[PeerInput, bool]:
        """``(input, confirmed)`` for ``frame``: the confirmed input, or the prediction."""
        if 0 <= frame < len(self._confirmed):
            return self._confirmed[frame], True
        return (self._confirmed[-1] if self._confirmed else self.default), False

    def add(self, frame: int, value: PeerInput) -> list[int]:
        """Record the input for ``frame``; return the frames that became confirmed (in order).

        A frame that is already confirmed (a duplicate) is ignored, as is a future frame when
        ``max_parked`` early arrivals are already waiting.
        """
        confirmed = self._confirmed
        if frame < len(confirmed):
            return []
        if frame > len(confirmed):
            if frame not in self._parked and len(self._parked) < self.max_parked:
                self._parked[frame] = value
            return []
        confirmed.append(value)
        newly = [frame]
        parked = self._parked
        if parked:
            nxt = frame + 1
            while nxt in parked:
                confirmed.append(parked.pop(nxt))
                newly.append(nxt)
                nxt += 1
        return newly

    def confirmed_range(self, start: int, stop: int) -> list[PeerInput]:
        """Confirmed inputs for frames ``start <= f < stop`` (clipped to what is confirmed)."""
        return self._confirmed[max(start, 0) : stop]
