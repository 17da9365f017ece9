"""Deliberately broken games: each looks fine in a single run but is not rollback-safe.

Used by the tests to prove that ``igym check-env`` and the simulator's desync detection catch
them. Factories are ``module:callable`` targets: ``tests.sim.badgames:make_unseeded`` etc.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from igym_core.runtime.game import StepOutcome
from igym_core.runtime.toygame import CoinGrid


class UnseededGame(CoinGrid):
    """Draws from the process-wide ``random`` module: no two runs (or peers) agree."""

    def step(self, actions: Sequence[int]) -> StepOutcome:
        outcome = super().step(actions)
        if random.random() < 0.3:
            self._scores[0] += 1
        return outcome


class HiddenCounterGame(CoinGrid):
    """Keeps a step counter outside its state: replaying after a rollback counts twice."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._hidden = 0
        super().__init__(*args, **kwargs)

    def reset(self, seed: int = 0) -> None:
        self._hidden = 0
        super().reset(seed)

    def step(self, actions: Sequence[int]) -> StepOutcome:
        self._hidden += 1
        outcome = super().step(actions)
        if self._hidden % 5 == 0:
            self._scores[1] += 1
        return outcome


class AliasingGame(CoinGrid):
    """Returns its live lists from ``get_state``: a snapshot changes as the game moves on."""

    def get_state(self) -> dict[str, Any]:
        return {
            "t": self._t,
            "pos": self._pos,
            "scores": self._scores,
            "rng": self._rng,
            "coin": self._coin,
        }


def make_unseeded(**kwargs: Any) -> UnseededGame:
    return UnseededGame(**kwargs)


def make_hidden(**kwargs: Any) -> HiddenCounterGame:
    return HiddenCounterGame(**kwargs)


def make_aliasing(**kwargs: Any) -> AliasingGame:
    return AliasingGame(**kwargs)


class SetInfosGame(CoinGrid):
    """Deterministic and rollback-safe, but its infos hold a set: not exportable canonically."""

    def step(self, actions: Sequence[int]) -> StepOutcome:
        outcome = super().step(actions)
        return outcome._replace(infos={"seen": {1, 2}})


def make_set_infos(**kwargs: Any) -> SetInfosGame:
    return SetInfosGame(**kwargs)
