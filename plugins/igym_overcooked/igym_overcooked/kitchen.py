"""The static kitchen: actions, directions, items, cell kinds, rewards and parsed layouts.

Everything here is fixed for an episode; :mod:`igym_overcooked.env` holds what changes.
"""

from __future__ import annotations

from igym_overcooked.layouts import LAYOUTS

# Actions: cogrid's cardinal action set.
UP, DOWN, LEFT, RIGHT, INTERACT, TOGGLE, NOOP = range(7)
N_ACTIONS = 7
ACTION_LABELS = {
    UP: "up",
    DOWN: "down",
    LEFT: "left",
    RIGHT: "right",
    INTERACT: "pick up / drop",
    TOGGLE: "toggle",
    NOOP: "no-op",
}

# Directions: cogrid's codes (Right=0, Down=1, Left=2, Up=3).
DIRECTIONS = ("right", "down", "left", "up")
_DIR_CODE = {name: code for code, name in enumerate(DIRECTIONS)}
_DIR_VEC = ((0, 1), (1, 0), (0, -1), (-1, 0))
_ACTION_DIR = (3, 1, 2, 0)

# Items: 0 is "nothing"; names are cogrid's object ids.
ITEMS = (None, "onion", "tomato", "plate", "onion_soup", "tomato_soup")
ONION, TOMATO, PLATE, ONION_SOUP, TOMATO_SOUP = 1, 2, 3, 4, 5
_ITEM_CODE = {name: code for code, name in enumerate(ITEMS) if name}
_SOUP_OF = {ONION: ONION_SOUP, TOMATO: TOMATO_SOUP}

# Static cell kinds.
FLOOR, COUNTER, WALL, POT, DELIVERY, DISPENSER = range(6)
_SYMBOLS = {
    " ": (FLOOR, 0),
    "+": (FLOOR, 0),
    "C": (COUNTER, 0),
    "#": (WALL, 0),
    "U": (POT, 0),
    "@": (DELIVERY, 0),
    "O": (DISPENSER, ONION),
    "T": (DISPENSER, TOMATO),
    "=": (DISPENSER, PLATE),
    "1": (DISPENSER, ONION_SOUP),
    "2": (DISPENSER, TOMATO_SOUP),
}
KIND_NAMES = ("floor", "counter", "wall", "pot", "delivery_zone", "dispenser")
_DISPENSER_NAMES = {
    ONION: "onion_stack",
    TOMATO: "tomato_stack",
    PLATE: "plate_stack",
    ONION_SOUP: "onion_soup_stack",
    TOMATO_SOUP: "tomato_soup_stack",
}

POT_CAPACITY = 3
COOK_TIME = 30
REWARD_DELIVERY = 20.0
REWARD_ONION_IN_POT = 3.0
REWARD_SOUP_IN_DISH = 5.0


class Layout:
    """A parsed kitchen: static cell kinds and the lookup tables the step uses."""

    def __init__(self, name: str, rows: tuple[str, ...]) -> None:
        if not rows or any(len(r) != len(rows[0]) for r in rows):
            raise ValueError(f"layout {name!r} must be a non-empty rectangle of characters")
        self.name = name
        self.rows = rows
        self.height = h = len(rows)
        self.width = w = len(rows[0])
        self.n_cells = h * w
        self.kind: list[int] = []
        self.produce: list[int] = []
        self.spawns: list[int] = []
        for r, row in enumerate(rows):
            for c, ch in enumerate(row):
                if ch not in _SYMBOLS:
                    raise ValueError(f"layout {name!r}: unknown symbol {ch!r} at row {r}, col {c}")
                kind, produce = _SYMBOLS[ch]
                self.kind.append(kind)
                self.produce.append(produce)
                if ch == "+":
                    self.spawns.append(r * w + c)
        self.pot_cells = [k for k in range(self.n_cells) if self.kind[k] == POT]
        self.pot_index = [-1] * self.n_cells
        for p, k in enumerate(self.pot_cells):
            self.pot_index[k] = p
        self.floor_cells = [k for k in range(self.n_cells) if self.kind[k] == FLOOR]
        # fwd[d][k]: the cell faced from k in direction d, clipped to the grid as cogrid does.
        # move[d][k]: where a move in direction d from k leads if no item or agent is in the
        # way (k itself when the cell ahead is off the grid, a wall or a station).
        self.fwd: list[list[int]] = []
        self.move: list[list[int]] = []
        for dr, dc in _DIR_VEC:
            fwd_d, move_d = [], []
            for k in range(self.n_cells):
                r, c = divmod(k, w)
                rr = min(max(r + dr, 0), h - 1)
                cc = min(max(c + dc, 0), w - 1)
                f = rr * w + cc
                fwd_d.append(f)
                move_d.append(f if self.kind[f] == FLOOR else k)
            self.fwd.append(fwd_d)
            self.move.append(move_d)

    def rc(self, k: int) -> list[int]:
        return list(divmod(k, self.width))


_LAYOUT_CACHE: dict[str, Layout] = {}


def get_layout(name: str) -> Layout:
    """The parsed layout called ``name`` (cached)."""
    lay = _LAYOUT_CACHE.get(name)
    if lay is None:
        if name not in LAYOUTS:
            raise ValueError(f"unknown Overcooked layout {name!r}; known: {sorted(LAYOUTS)}")
        lay = _LAYOUT_CACHE[name] = Layout(name, LAYOUTS[name])
    return lay
