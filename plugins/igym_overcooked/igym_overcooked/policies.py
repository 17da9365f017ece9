"""AI partners for Overcooked: a scripted cook and a random one.

Both are pure functions of the observation (the whole kitchen state, see
``OvercookedEnv._observations``) and their seed: they keep no memory between calls. That makes
them safe under rollback netcode, where every peer computes the AI seats itself and may
recompute any frame: the same frame always gives the same action.

The scripted cook plans one errand at a time from what it sees:

* holding a soup: deliver it;
* holding a plate: go to a full pot (ready first, else the one closest to done) and scoop the
  soup; with no full pot, set the plate down;
* holding an onion (or tomato): put it into the fullest pot that still takes it; with none,
  set it down;
* empty-handed: fetch a plate when a pot is full or nearly done and no partner already carries
  a plate; otherwise fetch an ingredient while pots still need more than partners carry.

A cook that cannot reach any pot from its part of the kitchen (forced_coordination's left side)
becomes a supplier: it carries onions and plates to *pass counters*, empty counters between its
floor and someone else's, keeping the other side stocked. Items a cook cannot use where it
stands go onto those pass counters too. Paths are shortest paths over the floor around other
chefs and loose items; when another chef blocks the only way, a seeded coin decides between
waiting and side-stepping, which breaks the symmetric stand-offs two copies would otherwise get
into.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from igym_overcooked.env import (
    _ACTION_DIR,
    COOK_TIME,
    COUNTER,
    DELIVERY,
    DISPENSER,
    FLOOR,
    INTERACT,
    NOOP,
    ONION,
    ONION_SOUP,
    PLATE,
    POT,
    POT_CAPACITY,
    TOMATO,
    TOMATO_SOUP,
    Layout,
    get_layout,
)

__all__ = ["RandomPolicy", "ScriptedCook", "random_policy", "scripted_cook"]

_M64 = 0xFFFFFFFFFFFFFFFF
# Move action that faces / steps in direction code d (Right, Down, Left, Up).
_MOVE_FOR_DIR = {d: a for a, d in enumerate(_ACTION_DIR)}


def _mix(*values: int) -> int:
    """A splitmix64-style hash of some ints: the policies' only source of randomness."""
    x = 0x9E3779B97F4A7C15
    for v in values:
        x = (x ^ (v & _M64)) * 0xBF58476D1CE4E5B9 & _M64
        x ^= x >> 31
        x = (x + 0x9E3779B97F4A7C15) * 0x94D049BB133111EB & _M64
        x ^= x >> 29
    return x


def _agent_number(agent_id: Any) -> int:
    digits = "".join(ch for ch in str(agent_id) if ch.isdigit())
    return int(digits) if digits else 0


class _Plan:
    """Static facts about a layout the cook needs: neighbours, access cells, regions."""

    def __init__(self, lay: Layout) -> None:
        self.lay = lay
        n = lay.n_cells
        # floor neighbours of every floor cell: [(direction, cell)]
        self.nbrs: list[list[tuple[int, int]]] = [[] for _ in range(n)]
        # floor cells next to each non-floor cell, with the direction to face it from there
        self.access: list[list[tuple[int, int]]] = [[] for _ in range(n)]
        for k in lay.floor_cells:
            for d in range(4):
                f = lay.fwd[d][k]
                if f == k:
                    continue
                if lay.kind[f] == FLOOR:
                    self.nbrs[k].append((d, f))
                self.access[f].append((k, d))
        # connected floor regions (ignoring agents and items)
        self.region = [-1] * n
        rid = 0
        for k in lay.floor_cells:
            if self.region[k] >= 0:
                continue
            self.region[k] = rid
            todo = [k]
            while todo:
                c = todo.pop()
                for _, f in self.nbrs[c]:
                    if self.region[f] < 0:
                        self.region[f] = rid
                        todo.append(f)
            rid += 1
        self.n_regions = rid
        kinds = lay.kind
        self.pots = [k for k in range(n) if kinds[k] == POT]
        self.deliveries = [k for k in range(n) if kinds[k] == DELIVERY]
        self.counters = [k for k in range(n) if kinds[k] == COUNTER]
        self.dispensers: dict[int, list[int]] = {}
        for k in range(n):
            if kinds[k] == DISPENSER:
                self.dispensers.setdefault(lay.produce[k], []).append(k)

    def regions_of(self, target: int) -> set[int]:
        """Regions from which ``target`` (a station or counter) can be used."""
        return {self.region[a] for a, _ in self.access[target]}

    def is_pass_counter(self, k: int) -> bool:
        return self.lay.kind[k] == COUNTER and len(self.regions_of(k)) > 1


_PLANS: dict[str, _Plan] = {}


