"""What the rollback machinery needs of a game, and a wrapper that makes an env provide it.

:class:`RollbackGame` is the whole contract: step with one action per agent, save and restore the
state, hash the live state canonically, and show an agent its observation (for AI seats and
scripted inputs). :class:`EnvGame` adapts an environment as it is to it: a Gymnasium env (with
any wrappers), a PettingZoo parallel env or a PettingZoo AEC (turn-based) env, needing only
``reset`` and ``step``; state access is used for rollback when the env offers it, else a
generic snapshot (a structural deep copy) of the env object.
"""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple, Protocol, runtime_checkable

from igym_core.runtime.adapter import ActionSpace, action_space_of, env_kind, possible_agents
from igym_core.runtime.hashing import HASH_SIZE, StateHashError, object_hash, state_hash
from igym_core.runtime.snapshot import SnapshotError, clone

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
    """Makes an environment a :class:`RollbackGame`: the environment contract.

    ``env`` needs only ``reset(seed=...)`` and ``step(...)`` (and ``render()`` to be seen).
    Three API kinds are accepted as they are (:func:`igym_core.runtime.adapter.env_kind`):
    Gymnasium single-agent envs (any wrappers: ``TimeLimit``, ``OrderEnforcing``, ...),
    PettingZoo parallel envs and PettingZoo AEC (turn-based) envs. igym names agents by
    ``str()`` of the env's ``possible_agents``; a single-agent env's one agent is named by
    ``agent_ids`` (default ``"agent_0"``). Actions are ints (see
    :class:`~igym_core.runtime.adapter.ActionSpace` for ``MultiDiscrete``).

    State access is needed only for rollback (peer-to-peer play, ``igym check-env``): the
    env's own ``get_state()``/``set_state()`` when it has them (and ``state_hash()``, else the
    canonical hash of ``get_state()``); otherwise a generic snapshot of the whole env object
    (wrappers included): a structural deep copy (:func:`igym_core.runtime.snapshot.clone`,
    which, unlike ``pickle``/``deepcopy``, keeps the state of PettingZoo's ``EzPickle`` envs),
    hashed by :func:`~igym_core.runtime.hashing.object_hash`. :attr:`snapshot` says which is
    used (``"get_state"``, or ``"copy"`` once taken); ``igym check-env`` proves that it
    restores exactly. A snapshot is ``(env state,
    observations)``: observations are kept by reference, so an env must not mutate an
    observation it has returned.

    In an AEC env a frame is one move: :meth:`step` applies the action of the agent whose
    turn it is (:attr:`turn`), then steps agents that are done with ``None`` as PettingZoo
    requires; the others' actions are ignored.
    """

    def __init__(
        self,
        env: Any,
        seed: int = 0,
        agent_ids: Sequence[str] | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> None:
        for name in ("reset", "step"):
            if not callable(getattr(env, name, None)):
                raise GameError(
                    f"{type(env).__name__} has no {name}(); an environment needs reset and step"
                )
        self.env = env
        self.kind = env_kind(env)
        raw = possible_agents(env)
        if self.kind == "single" or raw is None:
            self._raw: tuple[Any, ...] = (None,)
            names: tuple[str, ...] = tuple(agent_ids) if agent_ids else ("agent_0",)
            if len(names) != 1:
                raise GameError(
                    f"{type(env).__name__} is a single-agent env; it has one agent, not {list(names)}"
                )
        else:
            self._raw = raw
            names = tuple(str(a) for a in raw)
            if agent_ids is not None and tuple(agent_ids) != names:
                raise GameError(
                    f"the env's agents are {list(names)} (str of its possible_agents), "
                    f"not {list(agent_ids)}"
                )
        self.agent_ids = names
        self.parallel = self.kind == "parallel"
        self.action_spaces: tuple[ActionSpace | None, ...] = tuple(
            action_space_of(env, a) for a in self._raw
        )
        own_get = callable(getattr(env, "get_state", None))
        own_set = callable(getattr(env, "set_state", None))
        self._own_state = own_get and own_set
        own_hash = getattr(env, "state_hash", None)
        self._own_hash = own_hash if callable(own_hash) else None
        self.snapshot = "get_state" if self._own_state else None
        self._obs: tuple[Any, ...] = ()
        self.reset(seed, options)

    # -- playing ----------------------------------------------------------------------------

    def reset(self, seed: int, options: Mapping[str, Any] | None = None) -> None:
        kwargs: dict[str, Any] = {"seed": seed}
        if options:
            kwargs["options"] = dict(options)
        result = self.env.reset(**kwargs)
        if self.kind == "aec":
            self._obs = ()
            return
        obs = result[0] if isinstance(result, tuple) else result
        self._obs = self._split_obs(obs)

    def _split_obs(self, obs: Any) -> tuple[Any, ...]:
        if self.parallel and isinstance(obs, Mapping):
            return tuple(obs.get(a) for a in self._raw)
        return (obs,)

    def _env_action(self, index: int, action: int) -> Any:
        space = self.action_spaces[index]
        return action if space is None else space.to_env(action)

    @property
    def turn(self) -> int | None:
        """The index of the agent whose move it is (AEC envs), else None."""
        if self.kind != "aec":
            return None
        try:
            return self._raw.index(self.env.agent_selection)
        except ValueError:
            return None

    def step(self, actions: Sequence[int]) -> StepOutcome:
        if self.kind == "aec":
            return self._step_aec(actions)
        if self.parallel:
            live = getattr(self.env, "agents", None)
            live = set(self._raw) if live is None else set(live)
            step_actions = {
                a: self._env_action(i, actions[i]) for i, a in enumerate(self._raw) if a in live
            }
            obs, rewards, terms, truncs, infos = self.env.step(step_actions)
            if isinstance(obs, Mapping):  # a done agent gets no new observation
                before = self._obs or (None,) * len(self._raw)
                self._obs = tuple(obs.get(a, b) for a, b in zip(self._raw, before, strict=True))
            ended = _episode_over(self.env, terms, truncs, self._raw)
            terminated = ended and any(bool(terms.get(a, False)) for a in self._raw)
            return StepOutcome(
                tuple(float(rewards.get(a, 0.0)) for a in self._raw),
                terminated,
                ended and not terminated,
                _nonempty_infos(infos, self._raw, self.agent_ids),
            )
        obs, reward, terminated, truncated, info = _five(
            self.env.step(self._env_action(0, actions[0]))
        )
        self._obs = (obs,)
        return StepOutcome((float(reward),), bool(terminated), bool(truncated), info or None)

    def _step_aec(self, actions: Sequence[int]) -> StepOutcome:
        env = self.env
        turn = self.turn
        if turn is None:
            raise GameError(
                f"the AEC env's agent_selection {env.agent_selection!r} is not one of its agents"
            )
        env.step(self._env_action(turn, actions[turn]))
        rewards = getattr(env, "rewards", {}) or {}
        out = tuple(float(rewards.get(a, 0.0)) for a in self._raw)
        infos = _nonempty_infos(getattr(env, "infos", {}) or {}, self._raw, self.agent_ids)
        terms = getattr(env, "terminations", {}) or {}
        terminated_now = any(bool(terms.get(a, False)) for a in self._raw)
        while env.agents and _done(env, env.agent_selection):
            env.step(None)  # PettingZoo: an agent that is done is stepped with None
        ended = not env.agents
        terminated = ended and terminated_now
        return StepOutcome(out, terminated, ended and not terminated, infos)

    def observe(self, agent_index: int) -> Any:
        if self.kind == "aec":
            try:
                return self.env.observe(self._raw[agent_index])
            except (KeyError, IndexError):
                return None
        return self._obs[agent_index]

    def actions(self, agent_index: int) -> range | None:
        """The actions the env's space allows ``agent_index`` (None when it declares none)."""
        space = self.action_spaces[agent_index]
        return None if space is None else space.actions()

    # -- state (rollback only) --------------------------------------------------------------

    def get_state(self) -> Any:
        if self._own_state:
            return (self.env.get_state(), self._obs)
        try:
            snap = clone((self.env, self._obs))
        except SnapshotError as exc:
            raise GameError(
                f"{type(self.env).__name__} has no get_state()/set_state() and cannot be "
                f"copied for a snapshot: {exc}; rollback needs one of them"
            ) from None
        self.snapshot = "copy"
        return snap

    def set_state(self, state: Any) -> None:
        if self._own_state:
            env_state, self._obs = state
            self.env.set_state(env_state)
        else:  # copy again, so that the snapshot can be restored any number of times
            self.env, self._obs = clone(state)

    def state_hash(self) -> bytes:
        if self._own_hash is not None:
            return _to_hash_bytes(self._own_hash())
        if self._own_state:
            return state_hash(self.env.get_state())
        try:
            return object_hash(self.env)
        except StateHashError as exc:
            raise GameError(
                f"{type(self.env).__name__} has no get_state() and its state cannot be hashed: "
                f"{exc}"
            ) from None


def _five(result: Any) -> tuple[Any, Any, Any, Any, Any]:
    if not isinstance(result, tuple) or len(result) != 5:
        size = len(result) if isinstance(result, tuple) else type(result).__name__
        raise GameError(
            f"step() must return (obs, reward, terminated, truncated, info) as Gymnasium "
            f"does, got {size} values (the old Gym API returns 4)"
        )
    return result


def _done(env: Any, agent: Any) -> bool:
    terms = getattr(env, "terminations", {}) or {}
    truncs = getattr(env, "truncations", {}) or {}
    return bool(terms.get(agent, False)) or bool(truncs.get(agent, False))


def _episode_over(env: Any, terms: Mapping, truncs: Mapping, raw: tuple[Any, ...]) -> bool:
    """A parallel episode is over when no agent is left (PettingZoo's rule), or, for an env
    without an ``agents`` list, when any agent is done."""
    live = getattr(env, "agents", None)
    if live is not None:
        return not live
    return any(bool(terms.get(a, False)) or bool(truncs.get(a, False)) for a in raw)


def _nonempty_infos(infos: Any, raw: tuple[Any, ...], names: tuple[str, ...]) -> Any:
    if not isinstance(infos, Mapping):
        return infos or None
    if not any(infos.get(a) for a in raw):
        return None
    return {name: infos.get(a) for a, name in zip(raw, names, strict=True) if infos.get(a)}


def as_game(obj: Any, seed: int = 0) -> RollbackGame:
    """``obj`` as a :class:`RollbackGame` reset with ``seed``: a game that already implements
    the protocol is reset (if it can be) and returned; an env is wrapped in :class:`EnvGame`."""
    if isinstance(obj, RollbackGame):
        reset = getattr(obj, "reset", None)
        if callable(reset):
            reset(seed=seed)
        return obj
    return EnvGame(obj, seed=seed)
