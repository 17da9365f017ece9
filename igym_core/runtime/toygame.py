"""A small deterministic game for tests, benchmarks and the simulator when no env pack is at hand.

"Coin grid": ``n_agents`` agents on a ``size x size`` torus. Actions 0..6 are up, down, left,
right, grab, wait, no-op (6, the default). A coin sits on one cell; an agent that grabs while on
it scores 1 and a new coin appears where the state's own linear congruential generator says.
Agents that try to move onto the same cell both stay (resolved in agent order). The state is a
small plain dict, so it is rollback-safe; the episode truncates after ``max_steps`` frames.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from igym_core.runtime.game import StepOutcome
from igym_core.runtime.hashing import state_hash

__all__ = ["CoinGrid", "GreedyCoinPolicy", "make", "make_policy"]

NOOP = 6
N_ACTIONS = 7
_MOVES = ((-1, 0), (1, 0), (0, -1), (0, 1))


def _lcg(x: int) -> int:
    return (x * 6364136223846793005 + 1442695040888963407) & 0xFFFFFFFFFFFFFFFF


class CoinGrid:
    """The coin-grid game; implements :class:`~igym_core.runtime.game.RollbackGame` directly."""

    default_action = NOOP
    action_count = N_ACTIONS

    def __init__(
        self, n_agents: int = 2, size: int = 7, max_steps: int = 450, seed: int = 0
    ) -> None:
        self.n_agents = n_agents
        self.size = size
        self.max_steps = max_steps
        self.agent_ids = tuple(f"agent_{i}" for i in range(n_agents))
        self.reset(seed)

    def reset(self, seed: int = 0) -> None:
        """Start an episode: agents along the diagonal, the coin from the seed."""
        size = self.size
        self._t = 0
        self._pos = [[(i * 2) % size, (i * 3) % size] for i in range(self.n_agents)]
        self._scores = [0] * self.n_agents
        self._rng = _lcg(seed + 1)
        self._coin = self._draw()

    def _draw(self) -> list[int]:
        self._rng = _lcg(self._rng)
        cell = (self._rng >> 33) % (self.size * self.size)
        return [cell // self.size, cell % self.size]

    def step(self, actions: Sequence[int]) -> StepOutcome:
        size = self.size
        rewards = [0.0] * self.n_agents
        taken = {tuple(p) for p in self._pos}
        for i, action in enumerate(actions):
            if not 0 <= action < N_ACTIONS:
                raise ValueError(f"action {action} is outside 0..{N_ACTIONS - 1}")
            pos = self._pos[i]
            if action < 4:
                dr, dc = _MOVES[action]
                nxt = ((pos[0] + dr) % size, (pos[1] + dc) % size)
                if nxt not in taken:
                    taken.discard(tuple(pos))
                    taken.add(nxt)
                    pos[0], pos[1] = nxt
            elif action == 4 and pos == self._coin:
                self._scores[i] += 1
                rewards[i] = 1.0
                self._coin = self._draw()
        self._t += 1
        return StepOutcome(tuple(rewards), False, self._t >= self.max_steps, None)

    def get_state(self) -> dict[str, Any]:
        return {
            "t": self._t,
            "pos": [p[:] for p in self._pos],
            "scores": self._scores[:],
            "rng": self._rng,
            "coin": self._coin[:],
        }

    def set_state(self, state: dict[str, Any]) -> None:
        self._t = state["t"]
        self._pos = [p[:] for p in state["pos"]]
        self._scores = state["scores"][:]
        self._rng = state["rng"]
        self._coin = state["coin"][:]

    def state_hash(self) -> bytes:
        return state_hash(self.get_state())

    def observe(self, agent_index: int) -> dict[str, Any]:
        return {
            "agent_index": agent_index,
            "pos": self._pos[agent_index][:],
            "coin": self._coin[:],
            "size": self.size,
        }


class GreedyCoinPolicy:
    """Walks to the coin (shortest way round the torus) and grabs it. Stateless."""

    def __init__(self, agent_id: str = "agent_0", seed: int = 0) -> None:
        self.agent_id = agent_id

    def act(self, observation: dict[str, Any]) -> int:
        (r, c), (cr, cc), size = observation["pos"], observation["coin"], observation["size"]
        if (r, c) == (cr, cc):
            return 4
        dr = (cr - r) % size
        dc = (cc - c) % size
        if dr:
            return 1 if dr <= size // 2 else 0
        return 3 if dc <= size // 2 else 2


def make(n_agents: int = 2, size: int = 7, max_steps: int = 450, seed: int = 0) -> CoinGrid:
    """A :class:`CoinGrid` (also usable as ``igym check-env igym_core.runtime.toygame:make``)."""
    return CoinGrid(n_agents=n_agents, size=size, max_steps=max_steps, seed=seed)


def make_policy(agent_id: str = "agent_0", seed: int = 0) -> GreedyCoinPolicy:
    """A :class:`GreedyCoinPolicy`, in the ``factory(agent_id, seed)`` form of PolicySpec."""
    return GreedyCoinPolicy(agent_id, seed)
