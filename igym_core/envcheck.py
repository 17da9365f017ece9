"""What can be checked of a game scene's environment before anyone plays it.

:func:`check_environments` runs at load time (``igym validate`` and server start-up, from
:func:`igym_core.experiment.check_plugins`): env kwargs and policy kwargs must be accepted by
their factories (and be JSON for a browser scene, whose page receives them), and a browser
scene's packages must be shippable to Pyodide (pure Python; a package with C extensions is
refused with a suggestion to use ``mode="server"``). :func:`run_environments` is ``igym
validate``'s deeper check: it builds each scene's environment once, plays a few frames, runs a
short ``check-env`` (a failure is an error for peer-to-peer scenes, which need rollback, and a
warning otherwise), and imports the browser bundle in a Python that sees nothing but the bundle
and the standard library.
"""

from __future__ import annotations

import functools
import inspect
import io
import json
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Mapping
from typing import Any

from igym_core.config import ConfigError, Experiment, GameScene
from igym_core.plugins import PluginManager
from igym_core.specs import EnvironmentSpec

__all__ = ["check_environments", "run_environments", "scene_kwargs"]


def _where(scene: GameScene) -> str:
    return f"GameScene({scene.id!r})"


def _load(path: str) -> Callable[..., Any]:
    from igym_core.runtime.game import GameError, load_callable

    try:
        return load_callable(path)
    except GameError as exc:
        raise ConfigError(str(exc)) from None


def _unaccepted(factory: Callable[..., Any], names: list[str], skip: int = 0) -> list[str]:
    """The keyword names ``factory`` would refuse (none when it takes ``**kwargs`` or its
    signature cannot be read); ``skip`` positional parameters are filled by the caller."""
    try:
        params = list(inspect.signature(factory).parameters.values())
    except (TypeError, ValueError):
        return []
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return []
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    taken = {p.name for p in positional[:skip]}
    accepted = {p.name for p in params if p.kind is not p.POSITIONAL_ONLY} - taken
    return [n for n in names if n not in accepted]


@functools.cache
def _names_max_steps(factory_path: str) -> bool:
    try:
        return "max_steps" in inspect.signature(_load(factory_path)).parameters
    except (TypeError, ValueError, ConfigError):
        return False


def scene_kwargs(spec: EnvironmentSpec, scene: GameScene) -> dict[str, Any]:
    """The env's kwargs for ``scene``: the spec's, overridden by the scene's ``env_kwargs``,
    plus the scene's ``max_steps`` when the factory names a ``max_steps`` parameter (so that
    the environment and the scene agree on when an episode is over)."""
    kwargs = {**spec.kwargs, **scene.env_kwargs}
    if "max_steps" not in kwargs and _names_max_steps(spec.factory):
        kwargs["max_steps"] = scene.max_steps
    return kwargs


def check_environments(experiment: Experiment, plugins: PluginManager) -> None:
    """Check every game scene's env kwargs, policy kwargs and browser packages.

    Raises :class:`ConfigError` naming the scene and the field.
    """
    from igym_core.server.packages import PackageError, check_packages

    for scene in experiment.scenes:
        if not isinstance(scene, GameScene):
            continue
        spec = plugins.environments.get(scene.env)
        if spec is None:
            continue  # check_plugins reports it
        where = _where(scene)
        factory = _load(spec.factory)
        unknown = _unaccepted(factory, sorted({**spec.kwargs, **scene.env_kwargs}))
        if unknown:
            field = "env_kwargs" if set(unknown) & set(scene.env_kwargs) else "env"
            raise ConfigError(
                f"{where}.{field}: {spec.factory} does not take {', '.join(map(repr, unknown))}"
            )
        if not scene.server_mode:
            try:
                json.dumps(scene_kwargs(spec, scene))
            except (TypeError, ValueError) as exc:
                raise ConfigError(
                    f"{where}.env_kwargs must be JSON (the page builds the env from them): {exc}"
                ) from None
        used = {s.policy for s in scene.seats.values() if s.kind == "policy"}
        for policy in spec.policies:
            if policy.name not in used:
                continue
            unknown = _unaccepted(_load(policy.factory), sorted(policy.kwargs), skip=2)
            if unknown:
                raise ConfigError(
                    f"{where}.seats: policy {policy.name!r} ({policy.factory}) does not take "
                    f"{', '.join(map(repr, unknown))}"
                )
            if not scene.server_mode:
                try:
                    json.dumps(dict(policy.kwargs))
                except (TypeError, ValueError) as exc:
                    raise ConfigError(
                        f"{where}.seats: policy {policy.name!r} kwargs must be JSON: {exc}"
                    ) from None
        if not scene.server_mode:
            try:
                check_packages(spec.packages)
            except PackageError as exc:
                raise ConfigError(
                    f"{where}: {scene.env!r} cannot run in the browser: {exc}"
                ) from None


# -- igym validate: build and run ------------------------------------------------------------


