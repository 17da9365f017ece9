"""cogrid's observation feature vectors, computed from this pack's state in pure Python.

cogrid 0.3.2's ``Overcooked-<Layout>-V0`` envs observe, per agent, the 892 numbers (two
agents) its feature list composes, ego-centric: first the focal agent's per-agent features,
then the other agent's, then the global ones. Per agent, in the config's order:

=====================  ====  ==================================================================
``agent_dir``             4  one-hot direction (right, down, left, up)
``overcooked_inventory``  5  one-hot held item (onion, onion_soup, plate, tomato, tomato_soup)
``next_to_counter``       4  a counter to the right, left, below, above
``next_to_pot``          16  a pot in each of those directions that is empty, partly filled,
                             cooking, ready (4 x 4)
``ordered_pot_features`` 24  per pot (two at most, reading order): reachable (1), ready,
                             empty, cooking, partial, onions, tomatoes, timer while cooking
                             (else -1), dy, dx to it, its row and column
``dist_to_other_players`` 2  dy, dx to the other agent
``agent_position``        2  row, column
``can_move_direction``    4  the cell to the right, left, below, above can be walked on
=====================  ====  ==================================================================

and, once, ``object_type_masks`` (770): for each of counter, delivery_zone, onion,
onion_soup, onion_stack, plate, plate_stack, tomato, tomato_soup, tomato_stack, a 7 x 11 grid
(the layout padded at the bottom and right) marking the cells whose object type or object state
is that type. cogrid's object state of a pot is ``n_items * (1 + timer)`` as of the step's
cooking tick, and its type ids are compared with it as they are: a pot whose code happens to
equal a type id shows up in that type's mask, exactly as in cogrid.

The differential tests compare these vectors with cogrid's own observations step for step.
"""

from __future__ import annotations

from typing import Any

from igym_overcooked.kitchen import (
    COUNTER,
    DELIVERY,
    DISPENSER,
    FLOOR,
    ONION,
    ONION_SOUP,
    PLATE,
    POT,
    POT_CAPACITY,
    TOMATO,
    TOMATO_SOUP,
    WALL,
    Layout,
)

__all__ = [
    "FEATURE_DIM_PER_AGENT",
    "GLOBAL_DIM",
    "MASK_H",
    "MASK_W",
    "feature_dim",
    "features",
    "state_from_features",
]

# cogrid 0.3.2's type ids in the "overcooked" scope (get_object_names order).
_FREE, _COUNTER, _WALL, _DELIVERY = 1, 2, 6, 7
_ONION, _ONION_SOUP, _ONION_SOUP_STACK, _ONION_STACK = 8, 9, 10, 11
_PLATE, _PLATE_STACK, _POT = 12, 13, 14
_TOMATO, _TOMATO_SOUP, _TOMATO_SOUP_STACK, _TOMATO_STACK = 15, 16, 17, 18
TYPE_IDS = {
    "free_space": _FREE,
    "counter": _COUNTER,
    "wall": _WALL,
    "delivery_zone": _DELIVERY,
    "onion": _ONION,
    "onion_soup": _ONION_SOUP,
    "onion_soup_stack": _ONION_SOUP_STACK,
    "onion_stack": _ONION_STACK,
    "plate": _PLATE,
    "plate_stack": _PLATE_STACK,
    "pot": _POT,
    "tomato": _TOMATO,
    "tomato_soup": _TOMATO_SOUP,
    "tomato_soup_stack": _TOMATO_SOUP_STACK,
    "tomato_stack": _TOMATO_STACK,
}
_ITEM_TYPE = {
    ONION: _ONION,
    TOMATO: _TOMATO,
    PLATE: _PLATE,
    ONION_SOUP: _ONION_SOUP,
    TOMATO_SOUP: _TOMATO_SOUP,
}
_DISPENSER_TYPE = {
    ONION: _ONION_STACK,
    TOMATO: _TOMATO_STACK,
    PLATE: _PLATE_STACK,
    ONION_SOUP: _ONION_SOUP_STACK,
    TOMATO_SOUP: _TOMATO_SOUP_STACK,
}
# overcooked_inventory's order: the pickupable types sorted by name.
_INVENTORY = (ONION, ONION_SOUP, PLATE, TOMATO, TOMATO_SOUP)
_MASK_TYPES = (
    _COUNTER,
    _DELIVERY,
    _ONION,
    _ONION_SOUP,
    _ONION_STACK,
    _PLATE,
    _PLATE_STACK,
    _TOMATO,
    _TOMATO_SOUP,
    _TOMATO_STACK,
)
MASK_H, MASK_W = 7, 11
# Right, left, down, up: the order of cogrid's adjacency features.
_DELTAS = ((0, 1), (0, -1), (1, 0), (-1, 0))
_MAX_POTS = 2
FEATURE_DIM_PER_AGENT = 4 + 5 + 4 + 16 + 12 * _MAX_POTS + 2 + 2 + 4
GLOBAL_DIM = len(_MASK_TYPES) * MASK_H * MASK_W


