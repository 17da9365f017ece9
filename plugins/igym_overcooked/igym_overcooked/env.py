"""Overcooked in pure Python, step for step the same as cogrid 0.3.2's ``Overcooked-*-V0``.

One step, in cogrid's order:

1. rewards are judged on the state *before* the step (who interacts, holding what, facing
   what; pot contents and timers before this step's tick);
2. every full pot whose timer is above zero counts down by one;
3. the step's key is drawn from the episode's generator (cogrid's ``env.np_random``, seeded
   by ``reset(seed)``, its state part of this env's state); the generator seeded by that key
   yields the state's next ``rng_key`` and a priority order of the agents;
4. movement: a move action turns the agent, then it proposes the next cell unless that is off
   the grid, a wall, or holds any object (counters, stations, loose items); conflicts between
   agents are settled by priority, one cascade pass and a swap check, as cogrid does;
5. interactions, agent 0 first, each seeing the changes of the agents before it: pick up a
   loose item, take a soup from a cooked pot with a plate, take from a dispenser or counter,
   drop on empty floor, put an ingredient into a pot, deliver a soup, put on an empty counter;
6. time advances; the episode truncates at ``max_steps``.

The state is a handful of plain lists and ints (cells are ``row * width + col``), so a
snapshot is a few list copies and a step allocates almost nothing.
"""

from __future__ import annotations

import hashlib
import operator
from typing import Any

from igym_overcooked.kitchen import (  # noqa: F401 - re-exported for policies and render
    _ACTION_DIR,
    _DIR_CODE,
    _DIR_VEC,
    _DISPENSER_NAMES,
    _ITEM_CODE,
    _LAYOUT_CACHE,
    _SOUP_OF,
    _SYMBOLS,
    ACTION_LABELS,
    COOK_TIME,
    COUNTER,
    DELIVERY,
    DIRECTIONS,
    DISPENSER,
    DOWN,
    FLOOR,
    INTERACT,
    ITEMS,
    KIND_NAMES,
    LEFT,
    N_ACTIONS,
    NOOP,
    ONION,
    ONION_SOUP,
    PLATE,
    POT,
    POT_CAPACITY,
    REWARD_DELIVERY,
    REWARD_ONION_IN_POT,
    REWARD_SOUP_IN_DISH,
    RIGHT,
    TOGGLE,
    TOMATO,
    TOMATO_SOUP,
    UP,
    WALL,
    Layout,
    get_layout,
)
from igym_overcooked.layouts import COGRID_NAMES, N_AGENTS
from igym_overcooked.rng import PCG64, cogrid_priority, cogrid_reset_draws

#: cogrid's ``CoGridEnv.step`` draws each step's key as ``np_random.integers(2**31)``
STEP_KEY_HIGH = 2**31
RESET_OPTIONS = ("agent_positions", "agent_dirs", "rng_key", "np_random_state")
#: ``"state"``: every agent sees the whole kitchen state (what the scripted partners read);
#: ``"features"``: cogrid's feature vectors (see :mod:`igym_overcooked.features`)
OBSERVATIONS = ("state", "features")

__all__ = [
    "ACTION_LABELS",
    "DIRECTIONS",
    "ITEMS",
    "OvercookedEnv",
    "make",
]


class Discrete:
    """A tiny stand-in for ``gymnasium.spaces.Discrete`` (no gymnasium in the browser)."""

    __slots__ = ("n",)

    def __init__(self, n: int) -> None:
        self.n = n

    def contains(self, x: Any) -> bool:
        return isinstance(x, int) and 0 <= x < self.n

    def __repr__(self) -> str:
        return f"Discrete({self.n})"


