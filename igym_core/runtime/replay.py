"""Playing a stored episode again from its recorded actions, and checking what comes out.

The admin console runs this in Pyodide (the same worker and packages zip as a participant's
page) to show an episode: the environment is made exactly as the page made it (factory,
kwargs, seed), then stepped with every agent's recorded action, AI seats included, so the replay
does not depend on the policies. Each replayed frame's rewards and end flags (and the state
hash, where the record has one) are compared with the stored ones; any difference is reported.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from igym_core.runtime.game import EnvGame, RollbackGame, as_game, load_callable

__all__ = ["ReplayError", "replay_episode", "replay_json"]

#: rewards closer than this are equal (they went through JSON)
TOLERANCE = 1e-9


class ReplayError(ValueError):
    """A stored episode that cannot be replayed (the message says why)."""


def _make_game(scene: Mapping[str, Any], seed: int) -> RollbackGame:
    env = scene["env"]
    made = load_callable(env["factory"])(**dict(env["kwargs"]))
    agent_ids = tuple(env["agent_ids"])
    if scene.get("multiplayer") and isinstance(made, RollbackGame):
        return as_game(made, seed)  # as a multiplayer page makes it (NetPlay)
    return EnvGame(made, seed=seed, agent_ids=agent_ids)


def _render(game: RollbackGame) -> list[Any]:
    env = getattr(game, "env", game)
    render = getattr(env, "render", None)
    drawn = render() if callable(render) else None
    return drawn if isinstance(drawn, list) else []


def _differs(stored: Any, replayed: float) -> bool:
    if isinstance(stored, bool) or not isinstance(stored, int | float):
        return True
    return not math.isclose(float(stored), replayed, rel_tol=0, abs_tol=TOLERANCE)


def replay_episode(
    scene: Mapping[str, Any], seed: int, frames: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """Replay ``frames`` (stored records: frame, actions, rewards, terminated, truncated and
    perhaps state_hash) from ``seed``.

    Returns ``{"first": render, "frames": [{frame, render, rewards, stored_rewards, score}],
    "differences": [{frame, field, agent?, stored, replayed}], "totals": {agent: {stored,
    replayed}}, "complete": bool}``. Replaying stops at the first frame that is missing or
    after the environment ended the episode.
    """
    agent_ids = tuple(scene["env"]["agent_ids"])
    max_steps = int(scene["max_steps"])
    single = not scene.get("multiplayer")
    game = _make_game(scene, seed)
    first = _render(game)
    out: list[dict[str, Any]] = []
    differences: list[dict[str, Any]] = []
    totals = {a: {"stored": 0.0, "replayed": 0.0} for a in agent_ids}
    ended = False
    for expected, record in enumerate(frames):
        frame = int(record["frame"])
        if frame != expected:
            differences.append(
                {"frame": expected, "field": "frame", "stored": frame, "replayed": expected}
            )
            break
        if ended:
            differences.append(
                {"frame": frame, "field": "after_end", "stored": "a frame", "replayed": None}
            )
            break
        stored_actions = record.get("actions") or {}
        try:
            actions = [int(stored_actions[a]) for a in agent_ids]
        except (KeyError, TypeError, ValueError):
            raise ReplayError(
                f"frame {frame} has no action for every agent {list(agent_ids)}"
            ) from None
        outcome = game.step(actions)
        stored_rewards = record.get("rewards") or {}
        rewards = dict(zip(agent_ids, outcome.rewards, strict=True))
        for agent, value in rewards.items():
            stored = stored_rewards.get(agent)
            totals[agent]["replayed"] += value
            if isinstance(stored, int | float) and not isinstance(stored, bool):
                totals[agent]["stored"] += float(stored)
            if _differs(stored, value):
                differences.append(
                    {
                        "frame": frame,
                        "field": "reward",
                        "agent": agent,
                        "stored": stored,
                        "replayed": value,
                    }
                )
        truncated = outcome.truncated or (
            single and frame + 1 >= max_steps and not outcome.terminated
        )
        for name, value in (("terminated", outcome.terminated), ("truncated", truncated)):
            if bool(record.get(name)) != bool(value):
                differences.append(
                    {"frame": frame, "field": name, "stored": record.get(name), "replayed": value}
                )
        stored_hash = record.get("state_hash")
        if stored_hash:
            digest = game.state_hash().hex()
            if digest != stored_hash:
                differences.append(
                    {
                        "frame": frame,
                        "field": "state_hash",
                        "stored": stored_hash,
                        "replayed": digest,
                    }
                )
        ended = outcome.terminated or truncated
        out.append(
            {
                "frame": frame,
                "render": _render(game),
                "rewards": rewards,
                "stored_rewards": stored_rewards,
            }
        )
    for agent in totals:
        totals[agent] = {k: round(v, 9) for k, v in totals[agent].items()}
    return {
        "first": first,
        "frames": out,
        "differences": differences,
        "totals": totals,
        "complete": ended and len(out) == len(frames),
    }


def replay_json(text: str) -> str:
    """:func:`replay_episode` with JSON in (``{"scene", "seed", "frames"}``) and out: the one
    call the worker makes."""
    request = json.loads(text)
    return json.dumps(
        replay_episode(request["scene"], int(request["seed"]), request["frames"]),
        separators=(",", ":"),
    )
