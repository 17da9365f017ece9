"""Helpers that drive cogrid 0.3.2 (test-only) through its public API and read its state.

Everything goes through what cogrid documents for users: ``cogrid.make(name, ...)``,
``env.reset(seed=...)``, ``env.step(actions)``, ``env.get_state()`` and ``env.set_state()``.
States are read from ``get_state()`` snapshots and turned into this pack's ``state_view()``
format.
"""

from __future__ import annotations

import copy

import numpy as np

DIRS = ("right", "down", "left", "up")
_NAMES = None
_CONFIGS: dict[tuple[str, int], dict] = {}


def _names():
    global _NAMES
    if _NAMES is None:
        from cogrid.core.objects.registry import get_object_names

        _NAMES = get_object_names(scope="overcooked")
    return _NAMES


def registered_config(layout: str, n_agents: int = 2) -> dict:
    """A copy of the config cogrid registered for ``layout`` (our own layouts: cogrid's
    cramped-room config on that grid)."""
    import cogrid
    from igym_overcooked.layouts import COGRID_NAMES, LAYOUTS

    key = (layout, n_agents)
    if key not in _CONFIGS:
        if layout in COGRID_NAMES:
            _CONFIGS[key] = cogrid.make(COGRID_NAMES[layout]).config
        else:
            from cogrid.core.grid import layouts

            layout_id = f"igym_test_{layout}"
            if layout_id not in layouts.LAYOUT_REGISTRY:
                layouts.register_layout(layout_id, list(LAYOUTS[layout]))
            config = copy.deepcopy(cogrid.make(COGRID_NAMES["cramped_room"]).config)
            config["grid"]["layout"] = layout_id
            config["num_agents"] = n_agents
            _CONFIGS[key] = config
    return copy.deepcopy(_CONFIGS[key])


def make_cogrid(layout: str, *, max_steps: int | None = None, features=None, n_agents: int = 2):
    """``cogrid.make("Overcooked-<Layout>-V0")``, optionally with another episode length or
    observation feature list (neither changes the dynamics: features only shape observations,
    and computing all of them costs most of cogrid's step time)."""
    import cogrid
    from igym_overcooked.layouts import COGRID_NAMES

    if max_steps is None and features is None and layout in COGRID_NAMES:
        return cogrid.make(COGRID_NAMES[layout])
    config = registered_config(layout, n_agents)
    if max_steps is not None:
        config["max_steps"] = max_steps
    if features is not None:
        config["features"] = list(features)
    name = COGRID_NAMES.get(layout, COGRID_NAMES["cramped_room"])
    return cogrid.make(name, config=config)


def cogrid_reset(env, seed: int, positions=None, dirs=None, rng_key=None, np_random_state=None):
    """``env.reset(seed=seed)``, then (for an explicit start state) ``set_state`` of a snapshot
    with the agents placed, turned, and the keys replaced."""
    env.reset(seed=seed)
    if positions is None and dirs is None and rng_key is None and np_random_state is None:
        return env
    snap = env.get_state()
    if positions is not None:
        snap["agent_pos"] = [list(p) for p in positions]
    if dirs is not None:
        snap["agent_dir"] = [DIRS.index(d) for d in dirs]
    if rng_key is not None:
        snap["rng_key"] = rng_key
    if np_random_state is not None:
        snap["np_random_state"] = copy.deepcopy(np_random_state)
    env.set_state(snap)
    return env


def cogrid_step(env, actions: list[int]):
    """One ``env.step`` with actions in agent order; rewards and truncations as lists."""
    agents = list(env.possible_agents)
    obs, rewards, _term, trunc, _info = env.step(
        {aid: int(a) for aid, a in zip(agents, actions, strict=True)}
    )
    return [float(rewards[a]) for a in agents], [bool(trunc[a]) for a in agents], obs


def cogrid_view(env) -> dict:
    """Our ``state_view()`` built from cogrid's ``get_state()`` snapshot."""
    names = _names()
    s = env.get_state()
    otm = np.asarray(s["object_type_map"])
    osm = np.asarray(s["object_state_map"])
    agents = []
    for pos, d, inv in zip(s["agent_pos"], s["agent_dir"], s["agent_inv"], strict=True):
        agents.append(
            {
                "pos": [int(pos[0]), int(pos[1])],
                "dir": DIRS[int(d)],
                "held": None if inv[0] < 0 else names[int(inv[0])],
            }
        )
    items = []
    h, w = otm.shape
    for r in range(h):
        for c in range(w):
            t = names[int(otm[r, c])]
            if t is None:
                continue
            if t == "counter":
                if osm[r, c] > 0:
                    items.append([r, c, names[int(osm[r, c])]])
            elif t in ("onion", "tomato", "plate", "onion_soup", "tomato_soup"):
                items.append([r, c, t])
    items.sort()
    ex = {k: np.asarray(v["data"]) for k, v in s["extra_state"].items()}
    pots = []
    for p, (r, c) in enumerate(ex["overcooked.pot_positions"].tolist()):
        contents = sorted(names[int(x)] for x in ex["overcooked.pot_contents"][p] if x >= 0)
        pots.append(
            {"pos": [r, c], "contents": contents, "timer": int(ex["overcooked.pot_timer"][p])}
        )
    return {"t": int(s["time"]), "agents": agents, "items": items, "pots": pots}


def cogrid_keys(env) -> tuple[int, dict]:
    """cogrid's state ``rng_key`` and its ``np_random`` generator state (from ``get_state``)."""
    s = env.get_state()
    return int(s["rng_key"]), s["np_random_state"]
