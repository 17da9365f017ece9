"""One member's input as the server's game clock sees it: the same rules as the browser's
worker (``client/src/worker/input-state.js``), so a scene plays the same in either mode.

"held": the action of the key held down at the tick (the most recently pressed one when several
are held); a key pressed and released between two ticks still acts once, and several taps act
on consecutive ticks, in order. "press": each key press acts once, on the next tick that has
not used a press yet. Idle or unfocused: no action (the default action, or no step at all in a
turn-based or step-on-input scene).
"""

from __future__ import annotations

from collections import deque

#: a press waits at most this many ticks' worth of presses; older ones are dropped
MAX_QUEUED = 8


class InputState:
    def __init__(self, mode: str = "held") -> None:
        if mode not in ("held", "press"):
            raise ValueError(f"input mode must be 'held' or 'press', got {mode!r}")
        self.mode = mode
        self.held: list[tuple[int, float | None]] = []
        self.fresh: deque[tuple[int, float | None]] = deque(maxlen=MAX_QUEUED)
        self.focused = True

    def down(self, action: int, t: float | None) -> None:
        if not self.focused:
            return
        self.held = [k for k in self.held if k[0] != action]
        self.held.append((action, t))
        self.fresh.append((action, t))

    def up(self, action: int) -> None:
        self.held = [k for k in self.held if k[0] != action]

    def clear(self) -> None:
        self.held = []
        self.fresh.clear()

    def set_focused(self, focused: bool) -> None:
        self.focused = focused
        if not focused:
            self.clear()

    def sample(self) -> tuple[int | None, float | None]:
        """``(action or None, the key event's time when this tick uses a new press)``."""
        if not self.focused:
            return None, None
        if self.fresh:
            return self.fresh.popleft()
        if self.mode == "held" and self.held:
            return self.held[-1][0], None
        return None, None
