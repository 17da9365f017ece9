"""One participant's game with AI partners: what the Pyodide worker runs each tick.

:class:`LocalPlay` is built from the game scene's description (what the server sends the page,
see ``igym_core.server.games``): it makes the environment from its factory, the AI seats from the
environment's policies (or seeded random), and then steps once per tick with the human's action.
Each tick gives back plain data only: the frame record (exported one row per frame), the draw
objects of the new state and the HUD values. Everything that decides the outcome is here, so a
recorded episode replays exactly in CPython (:func:`replay`).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

from igym_core.runtime.game import EnvGame, load_callable

__all__ = ["LocalPlay", "PlayError", "flatten_infos", "replay"]

_SCALARS = (str, int, float, bool, type(None))


class PlayError(ValueError):
    """A scene description or an input the game cannot use."""


class RandomSeat:
    """A uniformly random policy, seeded per agent and episode."""

    def __init__(self, actions: Sequence[int], seed: int) -> None:
        self.actions = tuple(actions)
        self.rng = random.Random(seed)

    def act(self, observation: Any) -> int:
        return self.actions[self.rng.randrange(len(self.actions))]


def flatten_infos(infos: Any, prefix: str = "") -> dict[str, Any]:
    """Env infos as one flat dict of scalars: ``{"agent_0": {"x": 1}}`` → ``{"agent_0.x": 1}``.

    Lists and other values become their ``repr``; the result is what a CSV column can hold.
    """
    if infos is None:
        return {}
    if not isinstance(infos, Mapping):
        return {prefix.rstrip(".") or "info": infos if isinstance(infos, _SCALARS) else repr(infos)}
    flat: dict[str, Any] = {}
    for key, value in infos.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten_infos(value, f"{name}."))
        elif isinstance(value, float) and value != value:
            flat[name] = None
        else:
            flat[name] = value if isinstance(value, _SCALARS) else repr(value)
    return flat


class LocalPlay:
    """A single-human game scene: one environment, one human seat, AI seats computed here."""

    def __init__(self, scene: Mapping[str, Any]) -> None:
        env = scene["env"]
        self.agent_ids: tuple[str, ...] = tuple(env["agent_ids"])
        self.max_steps = int(scene["max_steps"])
        self.default_action = int(env["default_action"])
        self.actions = tuple(sorted(int(a) for a in env["action_labels"]))
        self.seats: dict[str, Mapping[str, Any]] = dict(scene["seats"])
        humans = [a for a, s in self.seats.items() if s["kind"] == "human"]
        if len(humans) != 1 or set(self.seats) != set(self.agent_ids):
            raise PlayError(f"seats {self.seats} must cover {self.agent_ids} with one human")
        self.human = humans[0]
        self.human_index = self.agent_ids.index(self.human)
        self._factory = load_callable(env["factory"])
        self._kwargs = dict(env["kwargs"])
        self._policies = {
            name: (load_callable(p["factory"]), dict(p.get("kwargs", {})))
            for name, p in env.get("policies", {}).items()
        }
        self.game: EnvGame | None = None
        self.episode = -1
        self.frame = 0
        self.score = 0.0
        self.done = True
        self._ai: dict[int, Any] = {}

    def start(self, episode: int, seed: int) -> dict[str, Any]:
        """Reset for ``episode`` with ``seed``; returns the first frame to draw."""
        env = self._factory(**self._kwargs)
        self.game = EnvGame(env, seed=seed, agent_ids=self.agent_ids)
        self._ai = {}
        for index, agent in enumerate(self.agent_ids):
            seat = self.seats[agent]
            if seat["kind"] == "policy":
                factory, kwargs = self._policies[seat["policy"]]
                self._ai[index] = factory(agent, seed, **kwargs)
            elif seat["kind"] == "random":
                self._ai[index] = RandomSeat(self.actions, seed * 1009 + index)
        self.episode = episode
        self.frame = 0
        self.score = 0.0
        self.done = False
        return {"render": self.render(), "hud": self.hud()}

    def resume(
        self, episode: int, seed: int, frames: Sequence[Mapping[str, Any]]
    ) -> dict[str, Any]:
        """Start ``episode`` again and replay its recorded ``frames`` (``{"frame", "actions",
        "focused"}`` for frames 0, 1, …) without drawing, to go on where a reloaded page left
        off. AI seats act at every replayed frame, so they go on exactly as they would have;
        an AI action that differs from the recorded one means the game is not deterministic,
        and raises :class:`PlayError`. Returns the frame to draw, the HUD, ``resumed_at`` (the
        frames replayed) and ``done`` (the recorded frames already ended the episode)."""
        self.start(episode, seed)
        game = self.game
        assert game is not None
        for expected, frame in enumerate(frames):
            if int(frame["frame"]) != expected:
                raise PlayError(f"the frames to replay must be 0, 1, …; got {frame['frame']}")
            if self.done:
                break
            recorded = frame["actions"]
            actions = []
            for index, agent in enumerate(self.agent_ids):
                action = int(recorded[agent])
                if index in self._ai:
                    mine = int(self._ai[index].act(game.observe(index)))
                    if mine != action:
                        raise PlayError(
                            f"replaying frame {expected}: {agent} acts {mine}, but {action} was "
                            "recorded (the AI or the environment is not deterministic)"
                        )
                actions.append(action)
            outcome = game.step(actions)
            self.frame += 1
            self.score += outcome.rewards[self.human_index]
            truncated = outcome.truncated or (
                self.frame >= self.max_steps and not outcome.terminated
            )
            self.done = outcome.terminated or truncated
        return {
            "render": self.render(),
            "hud": self.hud(),
            "resumed_at": self.frame,
            "done": self.done,
        }

    def tick(self, action: int | None, focused: bool = True) -> dict[str, Any]:
        """Step one frame with the human's ``action`` (``None``: the default action)."""
        record = self._step(action, focused)
        return {"record": record, "render": self.render(), "hud": self.hud(), "done": self.done}

    def _step(self, action: int | None, focused: bool) -> dict[str, Any]:
        game = self.game
        if game is None or self.done:
            raise PlayError("the episode is over; call start() for the next one")
        human = self.default_action if action is None else action
        if human not in self.actions:
            raise PlayError(f"action {human!r} is not one of {list(self.actions)}")
        actions = []
        for index in range(len(self.agent_ids)):
            if index == self.human_index:
                actions.append(human)
            else:
                actions.append(int(self._ai[index].act(game.observe(index))))
        outcome = game.step(actions)
        frame = self.frame
        self.frame += 1
        self.score += outcome.rewards[self.human_index]
        truncated = outcome.truncated or (self.frame >= self.max_steps and not outcome.terminated)
        self.done = outcome.terminated or truncated
        record = {
            "frame": frame,
            "actions": dict(zip(self.agent_ids, actions, strict=True)),
            "rewards": dict(zip(self.agent_ids, outcome.rewards, strict=True)),
            "terminated": outcome.terminated,
            "truncated": truncated,
            "focused": bool(focused),
            "infos": flatten_infos(outcome.infos),
        }
        return record

    def advance(self, inputs: Sequence[Sequence[Any]]) -> dict[str, Any]:
        """Step once per ``(action, focused)`` pair, stopping early when the episode ends.

        One call per worker tick, even when the tick catches up on several frames: returns every
        frame record, and the render and HUD of the last state only (what gets drawn).
        """
        records = []
        for action, focused in inputs:
            if self.done:
                break
            records.append(self._step(action, focused))
        return {"records": records, "render": self.render(), "hud": self.hud(), "done": self.done}

    def render(self) -> list[Any]:
        assert self.game is not None
        render = getattr(self.game.env, "render", None)
        drawn = render() if callable(render) else None
        return drawn if isinstance(drawn, list) else []

    def hud(self) -> dict[str, Any]:
        return {
            "episode": self.episode,
            "frame": self.frame,
            "max_steps": self.max_steps,
            "score": self.score,
        }


def replay(scene: Mapping[str, Any], seed: int, human_actions: Sequence[int]) -> list[dict]:
    """Play an episode again from the human's recorded actions; returns its frame records."""
    play = LocalPlay(scene)
    play.start(0, seed)
    records = []
    for action in human_actions:
        records.append(play.tick(action)["record"])
        if play.done:
            break
    return records
