"""igym_overcooked: Overcooked for igym, in pure Python, with cogrid 0.3.2's dynamics."""

from igym_overcooked.env import ACTION_LABELS, OvercookedEnv, make
from igym_overcooked.layouts import CLASSIC, LAYOUTS

__all__ = ["ACTION_LABELS", "CLASSIC", "LAYOUTS", "OvercookedEnv", "make"]