def _plan_for(layout: str) -> _Plan:
    plan = _PLANS.get(layout)
    if plan is None:
        plan = _PLANS[layout] = _Plan(get_layout(layout))
    return plan


class ScriptedCook:
    """The scripted cook (see the module docstring). ``act(observation) -> int``."""

    def __init__(self, agent_id: Any = "agent_0", seed: int = 0, **kwargs: Any) -> None:
        if kwargs:
            raise TypeError(f"ScriptedCook takes no options, got {sorted(kwargs)}")
        self.agent_id = agent_id
        self.seed = int(seed)

    def act(self, observation: dict[str, Any]) -> int:
        me = observation["agent_index"]
        plan = _plan_for(observation["layout"])
        return _decide(plan, observation["state"], me, self.seed)


class RandomPolicy:
    """Uniformly random actions, a seeded function of (seed, seat, time): rollback-safe."""

    def __init__(self, agent_id: Any = "agent_0", seed: int = 0, **kwargs: Any) -> None:
        if kwargs:
            raise TypeError(f"RandomPolicy takes no options, got {sorted(kwargs)}")
        self.agent_id = agent_id
        self.seed = int(seed)

    def act(self, observation: dict[str, Any]) -> int:
        st = observation["state"]
        return _mix(self.seed, observation["agent_index"], st["t"]) % 7


def scripted_cook(agent_id: Any, seed: int, **kwargs: Any) -> ScriptedCook:
    """PolicySpec factory for :class:`ScriptedCook`."""
    return ScriptedCook(agent_id, seed, **kwargs)


class FeatureCook:
    """The scripted cook playing from cogrid's feature vectors (``observations="features"``,
    or cogrid's own ``Overcooked-<Layout>-V0`` observations): it rebuilds what it needs of the
    kitchen with :func:`igym_overcooked.features.state_from_features`. It counts its calls as
    the clock (the vector has none), so it belongs on the server, not in a rollback game."""

    def __init__(self, agent_id: Any, seed: int, layout: str, agent_index: int | None) -> None:
        from igym_overcooked.kitchen import get_layout

        self.layout = get_layout(layout)
        self.layout_name = layout
        if agent_index is None:
            digits = "".join(ch for ch in str(agent_id) if ch.isdigit())
            if not digits:
                raise ValueError(f"cannot tell the agent index of {agent_id!r}: pass agent_index")
            agent_index = int(digits)
        self.agent_index = agent_index
        self.seed = int(seed)
        self.calls = 0

    def act(self, observation: Any) -> int:
        from igym_overcooked.features import state_from_features

        state = state_from_features(self.layout, observation, self.agent_index)
        state["t"] = self.calls
        self.calls += 1
        return _decide(_plan_for(self.layout_name), state, self.agent_index, self.seed)


def feature_cook(
    agent_id: Any, seed: int, layout: str = "cramped_room", agent_index: int | None = None
) -> FeatureCook:
    """PolicySpec factory for :class:`FeatureCook` (``layout``: the kitchen it cooks in)."""
    return FeatureCook(agent_id, seed, layout, agent_index)


def random_policy(agent_id: Any, seed: int, **kwargs: Any) -> RandomPolicy:
    """PolicySpec factory for :class:`RandomPolicy`."""
    return RandomPolicy(agent_id, seed, **kwargs)


# -- the planner ----------------------------------------------------------------------------


