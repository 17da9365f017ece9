"""Which frame a peer's game should have reached, from the peer's own clock.

A peer plays frame ``n`` at ``t0 + n * frame_ms``. Two things move that target: time-sync
advice (a peer ahead of the others skips a few ticks, :meth:`FrameClock.wait`) and a pause
(:meth:`FrameClock.restart`: after standing still, the game goes on from where it stopped, at
normal speed, instead of racing through the frames the pause lasted). The Pyodide worker
(:class:`~igym_core.runtime.netplay.NetPlay`) and the simulator
(:mod:`~igym_core.runtime.simmatch`) use the same clock.
"""

from __future__ import annotations

__all__ = ["FrameClock"]


class FrameClock:
    """The frame a peer's game should be at by a given time (``frame_ms`` per frame)."""

    __slots__ = ("frame_ms", "offset", "slack", "t0")

    def __init__(self, frame_ms: float, slack: float = 0.0) -> None:
        """``slack``: a fraction of a frame added before rounding down (the simulator's times
        are sums of periods, whose rounding must not lose a frame)."""
        if frame_ms <= 0:
            raise ValueError("frame_ms must be > 0")
        self.frame_ms = float(frame_ms)
        self.slack = slack
        self.t0: float | None = None
        self.offset = 0

    def start(self, now_ms: float) -> None:
        """The first tick (later calls change nothing)."""
        if self.t0 is None:
            self.t0 = now_ms

    def target(self, now_ms: float) -> int:
        """How many frames should be simulated by ``now_ms``."""
        self.start(now_ms)
        assert self.t0 is not None
        return int((now_ms - self.t0) / self.frame_ms + self.slack) + 1 - self.offset

    def wait(self, frames: int) -> None:
        """Fall ``frames`` frames behind (time-sync advice)."""
        self.offset += frames

    def restart(self, now_ms: float, frame: int) -> None:
        """Go on from ``frame`` at ``now_ms``: :meth:`target` is ``frame`` now."""
        self.offset += self.target(now_ms) - frame
