"""cogrid's own Overcooked envs, unchanged, drawn with this pack's sprites (for server scenes).

``make("Overcooked-CrampedRoom-V0")`` is ``cogrid.make(...)`` with one thing added: ``render()``
returns this pack's draw objects, built from cogrid's public ``get_state()`` snapshot, instead
of cogrid's own image (which cogrid draws inside every ``step()`` when a ``render_mode`` is set:
about 36 ms per step here, too slow for 30 frames a second). Everything else (``reset``,
``step``, agents ``0`` and ``1``, spaces, observations, ``get_state``/``set_state``) is cogrid's.
Needs cogrid (CPython only); the browser never imports this module.
"""

from __future__ import annotations

from typing import Any

from igym_overcooked.env import OvercookedEnv
from igym_overcooked.features import TYPE_IDS
from igym_overcooked.kitchen import COUNTER, FLOOR, ITEMS
from igym_overcooked.layouts import COGRID_NAMES

__all__ = ["CogridDrawn", "make", "state_from_cogrid"]

_LAYOUT_OF = {env_id: layout for layout, env_id in COGRID_NAMES.items()}
_ITEM_OF_TYPE = {TYPE_IDS[name]: code for code, name in enumerate(ITEMS) if name}


def state_from_cogrid(layout: str, snapshot: dict[str, Any]) -> dict[str, Any]:
    """This pack's ``get_state()`` dict for a cogrid ``get_state()`` snapshot of ``layout``."""
    view = OvercookedEnv(layout, n_agents=len(snapshot["agent_pos"]))
    lay = view.layout
    w = lay.width
    otm = snapshot["object_type_map"]
    osm = snapshot["object_state_map"]
    items = [0] * lay.n_cells
    for k in range(lay.n_cells):
        r, c = divmod(k, w)
        if lay.kind[k] == FLOOR:
            items[k] = _ITEM_OF_TYPE.get(otm[r][c], 0)
        elif lay.kind[k] == COUNTER:
            items[k] = _ITEM_OF_TYPE.get(osm[r][c], 0)
    extra = snapshot["extra_state"]
    contents = extra["overcooked.pot_contents"]["data"]
    timers = extra["overcooked.pot_timer"]["data"]
    state = view.get_state()
    state.update(
        {
            "t": int(snapshot["time"]),
            "pos": [r * w + c for r, c in snapshot["agent_pos"]],
            "dir": [int(d) for d in snapshot["agent_dir"]],
            "held": [_ITEM_OF_TYPE.get(inv[0], 0) for inv in snapshot["agent_inv"]],
            "items": items,
            "pots": [[_ITEM_OF_TYPE[x] for x in pot if x >= 0] for pot in contents],
            "timers": [int(t) for t in timers],
            "pot_codes": [osm[k // w][k % w] for k in lay.pot_cells],
            "rng_key": int(snapshot["rng_key"] or 0),
            "np_random_state": snapshot["np_random_state"],
            "score": float(snapshot.get("cumulative_score", 0.0)),
        }
    )
    return state


class CogridDrawn:
    """A cogrid env whose ``render()`` gives draw objects; every other attribute is cogrid's."""

    def __init__(self, env: Any, layout: str) -> None:
        self.env = env
        self.layout_name = layout
        self._view = OvercookedEnv(layout, n_agents=len(env.possible_agents))

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
        return self.env.reset(seed=seed, options=options)

    def step(self, actions: dict[Any, int]) -> Any:
        return self.env.step(actions)

    def render(self) -> list[dict[str, Any]]:
        self._view.set_state(state_from_cogrid(self.layout_name, self.env.get_state()))
        return self._view.render()

    def __getattr__(self, name: str) -> Any:
        if name == "env":  # not set yet (during unpickling): no recursion
            raise AttributeError(name)
        return getattr(self.env, name)


def make(environment_id: str = "Overcooked-CrampedRoom-V0", **kwargs: Any) -> CogridDrawn:
    """``cogrid.make(environment_id, **kwargs)`` drawn with this pack's sprites."""
    import cogrid

    if environment_id not in _LAYOUT_OF:
        raise ValueError(
            f"{environment_id!r} is not one of cogrid's Overcooked kitchens {sorted(_LAYOUT_OF)}"
        )
    if kwargs.get("render_mode") is not None:
        raise ValueError("render() gives draw objects here; leave cogrid's render_mode unset")
    return CogridDrawn(cogrid.make(environment_id, **kwargs), _LAYOUT_OF[environment_id])