def _decide(plan: _Plan, st: dict[str, Any], me: int, seed: int) -> int:
    lay = plan.lay
    pos = st["pos"]
    held = st["held"]
    items = st["items"]
    contents = st["pots"]
    timers = st["timers"]
    here = pos[me]
    my_region = plan.region[here]
    n = len(pos)
    others = [j for j in range(n) if j != me]

    def usable(target: int) -> bool:
        return my_region in plan.regions_of(target)

    pot_ids = list(range(len(plan.pots)))
    full = [len(contents[p]) == POT_CAPACITY for p in pot_ids]
    my_pots = [p for p in pot_ids if usable(plan.pots[p])]
    h = held[me]

    def items_of(kind: int, allow_pass: bool) -> list[int]:
        out = []
        for k, it in enumerate(items):
            if it != kind:
                continue
            if lay.kind[k] == FLOOR:
                if any(plan.region[a] == my_region for a, _ in plan.access[k]):
                    out.append(k)
            elif usable(k) and (allow_pass or not plan.is_pass_counter(k)):
                out.append(k)
        return out

    def sources(kind: int, allow_pass: bool = True) -> list[int]:
        out = [k for k in plan.dispensers.get(kind, []) if usable(k)]
        return out + items_of(kind, allow_pass)

    def empty_counters(pass_only: bool) -> list[int]:
        return [
            k
            for k in plan.counters
            if not items[k] and usable(k) and (not pass_only or plan.is_pass_counter(k))
        ]

    def set_down() -> list[int]:
        """Where to put a held item this cook cannot use now: a pass counter if any."""
        return empty_counters(True) or empty_counters(False)

    # -- holding something --------------------------------------------------------------
    if h in (ONION_SOUP, TOMATO_SOUP):
        targets = [k for k in plan.deliveries if usable(k)] or set_down()
        return _go(plan, st, me, targets, seed)
    if h == PLATE:
        ready = [plan.pots[p] for p in my_pots if full[p] and timers[p] == 0]
        if ready:
            return _go(plan, st, me, ready, seed)
        cooking = sorted((timers[p], plan.pots[p]) for p in my_pots if full[p])
        if cooking:
            return _go(plan, st, me, [cooking[0][1]], seed)
        return _go(plan, st, me, set_down() if not my_pots else empty_counters(False), seed)
    if h in (ONION, TOMATO):
        open_pots = [
            (len(contents[p]), plan.pots[p])
            for p in my_pots
            if len(contents[p]) < POT_CAPACITY and all(x == h for x in contents[p])
        ]
        if open_pots:
            most = max(c for c, _ in open_pots)
            return _go(plan, st, me, [k for c, k in open_pots if c == most], seed)
        return _go(plan, st, me, set_down(), seed)

    # -- empty hands: pick an errand ----------------------------------------------------
    carried = [held[j] for j in others]
    if my_pots:
        ripe = [p for p in my_pots if full[p] and timers[p] <= COOK_TIME // 3]
        plates_out = carried.count(PLATE)
        need_plates = sum(1 for p in my_pots if full[p]) - plates_out
        need_onions = sum(POT_CAPACITY - len(contents[p]) for p in my_pots if not full[p])
        need_onions -= carried.count(ONION)
        plate_src = sources(PLATE)
        onion_src = sources(ONION)
        if ripe and need_plates > 0 and plate_src:
            return _go(plan, st, me, plate_src, seed)
        if need_onions > 0 and onion_src:
            return _go(plan, st, me, onion_src, seed)
        if need_plates > 0 and plate_src:
            return _go(plan, st, me, plate_src, seed)
        return _idle(plan, st, me, seed)

    # A supplier: nothing to cook with here, so keep the pass counters stocked.
    passes = [k for k in plan.counters if plan.is_pass_counter(k) and usable(k)]
    if not passes:
        return _idle(plan, st, me, seed)
    on_pass = [items[k] for k in passes]
    free_pass = on_pass.count(0)
    onion_demand = sum(
        (POT_CAPACITY - len(contents[p])) if not full[p] else POT_CAPACITY for p in pot_ids
    )
    onion_supply = on_pass.count(ONION) + carried.count(ONION)
    plate_demand = sum(1 for p in pot_ids if len(contents[p]) >= POT_CAPACITY - 1)
    plate_supply = on_pass.count(PLATE) + carried.count(PLATE)
    if free_pass > 0:
        if plate_demand > plate_supply and on_pass.count(PLATE) < 1:
            src = sources(PLATE, allow_pass=False)
            if src:
                return _go(plan, st, me, src, seed)
        if onion_demand > onion_supply and free_pass > 1 - (on_pass.count(PLATE) > 0):
            src = sources(ONION, allow_pass=False)
            if src:
                return _go(plan, st, me, src, seed)
    return _idle(plan, st, me, seed)


def _bfs(plan: _Plan, start: int, blocked: set[int]) -> tuple[dict[int, int], dict[int, int]]:
    """Distances and first moves (direction codes) from ``start`` over free floor cells."""
    dist = {start: 0}
    first: dict[int, int] = {}
    q = deque([start])
    nbrs = plan.nbrs
    while q:
        c = q.popleft()
        dc = dist[c] + 1
        for d, f in nbrs[c]:
            if f in dist or f in blocked:
                continue
            dist[f] = dc
            first[f] = first.get(c, d) if c != start else d
            q.append(f)
    return dist, first


def _go(plan: _Plan, st: dict[str, Any], me: int, targets: list[int], seed: int) -> int:
    """The action that brings agent ``me`` one step closer to using one of ``targets``."""
    if not targets:
        return _idle(plan, st, me, seed)
    pos = st["pos"]
    here = pos[me]
    facing = st["dir"][me]
    lay = plan.lay
    # Standing next to a target: face it, then interact.
    for t in targets:
        for a, d in plan.access[t]:
            if a == here:
                if lay.fwd[facing][here] == t:
                    return INTERACT
                # Only turn towards it when no other target is faced already.
                if not any(lay.fwd[facing][here] == u for u in targets):
                    return _MOVE_FOR_DIR[d]
    items = st["items"]
    item_cells = {k for k, it in enumerate(items) if it and lay.kind[k] == FLOOR}
    agents = {pos[j] for j in range(len(pos)) if j != me}
    # Plan around loose items only: chefs move, so a path is planned as if they were not there.
    best = _nearest(plan, here, targets, item_cells)
    if best is None:
        return _idle(plan, st, me, seed)
    path = best[1]
    d = _dir_between(plan, here, path[0])
    on_path = [j for j in range(len(pos)) if j != me and pos[j] in path]
    if not on_path:
        return _MOVE_FOR_DIR[d]
    # Chefs on the way. The one with empty hands gives way to one carrying something (between
    # equals, the higher seat), except in some time windows where the roles swap, so that a
    # partner who never moves is eventually walked around. Giving way means planning around
    # the other chef (or backing off when there is no way round and it is close); the other
    # chef keeps its path and waits when the cell ahead is taken.
    held = st["held"]
    yield_to = []
    for j in on_path:
        gives_way = (not held[me] and held[j]) or (bool(held[me]) == bool(held[j]) and me > j)
        if _mix(st["t"] // 16, min(me, j), max(me, j)) % 4 == 0:
            gives_way = not gives_way
        if gives_way:
            yield_to.append(pos[j])
    if yield_to:
        detour = _nearest(plan, here, targets, item_cells | set(yield_to))
        if detour is not None:
            return _MOVE_FOR_DIR[_dir_between(plan, here, detour[1][0])]
        near = [k for k in yield_to if k in path[:2]]
        if near:
            return _back_off(plan, st, me, seed, near[0], agents | item_cells)
    if path[0] in agents:
        return NOOP
    return _MOVE_FOR_DIR[d]


def _dir_between(plan: _Plan, a: int, b: int) -> int:
    for d, f in plan.nbrs[a]:
        if f == b:
            return d
    raise ValueError("cells are not neighbours")


def _back_off(
    plan: _Plan, st: dict[str, Any], me: int, seed: int, other: int, blocked: set[int]
) -> int:
    """Step to the free neighbouring cell farthest from ``other`` (or wait if there is none)."""
    here = st["pos"][me]
    dist, _ = _bfs(plan, other, set())
    free = [(dist.get(f, 0), -d, d) for d, f in plan.nbrs[here] if f not in blocked]
    if not free:
        return NOOP
    return _MOVE_FOR_DIR[max(free)[2]]


def _nearest(
    plan: _Plan, here: int, targets: list[int], blocked: set[int]
) -> tuple[int, list[int]] | None:
    """(length, path) to the closest cell from which a target can be used.

    The path lists the cells after ``here``; ties go to the lower target, then cell index.
    """
    goals = {}
    for t in targets:
        for a, _ in plan.access[t]:
            if a != here and a not in blocked:
                goals.setdefault(a, t)
    if not goals:
        return None
    parent = {here: -1}
    q = deque([here])
    dist = {here: 0}
    best = None
    while q:
        c = q.popleft()
        if best is not None and dist[c] >= best[0]:
            break
        for _, f in plan.nbrs[c]:
            if f in parent or f in blocked:
                continue
            parent[f] = c
            dist[f] = dist[c] + 1
            if f in goals:
                key = (dist[f], goals[f], f)
                if best is None or key < best:
                    best = key
            q.append(f)
    if best is None:
        return None
    path = []
    c = best[2]
    while c != here:
        path.append(c)
        c = parent[c]
    path.reverse()
    return best[0], path


def _dodge(plan: _Plan, st: dict[str, Any], me: int, seed: int, blocked: set[int]) -> int:
    """Another chef is in the way: wait or side-step, by a seeded coin."""
    here = st["pos"][me]
    free = [d for d, f in plan.nbrs[here] if f not in blocked]
    r = _mix(seed, me, st["t"], 1)
    if not free or r % 2 == 0:
        return NOOP
    return _MOVE_FOR_DIR[free[(r >> 1) % len(free)]]


def _idle(plan: _Plan, st: dict[str, Any], me: int, seed: int) -> int:
    """Nothing to do: step out of a partner's way if next to one, else wait."""
    here = st["pos"][me]
    lay = plan.lay
    pos = st["pos"]
    near = any(j != me and any(f == pos[j] for _, f in plan.nbrs[here]) for j in range(len(pos)))
    if not near:
        return NOOP
    items = st["items"]
    blocked = {pos[j] for j in range(len(pos)) if j != me}
    blocked |= {k for k, it in enumerate(items) if it and lay.kind[k] == FLOOR}
    return _dodge(plan, st, me, seed, blocked)
