"""The kitchen as a real PettingZoo ``ParallelEnv`` (CPython with gymnasium and pettingzoo).

:func:`igym_overcooked.make` returns an :class:`OvercookedParallelEnv` wherever gymnasium and
pettingzoo can be imported; the browser (Pyodide) never imports this module and gets the
standard-library :class:`~igym_overcooked.env.OvercookedEnv`, whose dynamics, states and
observations are the same. What this class adds is what training code expects of a PettingZoo
env: gymnasium spaces (``action_space(agent)``/``observation_space(agent)``, the same objects
every call), ``unwrapped``, ``render_mode="rgb_array"`` images, numpy feature vectors with
``observations="features"``, and reset options that tolerate keys other code passes (PettingZoo's
API test passes ``{"options": 1}``): an unknown key is ignored with a warning.
"""

from __future__ import annotations

import json
import struct
import warnings
import zlib
from importlib import resources
from typing import Any

import numpy as np
import pettingzoo
from gymnasium import spaces

from igym_overcooked.env import N_ACTIONS, RESET_OPTIONS, OvercookedEnv
from igym_overcooked.features import feature_dim
from igym_overcooked.kitchen import COOK_TIME, FLOOR, ITEMS, POT_CAPACITY

__all__ = ["KitchenStateSpace", "OvercookedParallelEnv"]

TILE = 32  # pixels per cell in rgb_array images (the sprite atlas' tile size)


class KitchenStateSpace(spaces.Space):
    """The set of valid ``get_state()`` dicts of one layout and number of chefs.

    ``contains`` checks the structure and ranges; ``sample`` returns the start state of a
    seeded reset (drawn from this space's ``np_random``).
    """

    def __init__(self, layout: str, n_agents: int, seed: int | None = None) -> None:
        super().__init__(shape=None, dtype=None, seed=seed)
        self.layout_name = layout
        self.n_agents = n_agents
        self._env = OvercookedEnv(layout, n_agents=n_agents)
        self._keys = set(self._env.get_state())

    @property
    def is_np_flattenable(self) -> bool:
        return False

    def sample(self, mask: Any = None, probability: Any = None) -> dict[str, Any]:
        self._env.reset(seed=int(self.np_random.integers(0, 2**31)))
        return self._env.get_state()

    def contains(self, x: Any) -> bool:
        if not isinstance(x, dict) or set(x) != self._keys or x["layout"] != self.layout_name:
            return False
        lay = self._env.layout
        n = self.n_agents
        cells = range(lay.n_cells)
        pots = len(lay.pot_cells)
        try:
            return (
                len(x["pos"]) == n
                and all(k in cells and lay.kind[k] == FLOOR for k in x["pos"])
                and len(set(x["pos"])) == n
                and len(x["dir"]) == n
                and all(d in range(4) for d in x["dir"])
                and len(x["held"]) == n
                and all(h in range(len(ITEMS)) for h in x["held"])
                and len(x["items"]) == lay.n_cells
                and all(i in range(len(ITEMS)) for i in x["items"])
                and len(x["pots"]) == pots
                and all(len(c) <= POT_CAPACITY for c in x["pots"])
                and len(x["timers"]) == pots
                and all(0 <= t <= COOK_TIME for t in x["timers"])
                and len(x["pot_codes"]) == pots
                and isinstance(x["t"], int)
                and x["t"] >= 0
                and isinstance(x["done"], bool)
                and _valid_generator(x["np_random_state"])
            )
        except (TypeError, KeyError):
            return False

    def __repr__(self) -> str:
        return f"KitchenStateSpace({self.layout_name!r}, n_agents={self.n_agents})"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, KitchenStateSpace)
            and other.layout_name == self.layout_name
            and other.n_agents == self.n_agents
        )


def _valid_generator(state: Any) -> bool:
    from igym_overcooked.rng import PCG64

    try:
        PCG64.from_state(state)
    except ValueError:
        return False
    return True


class OvercookedParallelEnv(OvercookedEnv, pettingzoo.ParallelEnv):
    """:class:`~igym_overcooked.env.OvercookedEnv` as a PettingZoo ``ParallelEnv``."""

    metadata = {
        "name": "igym_overcooked_v0",
        "render_modes": ["draw_objects", "rgb_array"],
        "render_fps": 30,
        "is_parallelizable": True,
    }

    def __init__(self, layout: str = "cramped_room", **kwargs: Any) -> None:
        super().__init__(layout, **kwargs)
        self.action_spaces = {a: spaces.Discrete(N_ACTIONS) for a in self.possible_agents}
        n = self.n_agents
        if self.observations == "features":
            dim = feature_dim(n)
            space = spaces.Box(low=-np.inf, high=np.inf, shape=(dim,), dtype=np.float32)
            self.observation_spaces = {a: space for a in self.possible_agents}
        else:
            state = KitchenStateSpace(self.layout_name, n)
            name = spaces.Text(max_length=64, charset=frozenset(self.layout_name))
            self.observation_spaces = {
                a: spaces.Dict({"agent_index": spaces.Discrete(n), "layout": name, "state": state})
                for a in self.possible_agents
            }

    def observation_space(self, agent: str) -> spaces.Space:
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Space:
        return self.action_spaces[agent]

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, dict]]:
        if options:
            unknown = sorted(set(options) - set(RESET_OPTIONS))
            if unknown:
                warnings.warn(
                    f"igym_overcooked ignores unknown reset option(s) {unknown}; known: "
                    f"{', '.join(RESET_OPTIONS)}",
                    stacklevel=2,
                )
                options = {k: v for k, v in options.items() if k in RESET_OPTIONS}
        return super().reset(seed=seed, options=options)

    def _observations(self) -> dict[str, Any]:
        obs = super()._observations()
        if self.observations == "features":
            return {a: np.asarray(v, dtype=np.float32) for a, v in obs.items()}
        return obs

    def state(self) -> dict[str, Any]:
        """PettingZoo's global state: the whole kitchen (:meth:`get_state`)."""
        return self.get_state()

    def render(self) -> Any:
        """Draw objects (``render_mode`` None or ``"draw_objects"``), or an RGB image of
        ``TILE`` pixels per cell (``"rgb_array"``; pot timers are bars, without numbers)."""
        objects = super().render()
        if self.render_mode != "rgb_array":
            return objects
        return rasterize(objects, self.layout.width, self.layout.height)