class OvercookedEnv:
    """A PettingZoo-parallel-style Overcooked kitchen (see :func:`make`)."""

    metadata = {
        "name": "igym_overcooked",
        "render_modes": ["draw_objects"],
        "is_parallelizable": True,
    }

    def __init__(
        self,
        layout: str = "cramped_room",
        max_steps: int = 400,
        n_agents: int | None = None,
        seed: int = 42,
        observations: str = "state",
        render_mode: str | None = None,
    ) -> None:
        if observations not in OBSERVATIONS:
            raise ValueError(f"observations must be one of {OBSERVATIONS}, got {observations!r}")
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(
                f"render_mode must be None or one of {self.metadata['render_modes']}, "
                f"got {render_mode!r}"
            )
        self.observations = observations
        self.render_mode = render_mode
        self.layout = get_layout(layout)
        self.layout_name = layout
        if n_agents is None:
            n_agents = N_AGENTS.get(layout, 2)
        if not isinstance(n_agents, int) or n_agents < 1:
            raise ValueError(f"n_agents must be a positive int, got {n_agents!r}")
        if n_agents > len(self.layout.floor_cells):
            raise ValueError(
                f"layout {layout!r} has room for at most {len(self.layout.floor_cells)} agents"
            )
        if not isinstance(max_steps, int) or max_steps < 1:
            raise ValueError(f"max_steps must be a positive int, got {max_steps!r}")
        if observations == "features" and (n_agents != 2 or layout not in COGRID_NAMES):
            raise ValueError(
                "observations='features' are cogrid's feature vectors, defined for its five "
                f"two-chef kitchens ({', '.join(COGRID_NAMES)})"
            )
        self.n_agents = n_agents
        self.max_steps = max_steps
        self.possible_agents = [f"agent_{i}" for i in range(n_agents)]
        self.agents = list(self.possible_agents)
        self._index = {name: i for i, name in enumerate(self.possible_agents)}
        self.action_spaces = {a: Discrete(N_ACTIONS) for a in self.possible_agents}
        self._next_seed = seed
        self.seed_used: int | None = None
        self._reset_state(seed, None)

    # -- PettingZoo API ---------------------------------------------------------------------

    def action_space(self, agent: str) -> Discrete:
        return self.action_spaces[agent]

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, dict]]:
        """Start an episode.

        Without options, the start state is the one cogrid's ``reset(seed=seed)`` produces:
        agents on the layout's ``+`` cells in reading order, or else on free floor cells drawn
        with ``Generator(PCG64(seed)).choice``; directions from ``default_rng(seed)``'s
        ``integers(0, 4, size=n)`` after its first draw, which is the priority key.
        ``seed=None`` uses the seed given to :func:`make` (default 42) for the first episode
        and one more than the previous episode's seed after that.

        ``options`` may override any part: ``agent_positions`` (``[[row, col], ...]``),
        ``agent_dirs`` (``["up", ...]``), ``rng_key`` (int, cogrid's state ``rng_key``) and
        ``np_random_state`` (the episode generator's state in numpy's ``PCG64`` format, as
        cogrid's ``get_state()["np_random_state"]`` holds it: the stream the step keys come
        from). Any start state cogrid can be put in with ``set_state`` is reachable.
        """
        if seed is None:
            seed = self._next_seed
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise ValueError(f"seed must be a non-negative int, got {seed!r}")
        self._reset_state(seed, options)
        obs = self._observations()
        return obs, {a: {} for a in self.possible_agents}

    def step(
        self, actions: dict[str, int]
    ) -> tuple[dict[str, Any], dict[str, float], dict[str, bool], dict[str, bool], dict]:
        """Advance one step. ``actions`` maps every agent id to an action int 0..6."""
        rewards = self.advance(actions)
        truncated = self._t >= self.max_steps
        names = self.possible_agents
        if truncated:
            self.agents = []
        return (
            self._observations(),
            dict(zip(names, rewards, strict=True)),
            {a: False for a in names},
            {a: truncated for a in names},
            {a: {} for a in names},
        )

    # -- fast path for rollback -------------------------------------------------------------

    def advance(self, actions: dict[str, int] | list[int] | tuple[int, ...]) -> list[float]:
        """Advance one step without building observations; returns rewards in agent order.

        Rollback replay should call this: it does everything :meth:`step` does to the state.
        ``actions`` is a dict keyed by agent id or a sequence in ``possible_agents`` order.
        """
        acts = self._check_actions(actions)
        lay = self.layout
        n = self.n_agents
        pos = self._pos
        dirs = self._dir
        held = self._held
        items = self._items
        kind = lay.kind
        fwd = lay.fwd
        contents = self._pot_contents
        timers = self._pot_timer

        # 1. rewards, judged on the state before the step; every reward is shared.
        total = 0.0
        for i in range(n):
            if acts[i] == INTERACT:
                h = held[i]
                if h:
                    f = fwd[dirs[i]][pos[i]]
                    kf = kind[f]
                    if kf == DELIVERY:
                        if h == ONION_SOUP or h == TOMATO_SOUP:
                            total += REWARD_DELIVERY
                    elif kf == POT:
                        p = lay.pot_index[f]
                        if h == ONION:
                            c = contents[p]
                            if len(c) < POT_CAPACITY and all(x == ONION for x in c):
                                total += REWARD_ONION_IN_POT
                        elif h == PLATE and timers[p] == 0:
                            total += REWARD_SOUP_IN_DISH
        if self._done:
            total = 0.0

        # 2. pots cook; cogrid also writes each pot's state code n * (1 + timer) into its
        # object_state_map here (its observation features read it).
        codes = self._pot_code
        for p in range(len(timers)):
            k = len(contents[p])
            if timers[p] > 0 and k == POT_CAPACITY:
                timers[p] -= 1
            codes[p] = k * (1 + timers[p])

        # 3. the priority draw: the step's key comes from the episode's generator, exactly as
        # cogrid's env.step() draws it from env.np_random.
        self._key, prio = cogrid_priority(self._gen.integers(0, STEP_KEY_HIGH), n)

        # 4. movement.
        moving = False
        prop = list(pos)
        move = lay.move
        for i in range(n):
            a = acts[i]
            if a < 4:
                d = _ACTION_DIR[a]
                dirs[i] = d
                k = pos[i]
                dest = move[d][k]
                if dest != k and not items[dest]:
                    prop[i] = dest
                    moving = True
        if moving:
            self._resolve(prop, prio)

        # 5. interactions, agent by agent.
        for i in range(n):
            a = acts[i]
            if a != INTERACT and a != TOGGLE:
                continue
            f = fwd[dirs[i]][pos[i]]
            blocked = False
            for j in range(n):
                if j != i and pos[j] == f:
                    blocked = True
                    break
            if blocked or a != INTERACT:
                continue  # toggle changes nothing in Overcooked
            h = held[i]
            kf = kind[f]
            if kf == FLOOR:
                it = items[f]
                if it:
                    if not h:
                        held[i] = it
                        items[f] = 0
                elif h:
                    items[f] = h
                    held[i] = 0
            elif kf == COUNTER:
                it = items[f]
                if not h:
                    if it:
                        held[i] = it
                        items[f] = 0
                elif not it:
                    items[f] = h
                    held[i] = 0
            elif kf == DISPENSER:
                if not h:
                    held[i] = lay.produce[f]
            elif kf == POT:
                p = lay.pot_index[f]
                c = contents[p]
                if h == PLATE:
                    if (
                        len(c) == POT_CAPACITY
                        and timers[p] == 0
                        and c[0] in _SOUP_OF
                        and all(x == c[0] for x in c)
                    ):
                        held[i] = _SOUP_OF[c[0]]
                        contents[p] = ()
                        timers[p] = COOK_TIME
                elif h == ONION or h == TOMATO:
                    if len(c) < POT_CAPACITY and all(x == h for x in c):
                        c = contents[p] = (*c, h)
                        held[i] = 0
                        if len(c) == POT_CAPACITY:
                            timers[p] = COOK_TIME
            elif kf == DELIVERY:
                if h == ONION_SOUP or h == TOMATO_SOUP:
                    held[i] = 0
                    self._soups += 1

        # 6. time.
        self._t += 1
        if self._t >= self.max_steps:
            self._done = True
        self._score += total
        return [total] * n

    def _resolve(self, prop: list[int], prio: tuple[int, ...]) -> None:
        """Settle movement conflicts exactly as cogrid's vectorised resolver does."""
        pos = self._pos
        n = self.n_agents
        # cogrid ranks agents by argsort(argsort(priority)), which for a permutation is the
        # permutation itself: agent i's rank is priority[i] (0 resolves first). For two agents
        # this is the same as "priority lists agents in order"; for three it is not.
        rank = prio
        staying = [prop[i] == pos[i] for i in range(n)]
        blocked = [False] * n
        for i in range(n):
            if staying[i]:
                continue
            pi = prop[i]
            ri = rank[i]
            for j in range(n):
                if j == i:
                    continue
                if prop[j] == pi and rank[j] < ri:
                    blocked[i] = True
                    break
                if pi == pos[j] and (staying[j] or rank[j] > ri):
                    blocked[i] = True
                    break
        cascade = [False] * n
        for i in range(n):
            if staying[i] or blocked[i]:
                continue
            for j in range(n):
                if j != i and blocked[j] and prop[i] == pos[j]:
                    cascade[i] = True
                    break
        final = [pos[i] if (blocked[i] or cascade[i]) else prop[i] for i in range(n)]
        swapped = [False] * n
        for i in range(n):
            for j in range(n):
                if j != i and final[i] == pos[j] and final[j] == pos[i]:
                    swapped[i] = True
                    break
        for i in range(n):
            pos[i] = pos[i] if swapped[i] else final[i]

    def _check_actions(self, actions: Any) -> list[int]:
        n = self.n_agents
        if isinstance(actions, dict):
            if len(actions) != n or any(a not in self._index for a in actions):
                unknown = [a for a in actions if a not in self._index]
                if unknown:
                    raise ValueError(
                        f"unknown agent id(s) {unknown!r}; this env's agents are "
                        f"{self.possible_agents}"
                    )
                missing = [a for a in self.possible_agents if a not in actions]
                raise ValueError(f"no action given for agent(s) {missing!r}")
            acts = [actions[a] for a in self.possible_agents]
        else:
            acts = list(actions)
            if len(acts) != n:
                raise ValueError(f"expected {n} actions, got {len(acts)}")
        for i in range(n):
            a = acts[i]
            if a.__class__ is not int:
                try:
                    a = acts[i] = operator.index(a)
                except TypeError:
                    raise TypeError(
                        f"action for {self.possible_agents[i]} must be an int 0..6, got {a!r}"
                    ) from None
            if a < 0 or a >= N_ACTIONS:
                raise ValueError(
                    f"action {a!r} for {self.possible_agents[i]} is out of range; "
                    f"actions are 0..6 ({', '.join(ACTION_LABELS.values())})"
                )
        return acts

    # -- observations -----------------------------------------------------------------------

    def _observations(self) -> dict[str, Any]:
        """Each agent sees the whole kitchen: the shared state dict plus its own seat.

        ``{"agent_index": i, "layout": name, "state": get_state()}``; the ``state`` dict is the
        same object for every agent of one step, so treat it as read-only. With
        ``observations="features"``: cogrid's feature vector of each agent (a list of floats).
        """
        state = self.get_state()
        if self.observations == "features":
            return {a: self.features(i, state) for i, a in enumerate(self.possible_agents)}
        name = self.layout_name
        return {
            a: {"agent_index": i, "layout": name, "state": state}
            for i, a in enumerate(self.possible_agents)
        }

    def features(self, agent_index: int, state: dict[str, Any] | None = None) -> list[float]:
        """cogrid's observation feature vector of agent ``agent_index`` (of the current state
        or of ``state``), as :mod:`igym_overcooked.features` computes it."""
        from igym_overcooked.features import features

        return features(self.layout, self.get_state() if state is None else state, agent_index)

    # -- state ------------------------------------------------------------------------------

    def _reset_state(self, seed: int, options: dict[str, Any] | None) -> None:
        lay = self.layout
        n = self.n_agents
        options = dict(options or {})
        unknown = set(options) - set(RESET_OPTIONS)
        if unknown:
            raise ValueError(
                f"unknown reset option(s) {sorted(unknown)}; known: {', '.join(RESET_OPTIONS)}"
            )
        key, dirs = cogrid_reset_draws(seed, n)
        gen, seeded = self._seeded_positions(seed)
        if "agent_positions" in options:
            pos = []
            for i, rc in enumerate(options["agent_positions"]):
                r, c = (int(x) for x in rc)
                if not (0 <= r < lay.height and 0 <= c < lay.width):
                    raise ValueError(f"agent_positions[{i}] = {rc!r} is off the grid")
                k = r * lay.width + c
                if lay.kind[k] != FLOOR:
                    raise ValueError(f"agent_positions[{i}] = {rc!r} is not a floor cell")
                pos.append(k)
            if len(pos) != n:
                raise ValueError(f"agent_positions needs {n} entries, got {len(pos)}")
        else:
            pos = seeded
        if "agent_dirs" in options:
            names = list(options["agent_dirs"])
            if len(names) != n or any(d not in _DIR_CODE for d in names):
                raise ValueError(
                    f"agent_dirs needs {n} of {list(_DIR_CODE)}, got {options['agent_dirs']!r}"
                )
            dirs = [_DIR_CODE[d] for d in names]
        if "rng_key" in options:
            key = options["rng_key"]
            if not isinstance(key, int) or isinstance(key, bool) or key < 0:
                raise ValueError(f"rng_key must be a non-negative int, got {key!r}")
        if "np_random_state" in options:
            gen.set_state(options["np_random_state"])
        self.seed_used = seed
        self._next_seed = seed + 1
        self._t = 0
        self._pos = pos
        self._dir = list(dirs)
        self._held = [0] * n
        self._items = [0] * lay.n_cells
        self._pot_contents: list[tuple[int, ...]] = [() for _ in lay.pot_cells]
        self._pot_timer = [COOK_TIME] * len(lay.pot_cells)
        self._pot_code = [0] * len(lay.pot_cells)
        self._key = key
        self._gen = gen
        self._done = False
        self._score = 0.0
        self._soups = 0
        self.agents = list(self.possible_agents)

    def _seeded_positions(self, seed: int) -> tuple[PCG64, list[int]]:
        """Spawn cells as cogrid's reset picks them from ``Generator(PCG64(seed))``, and that
        generator after reset's draws: what cogrid's ``env.np_random`` is after ``reset``."""
        lay = self.layout
        gen = PCG64(seed)
        queue = list(lay.spawns)
        free = lay.floor_cells  # free space and spawn cells, in reading order
        pos: list[int] = []
        for _ in range(self.n_agents):
            if queue:
                pos.append(queue.pop(0))
            else:
                avail = [k for k in free if k not in pos]
                pos.append(avail[gen.integers(0, len(avail))])
            gen.integers(0, 4)  # cogrid draws a start direction here, then overrides it
        return gen, pos

    def get_state(self) -> dict[str, Any]:
        """The whole dynamic state as plain JSON-safe data (cells are ``row * width + col``)."""
        return {
            "layout": self.layout_name,
            "t": self._t,
            "pos": self._pos[:],
            "dir": self._dir[:],
            "held": self._held[:],
            "items": self._items[:],
            "pots": [list(c) for c in self._pot_contents],
            "timers": self._pot_timer[:],
            "pot_codes": self._pot_code[:],
            "rng_key": self._key,
            "np_random_state": self._gen.get_state(),
            "done": self._done,
            "score": self._score,
            "soups": self._soups,
        }

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore a state from :meth:`get_state` (from this env or any peer's)."""
        if state["layout"] != self.layout_name:
            raise ValueError(
                f"state is for layout {state['layout']!r}, this env is {self.layout_name!r}"
            )
        n = self.n_agents
        if len(state["pos"]) != n:
            raise ValueError(f"state has {len(state['pos'])} agents, this env has {n}")
        for name in ("np_random_state", "pot_codes"):
            if name not in state:
                raise ValueError(f"state has no {name!r}; take states with get_state()")
        gen = PCG64.from_state(state["np_random_state"])
        self._t = state["t"]
        self._pos = list(state["pos"])
        self._dir = list(state["dir"])
        self._held = list(state["held"])
        self._items = list(state["items"])
        self._pot_contents = [tuple(c) for c in state["pots"]]
        self._pot_timer = list(state["timers"])
        self._pot_code = list(state["pot_codes"])
        self._key = state["rng_key"]
        self._gen = gen
        self._done = state["done"]
        self._score = float(state["score"])
        self._soups = state["soups"]
        self.agents = [] if self._done else list(self.possible_agents)

    def state_hash(self) -> bytes:
        """A canonical 16-byte BLAKE2b hash of the dynamic state, equal on every platform."""
        text = repr(
            (
                self.layout_name,
                self._t,
                self._pos,
                self._dir,
                self._held,
                self._items,
                self._pot_contents,
                self._pot_timer,
                self._pot_code,
                self._key,
                self._gen.state,
                self._gen.inc,
                self._gen.has_uint32,
                self._gen.uinteger,
                self._done,
                self._score,
                self._soups,
            )
        )
        return hashlib.blake2b(text.encode(), digest_size=16).digest()

    def state_view(self) -> dict[str, Any]:
        """The documented, layout-independent view of the state.

        ``{"t", "agents": [{"pos": [row, col], "dir", "held"}], "items": [[row, col, name]]
        sorted, "pots": [{"pos", "contents" (sorted names), "timer"}]}``. ``items`` are loose
        items on the floor and items on counters; ``timer`` is cogrid's pot timer (30 while
        empty or filling, counting down to 0 once full).
        """
        lay = self.layout
        w = lay.width
        items = sorted([k // w, k % w, ITEMS[it]] for k, it in enumerate(self._items) if it)
        return {
            "t": self._t,
            "agents": [
                {"pos": [k // w, k % w], "dir": DIRECTIONS[d], "held": ITEMS[h]}
                for k, d, h in zip(self._pos, self._dir, self._held, strict=True)
            ],
            "items": items,
            "pots": [
                {
                    "pos": [k // w, k % w],
                    "contents": sorted(ITEMS[x] for x in self._pot_contents[p]),
                    "timer": self._pot_timer[p],
                }
                for p, k in enumerate(lay.pot_cells)
            ],
        }

    # -- conveniences -----------------------------------------------------------------------

    @property
    def t(self) -> int:
        return self._t

    @property
    def soups_delivered(self) -> int:
        return self._soups

    @property
    def score(self) -> float:
        """The shared score: the sum of one agent's rewards this episode."""
        return self._score

    def render(self) -> list[dict[str, Any]]:
        """Draw objects for the canvas renderer (see README "Draw objects")."""
        from igym_overcooked.render import draw

        return draw(self)

    def close(self) -> None:
        pass


def make(layout: str = "cramped_room", max_steps: int = 400, **kwargs: Any) -> OvercookedEnv:
    """An Overcooked env: ``make("cramped_room", max_steps=400)``.

    Keyword arguments: ``max_steps`` (default 400), ``n_agents`` (default: the layout's),
    ``seed`` (the seed of the first unseeded ``reset``, default 42, cogrid's default),
    ``observations`` (``"state"`` or ``"features"``, see :data:`OBSERVATIONS`) and
    ``render_mode`` (``None``, ``"draw_objects"``; ``"rgb_array"`` with numpy).

    Where gymnasium and pettingzoo can be imported (CPython with them installed), the env is an
    :class:`igym_overcooked.parallel.OvercookedParallelEnv`: a real PettingZoo ``ParallelEnv``
    with gymnasium spaces, the same dynamics and the same observations. Elsewhere (Pyodide) it
    is the standard-library :class:`OvercookedEnv`.
    """
    if _parallel_available():
        from igym_overcooked.parallel import OvercookedParallelEnv

        return OvercookedParallelEnv(layout, max_steps=max_steps, **kwargs)
    return OvercookedEnv(layout, max_steps=max_steps, **kwargs)


def _parallel_available() -> bool:
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in ("gymnasium", "pettingzoo"))