def feature_dim(n_agents: int) -> int:
    """The length of one agent's feature vector."""
    return FEATURE_DIM_PER_AGENT * n_agents + GLOBAL_DIM


def _type_maps(lay: Layout, items: list[int], pot_codes: list[int]) -> tuple[list, list]:
    """cogrid's object_type_map and object_state_map, flattened, for this state."""
    otm = []
    osm = [0] * lay.n_cells
    for k in range(lay.n_cells):
        kind = lay.kind[k]
        it = items[k]
        if kind == FLOOR:
            otm.append(_ITEM_TYPE[it] if it else _FREE)
        elif kind == COUNTER:
            otm.append(_COUNTER)
            if it:
                osm[k] = _ITEM_TYPE[it]
        elif kind == POT:
            otm.append(_POT)
            osm[k] = pot_codes[lay.pot_index[k]]
        elif kind == DELIVERY:
            otm.append(_DELIVERY)
        elif kind == DISPENSER:
            otm.append(_DISPENSER_TYPE[lay.produce[k]])
        elif kind == WALL:
            otm.append(_WALL)
        else:  # pragma: no cover - every kind is listed above
            raise AssertionError(f"unknown cell kind {kind}")
    return otm, osm


def _pot_status(contents: tuple[int, ...], timer: int) -> tuple[bool, bool, bool, bool]:
    """(empty, partial, cooking, ready)."""
    n = len(contents)
    return (
        n == 0,
        0 < n < POT_CAPACITY,
        n == POT_CAPACITY and timer > 0,
        n == POT_CAPACITY and timer == 0,
    )


def _per_agent(
    lay: Layout,
    state: dict,
    otm: list[int],
    i: int,
    n_agents: int,
) -> list[float]:
    w, h = lay.width, lay.height
    r, c = divmod(state["pos"][i], w)
    d = state["dir"][i]
    held = state["held"][i]
    pots = state["pots"]
    timers = state["timers"]
    out: list[float] = [float(d == x) for x in range(4)]
    out += [float(held == x) for x in _INVENTORY]
    neighbours = []
    for dr, dc in _DELTAS:
        rr, cc = r + dr, c + dc
        neighbours.append(rr * w + cc if 0 <= rr < h and 0 <= cc < w else -1)
    out += [float(k >= 0 and lay.kind[k] == COUNTER) for k in neighbours]
    status = [
        _pot_status(tuple(pots[lay.pot_index[k]]), timers[lay.pot_index[k]])
        if k >= 0 and lay.kind[k] == POT
        else (False, False, False, False)
        for k in neighbours
    ]
    for which in range(4):
        out += [float(s[which]) for s in status]
    for p in range(_MAX_POTS):
        if p >= len(lay.pot_cells):
            out += [0.0] * 12
            continue
        contents = tuple(pots[p])
        timer = timers[p]
        empty, partial, cooking, ready = _pot_status(contents, timer)
        pr, pc = divmod(lay.pot_cells[p], w)
        out += [
            1.0,
            float(ready),
            float(empty),
            float(cooking),
            float(partial),
            float(sum(1 for x in contents if x == ONION)),
            float(sum(1 for x in contents if x == TOMATO)),
            float(timer) if cooking else -1.0,
            float(r - pr),
            float(c - pc),
            float(pr),
            float(pc),
        ]
    for j in range(2):  # cogrid computes this one for exactly two agents
        if j != i:
            orow, ocol = divmod(state["pos"][j], w)
            out += [float(r - orow), float(c - ocol)]
    out += [float(r), float(c)]
    out += [float(k >= 0 and lay.kind[k] == FLOOR and otm[k] == _FREE) for k in neighbours]
    return out