# -- rgb_array ------------------------------------------------------------------------------------

_ATLAS: tuple[np.ndarray, dict[str, dict[str, int]]] | None = None


def _atlas() -> tuple[np.ndarray, dict[str, dict[str, int]]]:
    """The sprite atlas as an (h, w, 4) uint8 array, and its frame map."""
    global _ATLAS
    if _ATLAS is None:
        folder = resources.files("igym_overcooked").joinpath("assets")
        meta = json.loads(folder.joinpath("overcooked.json").read_text())
        _ATLAS = (_decode_png(folder.joinpath("overcooked.png").read_bytes()), meta["frames"])
    return _ATLAS


def _decode_png(data: bytes) -> np.ndarray:
    """Decode the atlas PNG (8-bit RGBA, no interlace, every row with filter 0 as
    ``tools/make_atlas.py`` writes it)."""
    pos = 8
    idat = b""
    width = height = 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if (depth, color, interlace) != (8, 6, 0):
                raise ValueError("the atlas must be an 8-bit RGBA PNG without interlacing")
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = np.frombuffer(zlib.decompress(idat), dtype=np.uint8).reshape(height, 1 + width * 4)
    if raw[:, 0].any():
        raise ValueError("the atlas PNG uses row filters; re-write it with tools/make_atlas.py")
    return raw[:, 1:].reshape(height, width, 4)


def _color(css: str) -> np.ndarray:
    css = css.lstrip("#")
    return np.array([int(css[i : i + 2], 16) for i in (0, 2, 4)], dtype=np.float32)


def rasterize(objects: list[dict[str, Any]], width: int, height: int) -> np.ndarray:
    """Draw objects onto an (height * TILE, width * TILE, 3) uint8 image, in layer order.
    Sprites are scaled nearest-neighbour and alpha-blended; text is left out."""
    atlas, frames = _atlas()
    img = np.zeros((height * TILE, width * TILE, 3), dtype=np.float32)
    for obj in sorted(objects, key=lambda o: o["layer"]):
        x0 = round(obj["x"] * TILE)
        y0 = round(obj["y"] * TILE)
        kind = obj["kind"]
        if kind == "sprite":
            w = max(1, round(obj["w"] * TILE))
            h = max(1, round(obj["h"] * TILE))
            f = frames[obj["frame"]]
            sprite = atlas[f["y"] : f["y"] + f["h"], f["x"] : f["x"] + f["w"]]
            rows = np.arange(h) * f["h"] // h
            cols = np.arange(w) * f["w"] // w
            _blend(img, sprite[rows][:, cols], x0, y0)
        elif kind == "rect":
            w = round(obj["w"] * TILE)
            h = round(obj["h"] * TILE)
            if w > 0 and h > 0:
                patch = np.empty((h, w, 4), dtype=np.float32)
                patch[..., :3] = _color(obj["color"])
                patch[..., 3] = 255
                _blend(img, patch, x0, y0)
        elif kind == "circle":
            r = obj["r"] * TILE
            yy, xx = np.mgrid[0 : img.shape[0], 0 : img.shape[1]]
            inside = (xx + 0.5 - obj["x"] * TILE) ** 2 + (yy + 0.5 - obj["y"] * TILE) ** 2 <= r * r
            img[inside] = _color(obj["color"])
    return img.astype(np.uint8)


def _blend(img: np.ndarray, patch: np.ndarray, x0: int, y0: int) -> None:
    h, w = patch.shape[:2]
    y1, x1 = min(img.shape[0], y0 + h), min(img.shape[1], x0 + w)
    ys, xs = max(0, y0), max(0, x0)
    if ys >= y1 or xs >= x1:
        return
    part = patch[ys - y0 : y1 - y0, xs - x0 : x1 - x0].astype(np.float32)
    alpha = part[..., 3:4] / 255.0
    region = img[ys:y1, xs:x1]
    region[:] = region * (1 - alpha) + part[..., :3] * alpha
