"""What the rollback machinery needs of a game, and a wrapper that makes an env provide it.

:class:`RollbackGame` is the whole contract: step with one action per agent, save and restore the
state as plain data, hash the live state canonically, and show an agent its observation (for AI
seats and scripted inputs). :class:`EnvGame` adapts any PettingZoo-parallel-style env (``reset``,
``step(actions_dict)``, ``get_state``, ``set_state``, optionally ``state_hash``) or
Gymnasium-style single-agent env to it.
"""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple, Protocol, runtime_checkable

from igym_core.runtime.hashing import HASH_SIZE, state_hash

__all__ = [
    "EnvGame",
    "GameError",
    "Policy",
    "RollbackGame",
    "StepOutcome",
    "as_game",
    "load_callable",
]


class GameError(RuntimeError):
    """An environment does not provide what rollback needs."""


class StepOutcome(NamedTuple):
    """The result of one step: rewards in agent order, end flags, and plain-data infos."""

    rewards: tuple[float, ...]
    terminated: bool
    truncated: bool
    infos: Any = None


@runtime_checkable
class RollbackGame(Protocol):
    """A game the rollback host can drive. Must be deterministic: the same state and actions give
    the same next state on every machine."""

    agent_ids: tuple[str, ...]

    def step(self, actions: Sequence[int]) -> StepOutcome:
        """Advance one frame with one action per agent (in ``agent_ids`` order)."""
        ...

    def get_state(self) -> Any:
        """A snapshot of everything that decides the future: plain data, never mutated later."""
        ...

    def set_state(self, state: Any) -> None:
        """Restore a snapshot from :meth:`get_state`."""
        ...

    def state_hash(self) -> bytes:
        """The canonical 16-byte hash of the live state, equal on every platform."""
        ...

    def observe(self, agent_index: int) -> Any:
        """What agent ``agent_index`` sees now (for AI seats and scripted inputs)."""
        ...


class Policy(Protocol):
    """An AI seat: ``act(observation) -> action``. Must be a deterministic function of what it
    has seen; a policy with internal state also offers ``get_state``/``set_state`` so that a
    rollback restores it."""

    def act(self, observation: Any) -> int: ...


def load_callable(path: str) -> Callable[..., Any]:
    """Import ``"package.module:callable"`` (attributes may be dotted)."""
    if ":" not in path:
        raise GameError(f"{path!r} is not of the form 'module:callable'")
    module_name, _, attr = path.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise GameError(f"cannot import module {module_name!r}: {exc}") from exc
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise GameError(f"module {module_name!r} has no attribute {attr!r}") from None
    if not callable(obj):
        raise GameError(f"{path!r} is not callable")
    return obj


def _to_hash_bytes(value: Any) -> bytes:
    if isinstance(value, bytes) and len(value) == HASH_SIZE:
        return value
    if isinstance(value, bytes):
        raw = value
    elif isinstance(value, int):
        raw = str(value).encode()
    else:
        raw = str(value).encode()
    return hashlib.blake2b(raw, digest_size=HASH_SIZE).digest()


class EnvGame:
    """Makes an environment a :class:`RollbackGame`.

    ``env`` must offer ``reset(seed=...)``, ``step(...)``, ``get_state()`` and ``set_state()``.
    A PettingZoo-parallel env (``possible_agents``, ``step(dict)`` returning five dicts) and a
    Gymnasium-style env (``step(action)`` returning ``obs, reward, terminated, truncated, info``)
    both work. The hash is the env's own ``state_hash()`` when it has one, else the canonical
    hash of ``get_state()``. The snapshot is ``(env_state, observations)``: observations are
    kept by reference, so an env must not mutate an observation it has returned.
    """

    def __init__(
        self,
        env: Any,
        seed: int = 0,
        agent_ids: Sequence[str] | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> None:
        for name in ("reset", "step", "get_state", "set_state"):
            if not callable(getattr(env, name, None)):
                raise GameError(
                    f"{type(env).__name__} has no {name}(); rollback needs "
                    "reset, step, get_state and set_state"
                )
        self.env = env
        possible = getattr(env, "possible_agents", None)
        self.parallel = possible is not None
        if agent_ids is not None:
            self.agent_ids = tuple(agent_ids)
        elif self.parallel:
            self.agent_ids = tuple(possible)
        else:
            self.agent_ids = ("agent_0",)
        own_hash = getattr(env, "state_hash", None)
        self._own_hash = own_hash if callable(own_hash) else None
        result = env.reset(seed=seed, options=dict(options) if options else None)
        self._obs = self._split_obs(result[0] if isinstance(result, tuple) else result)

    def _split_obs(self, obs: Any) -> tuple[Any, ...]:
        if self.parallel and isinstance(obs, Mapping):
            return tuple(obs.get(a) for a in self.agent_ids)
        return (obs,)

    def step(self, actions: Sequence[int]) -> StepOutcome:
        ids = self.agent_ids
        if self.parallel:
            obs, rewards, terms, truncs, infos = self.env.step(dict(zip(ids, actions, strict=True)))
            self._obs = self._split_obs(obs)
            return StepOutcome(
                tuple(float(rewards.get(a, 0.0)) for a in ids),
                any(bool(terms.get(a, False)) for a in ids),
                any(bool(truncs.get(a, False)) for a in ids),
                infos if any(infos.get(a) for a in ids) else None,
            )
        obs, reward, terminated, truncated, info = self.env.step(actions[0])
        self._obs = (obs,)
        return StepOutcome((float(reward),), bool(terminated), bool(truncated), info or None)

    def get_state(self) -> Any:
        return (self.env.get_state(), self._obs)

    def set_state(self, state: Any) -> None:
        env_state, self._obs = state
        self.env.set_state(env_state)

    def state_hash(self) -> bytes:
        if self._own_hash is not None:
            return _to_hash_bytes(self._own_hash())
        return state_hash(self.env.get_state())

    def observe(self, agent_index: int) -> Any:
        return self._obs[agent_index]


def as_game(obj: Any, seed: int = 0) -> RollbackGame:
    """``obj`` as a :class:`RollbackGame` reset with ``seed``: a game that already implements
    the protocol is reset (if it can be) and returned; an env is wrapped in :class:`EnvGame`."""
    if isinstance(obj, RollbackGame):
        reset = getattr(obj, "reset", None)
        if callable(reset):
            reset(seed=seed)
        return obj
    return EnvGame(obj, seed=seed)