def features(lay: Layout, state: dict, agent_index: int) -> list[float]:
    """The feature vector cogrid's env observes for ``agent_index`` in ``state`` (a dict from
    ``OvercookedEnv.get_state()``), as a list of floats (float32 values)."""
    n = len(state["pos"])
    if n != 2:
        raise ValueError(f"cogrid's Overcooked features are defined for two agents, not {n}")
    if lay.height > MASK_H or lay.width > MASK_W:
        raise ValueError(f"cogrid's feature masks hold layouts up to {MASK_H} x {MASK_W}")
    otm, osm = _type_maps(lay, state["items"], state["pot_codes"])
    out = _per_agent(lay, state, otm, agent_index, n)
    for j in range(n):
        if j != agent_index:
            out += _per_agent(lay, state, otm, j, n)
    w = lay.width
    cells = MASK_H * MASK_W
    for t in _MASK_TYPES:
        mask = [0.0] * cells
        for k in range(lay.n_cells):
            if otm[k] == t or osm[k] == t:
                r, c = divmod(k, w)
                mask[r * MASK_W + c] = 1.0
        out += mask
    return out


def state_from_features(lay: Layout, vector: Any, agent_index: int) -> dict:
    """What agent ``agent_index`` can tell of the kitchen from its feature vector (a list or
    array of numbers, e.g. cogrid's own observation): a partial ``get_state()`` dict with
    ``pos``, ``dir``, ``held``, ``items``, ``pots`` and ``timers`` (``t`` is 0: the vector has
    no clock). Enough for :class:`igym_overcooked.policies.ScriptedCook` to play with the
    observations of a cogrid env."""
    v = [float(x) for x in vector]
    if len(v) != feature_dim(2):
        raise ValueError(f"a feature vector has {feature_dim(2)} numbers, got {len(v)}")
    per = FEATURE_DIM_PER_AGENT
    blocks = {agent_index: v[:per], 1 - agent_index: v[per : 2 * per]}
    masks = v[2 * per :]
    w = lay.width
    pos, dirs, held = [0, 0], [0, 0], [0, 0]
    for i, block in blocks.items():
        dirs[i] = max(range(4), key=lambda d: block[d])
        inventory = block[4:9]
        held[i] = next((_INVENTORY[k] for k in range(5) if inventory[k] > 0.5), 0)
        r, c = int(block[per - 6]), int(block[per - 5])
        pos[i] = r * w + c
    cells = MASK_H * MASK_W
    item_of_mask = {2: ONION, 3: ONION_SOUP, 5: PLATE, 7: TOMATO, 8: TOMATO_SOUP}
    items = [0] * lay.n_cells
    for k in range(lay.n_cells):
        if lay.kind[k] not in (FLOOR, COUNTER):
            continue
        r, c = divmod(k, w)
        for m, item in item_of_mask.items():
            if masks[m * cells + r * MASK_W + c] > 0.5:
                items[k] = item
    me = blocks[agent_index]
    pots, timers = [], []
    for p in range(min(len(lay.pot_cells), _MAX_POTS)):
        f = me[29 + 12 * p : 41 + 12 * p]  # this pot's 12 numbers of ordered_pot_features
        contents = (ONION,) * int(f[5]) + (TOMATO,) * int(f[6])
        pots.append(list(contents))
        ready, cooking = f[1] > 0.5, f[3] > 0.5
        timers.append(int(f[7]) if cooking else 0 if ready else 30)
    return {
        "t": 0,
        "pos": pos,
        "dir": dirs,
        "held": held,
        "items": items,
        "pots": pots,
        "timers": timers,
    }
