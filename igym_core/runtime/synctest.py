"""Sync test: prove a game deterministic and rollback-safe before anyone plays it.

:class:`SyncTestSession` is GGRS's SyncTestSession for igym: a single-process session that, on
every frame after the first few, loads the snapshot of ``check_distance`` frames ago, replays
those frames with the same inputs and compares each replayed state's hash with the hash the
first simulation produced. It makes requests just like
:class:`~igym_core.runtime.rollback.RollbackSession`, so the game is driven the same way.

:func:`check_game` runs the whole battery ``igym check-env`` reports on:

- the state and the step infos are plain data that hash canonically;
- two fresh instances given the same seed and inputs stay identical (determinism);
- a snapshot restores exactly (``set_state(get_state())`` leaves the hash unchanged, and a
  snapshot is not changed by later steps);
- rolling back 1..``max_distance`` frames at every frame and replaying reproduces every hash.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from igym_core.runtime.game import RollbackGame
from igym_core.runtime.hashing import StateHashError, normalize
from igym_core.runtime.input_queue import PeerInput
from igym_core.runtime.rollback import AdvanceFrame, LoadState, Request, SaveState, StateCell

__all__ = [
    "CheckReport",
    "SyncMismatch",
    "SyncTestSession",
    "check_game",
    "run_sync_test",
]


@dataclass(frozen=True, slots=True)
class SyncMismatch:
    """Replaying ``frame`` gave a different state hash than simulating it the first time."""

    frame: int
    first_hash: bytes
    replay_hash: bytes


class SyncTestSession:
    """Rolls back ``check_distance`` frames on every frame and checks the replay's hashes.

    The host gives all agents' actions with :meth:`add_local_input`, executes the requests of
    :meth:`advance_frame` (computing the hash on every :class:`SaveState`), and reads
    :attr:`mismatches`. Inputs are :class:`PeerInput` values of one pseudo-peer that owns every
    seat, so a host written for :class:`RollbackSession` runs here unchanged.
    """

    def __init__(self, check_distance: int = 2) -> None:
        if check_distance < 1:
            raise ValueError("check_distance must be >= 1")
        self.check_distance = check_distance
        self.current_frame = 0
        self.mismatches: list[SyncMismatch] = []
        self._ring = [StateCell() for _ in range(check_distance + 2)]
        self._inputs: dict[int, PeerInput] = {}
        self._first_hash: dict[int, bytes] = {}
        self._pending: PeerInput | None = None
        self._started = False
        self._to_verify: list[int] = []

    def add_local_input(self, actions: Sequence[int], focused: bool = True) -> None:
        """All agents' actions for the next frame."""
        self._pending = PeerInput(tuple(actions), focused)

    def advance_frame(self) -> list[Request]:
        """Verify the previous tick's replay, then plan: roll back, replay, advance one frame."""
        self._verify()
        if self._pending is None:
            raise RuntimeError("advance_frame() needs add_local_input() first")
        ring = self._ring
        size = len(ring)
        requests: list[Request] = []
        if not self._started:
            self._started = True
            requests.append(self._save(0))
        current = self.current_frame
        back = min(self.check_distance, current)
        if back:
            start = current - back
            requests.append(LoadState(start, ring[start % size]))
            for f in range(start, current):
                requests.append(AdvanceFrame(f, (self._inputs[f],), True, True))
                requests.append(self._save(f + 1))
                self._to_verify.append(f + 1)
        self._inputs[current] = self._pending
        self._inputs.pop(current - self.check_distance - 2, None)
        self._pending = None
        requests.append(AdvanceFrame(current, (self._inputs[current],), False, True))
        requests.append(self._save(current + 1))
        self.current_frame = current + 1
        return requests

    def finish(self) -> None:
        """Check the last tick's replay (call once after the last executed requests)."""
        self._verify()

    def _save(self, frame: int) -> SaveState:
        cell = self._ring[frame % len(self._ring)]
        cell.frame = frame
        cell.hash = None
        return SaveState(frame, cell, True)

    def _verify(self) -> None:
        ring = self._ring
        first = self._first_hash
        for frame in self._to_verify:
            cell = ring[frame % len(ring)]
            if cell.frame != frame or cell.hash is None:
                raise RuntimeError(f"the host did not save frame {frame} with a hash")
            if cell.hash != first[frame]:
                self.mismatches.append(SyncMismatch(frame, first[frame], cell.hash))
        self._to_verify.clear()
        newest = self.current_frame
        cell = ring[newest % len(ring)]
        if self._started and newest not in first and cell.frame == newest and cell.hash:
            first[newest] = cell.hash
            first.pop(newest - self.check_distance - 2, None)


def _execute(game: RollbackGame, requests: list[Request]) -> bool:
    """Run sync-test requests on ``game``; returns whether the last step ended the episode."""
    done = False
    for req in requests:
        if type(req) is SaveState:
            req.cell.save(req.frame, game.get_state(), game.state_hash())
        elif type(req) is LoadState:
            game.set_state(req.cell.load(req.frame))
        else:
            outcome = game.step(req.inputs[0].actions)
            if not req.replay:
                done = outcome.terminated or outcome.truncated
    return done


