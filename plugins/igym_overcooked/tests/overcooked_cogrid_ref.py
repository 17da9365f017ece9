"""Helpers that drive cogrid 0.3.2 (test-only) and read its state in our view format."""

from __future__ import annotations

import numpy as np

DIRS = ("right", "down", "left", "up")
_NAMES = None


def _names():
    global _NAMES
    if _NAMES is None:
        from cogrid.core.objects.registry import get_object_names

        _NAMES = get_object_names(scope="overcooked")
    return _NAMES


def make_cogrid(layout: str, max_steps: int = 400, n_agents: int = 2):
    """cogrid's env for ``layout``, reset once, with a step pipeline for ``max_steps``.

    The pipeline is cogrid's own ``build_step_fn`` with the env's scope, lookup tables and
    rewards; only the observation features (which do not touch the state) are left out, because
    they cost most of cogrid's step time and we compare states, not features.
    """
    import cogrid.envs  # noqa: F401  (registers the environments)
    from cogrid.core.pipeline.step import build_step_fn
    from cogrid.envs import registry
    from igym_overcooked.layouts import COGRID_NAMES

    if layout in COGRID_NAMES:
        env = registry.make(COGRID_NAMES[layout])
    else:
        env = _custom_env(layout, n_agents)
    env.max_steps = max_steps
    env.reset(seed=0)
    env._step_fn = build_step_fn(
        env._scope_config,
        env._lookup_tables,
        lambda state, i: np.zeros(1, dtype=np.float32),
        env._reward_config,
        env._action_pickup_drop_idx,
        env._action_toggle_idx,
        max_steps,
        agent_ids=env._agent_id_order,
    )
    return env


def _custom_env(layout: str, n_agents: int):
    """A cogrid Overcooked env on one of our own layouts (e.g. three_chefs), cogrid's rules."""
    import copy

    from cogrid.cogrid_env import CoGridEnv
    from cogrid.core.grid import layouts
    from cogrid.envs import cramped_room_config
    from cogrid.envs.overcooked.agent import OvercookedAgent
    from igym_overcooked.layouts import LAYOUTS

    layout_id = f"igym_test_{layout}"
    if layout_id not in layouts.LAYOUT_REGISTRY:
        layouts.register_layout(layout_id, list(LAYOUTS[layout]))
    config = copy.deepcopy(cramped_room_config)
    config["grid"]["layout"] = layout_id
    config["num_agents"] = n_agents
    return CoGridEnv(config=config, agent_class=OvercookedAgent)


def cogrid_reset(env, seed: int, positions=None, dirs=None, rng_key=None):
    """Reset cogrid, then place agents / set the key exactly (as an explicit start state)."""
    import dataclasses

    step_fn = env._step_fn
    env.reset(seed=seed)
    env._step_fn = step_fn
    s = env._env_state
    repl = {}
    if positions is not None:
        repl["agent_pos"] = np.array(positions, dtype=np.int32)
    if dirs is not None:
        repl["agent_dir"] = np.array([DIRS.index(d) for d in dirs], dtype=np.int32)
    if rng_key is not None:
        repl["rng_key"] = rng_key
    if repl:
        env._env_state = dataclasses.replace(s, **repl)
    return env


def cogrid_step(env, actions: list[int]):
    """One step of cogrid's own pipeline, keyed by the state's rng_key (the key chain)."""
    s = env._env_state
    acts = {aid: int(a) for aid, a in zip(env._agent_id_order, actions, strict=True)}
    _obs, new_state, rewards, _term, trunc, _info = env._step_fn(s.rng_key, s, acts)
    env._env_state = new_state
    return [float(rewards[a]) for a in env._agent_id_order], [
        bool(trunc[a]) for a in env._agent_id_order
    ]


def cogrid_view(env) -> dict:
    """Our ``state_view()`` built from cogrid's EnvState."""
    names = _names()
    s = env._env_state
    otm = np.asarray(s.object_type_map)
    osm = np.asarray(s.object_state_map)
    agents = []
    for i in range(s.n_agents):
        inv = int(s.agent_inv[i, 0])
        agents.append(
            {
                "pos": [int(s.agent_pos[i, 0]), int(s.agent_pos[i, 1])],
                "dir": DIRS[int(s.agent_dir[i])],
                "held": None if inv < 0 else names[inv],
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
    ex = s.extra_state
    pots = []
    for p, (r, c) in enumerate(np.asarray(ex["overcooked.pot_positions"]).tolist()):
        contents = sorted(names[int(x)] for x in ex["overcooked.pot_contents"][p] if x >= 0)
        pots.append(
            {"pos": [r, c], "contents": contents, "timer": int(ex["overcooked.pot_timer"][p])}
        )
    return {"t": int(s.time), "agents": agents, "items": items, "pots": pots}