def run_environments(experiment: Experiment, plugins: PluginManager, frames: int = 60) -> list[str]:
    """Build each game scene's environment once and play ``frames`` frames with its seats'
    actions; a short check-env (rollback at every frame: required of peer-to-peer scenes, a
    ``warning:`` line for others); for browser scenes, import the bundle in an isolated Python.
    Returns what was checked, one line per scene (and warnings); raises :class:`ConfigError`
    naming the scene at the first failure."""
    from igym_core.runtime.game import EnvGame
    from igym_core.runtime.synctest import check_game

    report = []
    built: dict[tuple[str, str], str] = {}
    for scene in experiment.scenes:
        if not isinstance(scene, GameScene):
            continue
        spec = plugins.environment(scene.env)
        kwargs = scene_kwargs(spec, scene)
        key = (scene.env, json.dumps(kwargs, sort_keys=True, default=repr))
        where = _where(scene)
        factory = _load(spec.factory)

        def make(seed: int, factory=factory, kwargs=kwargs, spec=spec) -> EnvGame:
            return EnvGame(factory(**kwargs), seed=seed, agent_ids=spec.agent_ids)

        try:
            game = make(0)
        except Exception as exc:
            raise ConfigError(
                f"{where}: building {scene.env!r} failed: {type(exc).__name__}: {exc}"
            ) from None
        _check_spaces(where, scene, spec, game)
        if game.kind == "aec" and scene.multiplayer and not scene.server_mode:
            raise ConfigError(
                f"{where}: {scene.env!r} is turn-based (PettingZoo AEC); peer-to-peer rollback "
                "needs simultaneous moves: use mode='server'"
            )
        played = 0
        try:
            for _ in range(frames):
                outcome = game.step([spec.default_action] * len(game.agent_ids))
                played += 1
                if outcome.terminated or outcome.truncated:
                    break
        except Exception as exc:
            raise ConfigError(
                f"{where}: {scene.env!r} raised {type(exc).__name__} in step {played}: {exc}"
            ) from None
        line = f"{scene.id}: {scene.env} ({game.kind}, {scene.mode}) built, {played} frames played"
        try:
            check = check_game(
                make,
                seeds=[0],
                frames=frames,
                max_distance=4,
                action_count=max(spec.action_labels) + 1,
            )
            problems, checks = check.problems, check.checks
        except Exception as exc:  # the env raised under the check: that is its verdict
            problems, checks = [f"the environment raised {type(exc).__name__}: {exc}"], []
        if problems and scene.multiplayer and not scene.server_mode:
            raise ConfigError(
                f"{where}: {scene.env!r} is not rollback-safe (peer-to-peer scenes need it): "
                f"{problems[0]} (run `igym check-env` for all checks)"
            )
        if not problems:
            line += f", deterministic and rollback-safe ({len(checks)} checks)"
        else:  # only rollback needs it; a replay of the recorded actions needs determinism
            report.append(
                f"warning: {scene.id}: check-env found a problem (not needed for this scene, "
                f"but a replay of its records may differ): {problems[0]}"
            )
        if not scene.server_mode and key not in built:
            built[key] = _isolated_import(where, spec, kwargs)
        if not scene.server_mode:
            line += f", {built[key]}"
        report.append(line)
    return report


def _check_spaces(where: str, scene: GameScene, spec: EnvironmentSpec, game: Any) -> None:
    for index, agent in enumerate(game.agent_ids):
        allowed = game.actions(index)
        if allowed is None:
            continue
        outside = sorted(a for a in spec.action_labels if a not in allowed)
        if outside:
            raise ConfigError(
                f"{where}: {scene.env!r} labels actions {outside} that {agent!r}'s action space "
                f"{game.action_spaces[index].describe()} does not have"
            )


_PROBE = """
import json, sys
sys.path.insert(0, sys.argv[1])
from igym_core.runtime.game import EnvGame, load_callable
factory = load_callable(sys.argv[2])
game = EnvGame(factory(**json.loads(sys.argv[3])), seed=0)
game.step([int(sys.argv[4])] * len(game.agent_ids))
render = getattr(game.env, "render", None)
drawn = render() if callable(render) else None
print(json.dumps({"kind": game.kind, "draws": isinstance(drawn, list)}))
"""


def _isolated_import(where: str, spec: EnvironmentSpec, kwargs: Mapping[str, Any]) -> str:
    """Unpack the browser bundle and build the env in a Python that sees only the bundle and
    the standard library (no site-packages), as the browser will."""
    from igym_core.server.packages import build_bundle

    bundle = build_bundle(spec.packages)
    with tempfile.TemporaryDirectory(prefix="igym-bundle-") as folder:
        with zipfile.ZipFile(io.BytesIO(bundle.data)) as zf:
            zf.extractall(folder)
        try:
            done = subprocess.run(
                [
                    sys.executable,
                    "-I",
                    "-S",
                    "-c",
                    _PROBE,
                    folder,
                    spec.factory,
                    json.dumps(dict(kwargs)),
                    str(spec.default_action),
                ],
                capture_output=True,
                text=True,
                timeout=60,
                cwd=folder,
            )
        except subprocess.TimeoutExpired:
            raise ConfigError(
                f"{where}: building {spec.name!r} from its browser bundle took over 60 s"
            ) from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise ConfigError(
            f"{where}: {spec.name!r} does not run from its browser bundle ({last}); the browser "
            f"gets only {', '.join(bundle.modules) or 'nothing'} (EnvironmentSpec.packages and "
            "their declared dependencies): add what is missing to packages, or use "
            "mode='server'"
        )
    return f"browser bundle of {len(bundle.data) // 1024} KiB imports on its own"
