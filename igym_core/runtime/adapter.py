"""Reading Gymnasium and PettingZoo environments as they are: API kind, agents, action spaces.

Nothing here imports gymnasium, pettingzoo or numpy at module level: the browser (Pyodide, no
numpy) imports this module too, and reads pure-Python envs with it. Spaces are read by duck
typing (``Discrete`` has ``n`` and ``start``, ``MultiDiscrete`` has ``nvec``), so an env's own
look-alike space classes work as well as gymnasium's.

Three API kinds, told apart by what the env offers:

* ``"aec"``: PettingZoo's turn-based API: ``last()``, ``agent_iter()``, ``observe(agent)``,
  ``agent_selection`` and ``step(action)`` for the agent whose turn it is;
* ``"parallel"``: PettingZoo's parallel API: ``possible_agents`` and ``step(dict)`` giving five
  dicts;
* ``"single"``: Gymnasium's single-agent API: ``step(action)`` giving ``obs, reward,
  terminated, truncated, info`` (wrappers such as ``TimeLimit`` or ``OrderEnforcing``
  included: they are stepped as they are).

igym's actions are ints. A ``Discrete(n, start)`` agent acts with ``start .. start + n - 1``;
a ``MultiDiscrete(nvec)`` agent with the flat index of its action vector (mixed radix, the
first entry most significant), which :meth:`ActionSpace.to_env` turns back into the vector the
env expects (a numpy array of the space's dtype when numpy is there, else a list).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["ActionSpace", "AdapterError", "action_space_of", "env_kind", "possible_agents"]


class AdapterError(TypeError):
    """An env or space igym cannot read; the message says what is missing."""


@dataclass(frozen=True)
class ActionSpace:
    """One agent's actions as igym sees them: ints in :meth:`actions`.

    ``kind`` is ``"discrete"`` (``start``, ``n``) or ``"multi_discrete"`` (``nvec``; ``n`` is
    the number of flat actions). ``dtype`` is the env space's dtype name (for MultiDiscrete
    vectors), when it has one.
    """

    kind: str
    n: int
    start: int = 0
    nvec: tuple[int, ...] = ()
    dtype: str | None = None

    def actions(self) -> range:
        """Every action an igym seat may take."""
        return range(self.start, self.start + self.n)

    def contains(self, action: int) -> bool:
        return type(action) is int and self.start <= action < self.start + self.n

    def to_env(self, action: int) -> Any:
        """The env's action for igym action ``action`` (an int, or a MultiDiscrete vector)."""
        if self.kind == "discrete":
            return action
        vec = []
        for size in reversed(self.nvec):
            action, digit = divmod(action, size)
            vec.append(digit)
        vec.reverse()
        try:
            import numpy
        except ImportError:
            return vec
        return numpy.asarray(vec, dtype=self.dtype or "int64")

    def from_env(self, vector: Sequence[int]) -> int:
        """The flat igym action of a MultiDiscrete vector (inverse of :meth:`to_env`)."""
        if self.kind == "discrete":
            return int(vector)  # type: ignore[call-overload]
        flat = 0
        for size, digit in zip(self.nvec, vector, strict=True):
            flat = flat * size + int(digit)
        return flat

    def describe(self) -> str:
        if self.kind == "discrete":
            return (
                f"Discrete({self.n})"
                if not self.start
                else f"Discrete({self.n}, start={self.start})"
            )
        return f"MultiDiscrete({list(self.nvec)})"


def read_space(space: Any) -> ActionSpace:
    """An :class:`ActionSpace` from a gymnasium (or look-alike) ``Discrete``/``MultiDiscrete``."""
    nvec = getattr(space, "nvec", None)
    if nvec is not None:
        sizes = nvec.tolist() if hasattr(nvec, "tolist") else list(nvec)
        if not sizes or any(not isinstance(s, int) for s in sizes):
            raise AdapterError(f"MultiDiscrete action space {space!r} must be one-dimensional")
        start = getattr(space, "start", None)
        starts = start.tolist() if hasattr(start, "tolist") else list(start or [])
        if any(starts):
            raise AdapterError(
                f"MultiDiscrete action space {space!r} with a start is not supported"
            )
        dtype = getattr(space, "dtype", None)
        return ActionSpace(
            "multi_discrete",
            math.prod(sizes),
            nvec=tuple(sizes),
            dtype=None if dtype is None else str(dtype),
        )
    n = getattr(space, "n", None)
    if n is not None and hasattr(n, "item"):
        n = n.item()
    if isinstance(n, int) and not isinstance(n, bool) and n > 0:
        start = getattr(space, "start", 0)
        if hasattr(start, "item"):
            start = start.item()
        return ActionSpace("discrete", n, start=int(start))
    raise AdapterError(
        f"igym needs Discrete or MultiDiscrete action spaces, got {type(space).__name__} "
        f"({space!r:.80})"
    )


def env_kind(env: Any) -> str:
    """``"aec"``, ``"parallel"`` or ``"single"`` (see the module docstring)."""
    cls = type(env)  # the class: an AEC env has no agent_selection before its first reset
    if all(callable(getattr(cls, name, None)) for name in ("last", "agent_iter", "observe")):
        return "aec"
    if getattr(env, "possible_agents", None) is not None:
        return "parallel"
    return "single"


def possible_agents(env: Any) -> tuple[Any, ...] | None:
    """The env's own agent ids (PettingZoo), or None for a single-agent env."""
    agents = getattr(env, "possible_agents", None)
    return None if agents is None else tuple(agents)


def action_space_of(env: Any, agent: Any = None) -> ActionSpace | None:
    """The action space of ``agent`` (or of a single-agent env), None when the env has none.

    Looks at PettingZoo's ``action_space(agent)`` method, an ``action_spaces`` dict, then
    Gymnasium's ``action_space`` attribute.
    """
    attr = getattr(env, "action_space", None)
    space = None
    if callable(attr) and agent is not None:
        space = attr(agent)
    elif attr is not None and not callable(attr):
        space = attr
    if space is None:
        spaces = getattr(env, "action_spaces", None)
        if isinstance(spaces, dict) and agent in spaces:
            space = spaces[agent]
    return None if space is None else read_space(space)
