"""A game scene's episode loop: what the Pyodide worker (and the server, in server mode) runs.

:class:`Play` is built from the game scene's description (what the server sends the page, see
``igym_core.server.games``): it makes the environment from its factory, the AI seats from the
environment's policies (or seeded random over the env's action space), and then plays one tick
at a time with the humans' actions, by the scene's stepping rule (every tick, only on input, or
turn by turn). :class:`LocalPlay` is the one-human loop the browser worker calls.
Each tick gives back plain data only: the frame record (exported one row per frame), the draw
objects of the new state and the HUD values. Everything that decides the outcome is here, so a
recorded episode replays exactly in CPython (:func:`replay`).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

from igym_core.runtime.game import EnvGame, load_callable

__all__ = ["STEP_ON", "LocalPlay", "Play", "PlayError", "flatten_infos", "replay"]

_SCALARS = (str, int, float, bool, type(None))


class PlayError(ValueError):
    """A scene description or an input the game cannot use."""


def _scalar(value: Any) -> Any:
    """A CSV cell: scalars as they are (numpy scalars as Python ones, NaN as None), anything
    else as its ``repr``."""
    if not isinstance(value, _SCALARS) and callable(getattr(value, "item", None)):
        if getattr(value, "shape", None) == ():
            value = value.item()
    if isinstance(value, float) and value != value:
        return None
    return value if isinstance(value, _SCALARS) else repr(value)


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
        return {prefix.rstrip(".") or "info": _scalar(infos)}
    flat: dict[str, Any] = {}
    for key, value in infos.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten_infos(value, f"{name}."))
        else:
            flat[name] = _scalar(value)
    return flat


STEP_ON = ("tick", "input")


class Play:
    """One episode loop of a game scene: the env, its AI seats and any number of human seats.

    Built from the game scene's description (``igym_core.server.games``). :meth:`step` takes
    the humans' actions of one tick (``None``: no input) and returns the frame record, or
    ``None`` when the frame does not advance at that tick:

    * turn-based envs (PettingZoo AEC): the frame advances when the agent whose turn it is
      acts; an AI seat acts at once, a human seat only with an input;
    * ``step_on="input"``: the frame advances only when a human gave an input (others get the
      default action);
    * otherwise (``step_on="tick"``) it advances every tick, idle humans getting the default
      action.

    The browser's :class:`LocalPlay` (one human) and the server's authoritative games (any
    number) both run this, so a scene plays by the same rules in either place.
    """

    def __init__(self, scene: Mapping[str, Any]) -> None:
        env = scene["env"]
        self.agent_ids: tuple[str, ...] = tuple(env["agent_ids"])
        self.max_steps = int(scene["max_steps"])
        self.default_action = int(env["default_action"])
        self.actions = tuple(sorted(int(a) for a in env["action_labels"]))
        self.step_on = str(scene.get("step_on") or "tick")
        if self.step_on not in STEP_ON:
            raise PlayError(f"step_on must be one of {STEP_ON}, got {self.step_on!r}")
        self.seats: dict[str, Mapping[str, Any]] = dict(scene["seats"])
        if set(self.seats) != set(self.agent_ids):
            raise PlayError(f"seats {sorted(self.seats)} must cover the agents {self.agent_ids}")
        self.humans: tuple[str, ...] = tuple(
            a for a in self.agent_ids if self.seats[a]["kind"] == "human"
        )
        if not self.humans:
            raise PlayError("a game scene needs at least one human seat")
        self._factory = load_callable(env["factory"])
        self._kwargs = dict(env["kwargs"])
        self._policies = {
            name: (load_callable(p["factory"]), dict(p.get("kwargs", {})))
            for name, p in env.get("policies", {}).items()
        }
        self.game: EnvGame | None = None
        self.episode = -1
        self.frame = 0
        self.scores = dict.fromkeys(self.agent_ids, 0.0)
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
                allowed = self.game.actions(index)
                self._ai[index] = RandomSeat(
                    self.actions if allowed is None else allowed, seed * 1009 + index
                )
        self.episode = episode
        self.frame = 0
        self.scores = dict.fromkeys(self.agent_ids, 0.0)
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
        for expected, frame in enumerate(frames):
            if int(frame["frame"]) != expected:
                raise PlayError(f"the frames to replay must be 0, 1, …; got {frame['frame']}")
            if self.done:
                break
            recorded = frame["actions"]
            record = self.step(
                {agent: int(recorded[agent]) for agent in self.humans}, frame.get("focused")
            )
            if record is None:
                raise PlayError(f"replaying frame {expected}: the recorded actions do not move")
            for agent, action in record["actions"].items():
                if agent not in self.humans and action != int(recorded[agent]):
                    raise PlayError(
                        f"replaying frame {expected}: {agent} acts {action}, but "
                        f"{recorded[agent]} was recorded (the AI or the environment is not "
                        "deterministic)"
                    )
        return {
            "render": self.render(),
            "hud": self.hud(),
            "resumed_at": self.frame,
            "done": self.done,
        }

    @property
    def turn(self) -> str | None:
        """The agent whose move it is in a turn-based env (None otherwise)."""
        index = None if self.game is None else self.game.turn
        return None if index is None else self.agent_ids[index]

    def step(
        self,
        inputs: Mapping[str, int | None],
        focused: Mapping[str, bool] | bool | None = None,
    ) -> dict[str, Any] | None:
        """Play one tick: ``inputs`` maps human agent ids to an action or ``None``. Returns the
        frame record, or ``None`` when this tick does not advance the frame (see the class)."""
        game = self.game
        if game is None or self.done:
            raise PlayError("the episode is over; call start() for the next one")
        for agent, action in inputs.items():
            if agent not in self.humans:
                raise PlayError(f"{agent!r} is not a human seat of this scene {self.humans}")
            if action is not None and action not in self.actions:
                raise PlayError(f"action {action!r} is not one of {list(self.actions)}")
        turn = game.turn
        if turn is not None:
            mover = self.agent_ids[turn]
            if mover in self.humans and inputs.get(mover) is None:
                return None
        elif self.step_on == "input" and all(inputs.get(a) is None for a in self.humans):
            return None
        actions = []
        for index, agent in enumerate(self.agent_ids):
            if agent in self.humans:
                action = inputs.get(agent)
                actions.append(self.default_action if action is None else action)
            elif turn is not None and index != turn:
                actions.append(self.default_action)  # not its move: nothing to compute
            else:
                actions.append(int(self._ai[index].act(game.observe(index))))
        outcome = game.step(actions)
        frame = self.frame
        self.frame += 1
        for agent, reward in zip(self.agent_ids, outcome.rewards, strict=True):
            self.scores[agent] += reward
        truncated = outcome.truncated or (self.frame >= self.max_steps and not outcome.terminated)
        self.done = outcome.terminated or truncated
        infos = flatten_infos(outcome.infos)
        if turn is not None:
            infos["turn"] = self.agent_ids[turn]
        if focused is None:
            focused = True if len(self.humans) == 1 else {}
        if isinstance(focused, Mapping):
            focus: bool | dict[str, bool | None] = {
                a: (bool(focused.get(a, True)) if a in self.humans else None)
                for a in self.agent_ids
            }
        else:
            focus = bool(focused)
        return {
            "frame": frame,
            "actions": dict(zip(self.agent_ids, actions, strict=True)),
            "rewards": dict(zip(self.agent_ids, outcome.rewards, strict=True)),
            "terminated": outcome.terminated,
            "truncated": truncated,
            "focused": focus,
            "infos": infos,
        }

    def render(self) -> Any:
        """What the env draws: a list of draw objects (anything else becomes ``[]``; the
        server's authoritative games read images from :meth:`render_raw`)."""
        drawn = self.render_raw()
        return drawn if isinstance(drawn, list) else []

    def render_raw(self) -> Any:
        assert self.game is not None
        render = getattr(self.game.env, "render", None)
        if not callable(render):
            return None
        try:
            return render()
        except NotImplementedError:  # gymnasium.Env's default: the env draws nothing
            return None

    def hud(self, agent: str | None = None) -> dict[str, Any]:
        """The values the page shows: episode, frame, max_steps, score (of ``agent``, default
        the first human) and, in turn-based games, whose ``turn`` it is."""
        out: dict[str, Any] = {
            "episode": self.episode,
            "frame": self.frame,
            "max_steps": self.max_steps,
            "score": self.scores.get(agent or self.humans[0], 0.0),
        }
        if self.game is not None and self.game.turn is not None:
            out["turn"] = self.turn
        return out


class LocalPlay(Play):
    """A single-human game scene: what the Pyodide worker runs, one call per tick."""

    def __init__(self, scene: Mapping[str, Any]) -> None:
        super().__init__(scene)
        if len(self.humans) != 1:
            raise PlayError(f"seats {self.seats} must cover {self.agent_ids} with one human")
        self.human = self.humans[0]
        self.human_index = self.agent_ids.index(self.human)

    @property
    def score(self) -> float:
        return self.scores[self.human]

    def tick(self, action: int | None, focused: bool = True) -> dict[str, Any]:
        """Play one tick with the human's ``action`` (``None``: no input); ``record`` is None
        when the frame did not advance (turn-based or step-on-input scenes)."""
        record = self.step({self.human: action}, focused)
        return {"record": record, "render": self.render(), "hud": self.hud(), "done": self.done}

    def advance(self, inputs: Sequence[Sequence[Any]]) -> dict[str, Any]:
        """One tick per ``(action, focused)`` pair, stopping early when the episode ends.

        One call per worker tick, even when the tick catches up on several frames: returns the
        records of the frames that advanced (``input_index``: which input each came from), and
        the render and HUD of the last state only.
        """
        records = []
        used = []
        for i, (action, focused) in enumerate(inputs):
            if self.done:
                break
            record = self.step({self.human: action}, focused)
            if record is not None:
                records.append(record)
                used.append(i)
        return {
            "records": records,
            "input_index": used,
            "render": self.render(),
            "hud": self.hud(),
            "done": self.done,
        }


def replay(scene: Mapping[str, Any], seed: int, human_actions: Sequence[int]) -> list[dict]:
    """Play an episode again from the human's recorded actions; returns its frame records."""
    play = LocalPlay(scene)
    play.start(0, seed)
    records = []
    for action in human_actions:
        record = play.tick(action)["record"]
        if record is not None:
            records.append(record)
        if play.done:
            break
    return records