def run_sync_test(
    game: RollbackGame,
    actions: Callable[[int], Sequence[int]],
    frames: int,
    check_distance: int = 2,
) -> tuple[int, list[SyncMismatch]]:
    """Play up to ``frames`` frames (``actions(frame)`` gives all agents' actions), rolling
    back ``check_distance`` frames each frame. Returns ``(frames played, mismatches)``."""
    session = SyncTestSession(check_distance)
    played = 0
    for frame in range(frames):
        session.add_local_input(actions(frame))
        done = _execute(game, session.advance_frame())
        played = frame + 1
        if done:
            break
    session.finish()
    return played, session.mismatches


@dataclass(slots=True)
class CheckReport:
    """The verdict of :func:`check_game`: ``ok`` when no problem was found."""

    frames: int = 0
    checks: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _plain_state(game: RollbackGame) -> Any:
    env = getattr(game, "env", None)
    if env is not None and callable(getattr(env, "get_state", None)):
        return env.get_state()
    return game.get_state()


def check_game(
    make_game: Callable[[int], RollbackGame],
    seeds: Sequence[int] = (0, 1),
    frames: int = 300,
    max_distance: int = 8,
    action_count: int = 7,
) -> CheckReport:
    """Check that the games ``make_game(seed)`` makes are deterministic and rollback-safe.

    Inputs are random (seeded) held keys over ``action_count`` actions for every agent.
    """
    report = CheckReport()
    for seed in seeds:
        first = make_game(seed)
        n = len(first.agent_ids)
        rng = random.Random(seed * 7919 + 1)
        script: list[tuple[int, ...]] = []
        held = [action_count - 1] * n
        for _ in range(frames):
            for i in range(n):
                if rng.random() < 0.3:
                    held[i] = rng.randrange(action_count)
            script.append(tuple(held))

        snapshot = getattr(first, "snapshot", "get_state")
        if snapshot in (None, "copy"):
            try:
                first.get_state()
                report.checks.append(
                    f"seed {seed}: no get_state()/set_state(): a generic snapshot of the env "
                    "(a structural deep copy) is used"
                )
            except Exception as exc:
                report.problems.append(f"seed {seed}: the env cannot be snapshotted: {exc}")
                continue
        else:
            try:
                normalize(_plain_state(first))
                report.checks.append(f"seed {seed}: the state is plain data")
            except StateHashError as exc:
                report.problems.append(f"seed {seed}: the state is not plain data: {exc}")

        # determinism: two instances, same seed, same inputs
        second = make_game(seed)
        if first.state_hash() != second.state_hash():
            report.problems.append(f"seed {seed}: two fresh instances start in different states")
        else:
            diverged = None
            played = 0
            bad_infos = None
            for frame, actions in enumerate(script):
                a = first.step(actions)
                b = second.step(actions)
                played = frame + 1
                if bad_infos is None and a.infos is not None:
                    try:
                        normalize(a.infos, "infos")
                    except StateHashError as exc:
                        bad_infos = exc
                        report.problems.append(
                            f"seed {seed}: the step infos are not plain data "
                            f"(they go into the canonical log): {exc}"
                        )
                if first.state_hash() != second.state_hash() or a != b:
                    diverged = frame
                    break
                if a.terminated or a.truncated:
                    break
            if diverged is None:
                report.checks.append(f"seed {seed}: two instances agree for {played} frames")
            else:
                report.problems.append(
                    f"seed {seed}: not deterministic: two instances given the same seed and "
                    f"inputs diverge at frame {diverged}"
                )

        # snapshot isolation and restore
        game = make_game(seed)
        saved = game.get_state()
        before = game.state_hash()
        for actions in script[:5]:
            game.step(actions)
        game.set_state(saved)
        if game.state_hash() != before:
            report.problems.append(
                f"seed {seed}: set_state(get_state()) after 5 steps does not restore the state "
                "(the snapshot shares data with the live game, or get_state misses something)"
            )
        else:
            report.checks.append(f"seed {seed}: a snapshot restores the exact state")

        # rollback at every frame, distances 1..max_distance
        for distance in sorted({1, 2, max_distance // 2 or 1, max_distance}):
            game = make_game(seed)
            played, mismatches = run_sync_test(
                game, script.__getitem__, min(frames, len(script)), distance
            )
            report.frames = max(report.frames, played)
            if mismatches:
                m = mismatches[0]
                report.problems.append(
                    f"seed {seed}: not rollback-safe: rolling back {distance} frame(s) and "
                    f"replaying gives a different state at frame {m.frame} "
                    f"({len(mismatches)} mismatching frames)"
                )
                break
            report.checks.append(
                f"seed {seed}: rollback of {distance} frame(s) at every frame reproduces "
                f"{played} frames"
            )
    return report
