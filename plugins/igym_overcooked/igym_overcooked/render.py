"""Draw objects for the browser's canvas renderer (format: README, "Draw objects").

Coordinates are grid cells: ``x`` is the column, ``y`` the row, ``w``/``h`` sizes in cells; the
renderer scales cells to pixels. Objects are drawn in ``layer`` order (stable within a layer):
0 floor and stations, 1 items on cells and in pots, 2 pot timers, 3 chefs, 4 what chefs hold.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from igym_overcooked.env import (
    _DISPENSER_NAMES,
    COOK_TIME,
    COUNTER,
    DELIVERY,
    DIRECTIONS,
    DISPENSER,
    FLOOR,
    ITEMS,
    POT,
    POT_CAPACITY,
    WALL,
)

if TYPE_CHECKING:
    from igym_overcooked.env import OvercookedEnv

ATLAS = "overcooked"
# One colour per seat; chef sprites come in the same colours (frame "chef_<dir>_<seat>").
AGENT_COLORS = ("#2f6fde", "#e8731c", "#2e9e4f", "#9b4fd1")
_STATIC_FRAME = {FLOOR: "floor", COUNTER: "counter", WALL: "wall", POT: "pot", DELIVERY: "delivery"}
_static_cache: dict[str, list[dict[str, Any]]] = {}


def _sprite(frame: str, x: float, y: float, layer: int, size: float = 1.0) -> dict[str, Any]:
    return {
        "kind": "sprite",
        "atlas": ATLAS,
        "frame": frame,
        "x": x,
        "y": y,
        "w": size,
        "h": size,
        "layer": layer,
    }


def static_objects(env: OvercookedEnv) -> list[dict[str, Any]]:
    """The kitchen itself (floor, counters, stations): the same for every frame of a layout."""
    name = env.layout_name
    cached = _static_cache.get(name)
    if cached is None:
        lay = env.layout
        cached = []
        for k, kind in enumerate(lay.kind):
            r, c = divmod(k, lay.width)
            if kind == DISPENSER:
                frame = _DISPENSER_NAMES[lay.produce[k]]
            else:
                frame = _STATIC_FRAME[kind]
            cached.append(_sprite(frame, c, r, 0))
        _static_cache[name] = cached
    return [dict(o) for o in cached]


def draw(env: OvercookedEnv) -> list[dict[str, Any]]:
    """Everything on screen for the env's current state."""
    lay = env.layout
    w = lay.width
    st = env.get_state()
    out = static_objects(env)
    for k, it in enumerate(st["items"]):
        if it:
            r, c = divmod(k, w)
            out.append(_sprite(ITEMS[it], c + 0.15, r + 0.15, 1, 0.7))
    for p, k in enumerate(lay.pot_cells):
        r, c = divmod(k, w)
        contents = st["pots"][p]
        timer = st["timers"][p]
        for i, it in enumerate(contents):
            out.append(_sprite(ITEMS[it], c + 0.08 + 0.28 * i, r + 0.08, 1, 0.28))
        if len(contents) == POT_CAPACITY:
            done = timer == 0
            frac = 1.0 if done else (COOK_TIME - timer) / COOK_TIME
            out.append(
                {
                    "kind": "rect",
                    "x": c + 0.1,
                    "y": r + 0.82,
                    "w": 0.8,
                    "h": 0.1,
                    "color": "#3a3a3a",
                    "layer": 2,
                }
            )
            out.append(
                {
                    "kind": "rect",
                    "x": c + 0.1,
                    "y": r + 0.82,
                    "w": 0.8 * frac,
                    "h": 0.1,
                    "color": "#3cb371" if done else "#f2b233",
                    "layer": 2,
                }
            )
            out.append(
                {
                    "kind": "text",
                    "x": c + 0.5,
                    "y": r + 0.62,
                    "text": "ready" if done else str(timer),
                    "color": "#ffffff",
                    "size": 0.3,
                    "align": "center",
                    "layer": 2,
                }
            )
    for i, (k, d, h) in enumerate(zip(st["pos"], st["dir"], st["held"], strict=True)):
        r, c = divmod(k, w)
        seat = i % len(AGENT_COLORS)
        out.append(_sprite(f"chef_{DIRECTIONS[d]}_{seat}", c, r, 3))
        if h:
            dr, dc = ((0, 0.42), (0.42, 0), (0, -0.42), (-0.42, 0))[d]
            out.append(_sprite(ITEMS[h], c + 0.29 + dc * 0.6, r + 0.29 + dr * 0.6, 4, 0.42))
    return out
