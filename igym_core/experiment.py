"""Loading an experiment file, and the stager that walks a participant through its scenes."""

from __future__ import annotations

import hashlib
import runpy
from pathlib import Path

import attrs

from igym_core import hookimpl
from igym_core.config import (
    ConfigError,
    EndScene,
    Experiment,
    ExperimentSource,
    GameScene,
    Scene,
)
from igym_core.envcheck import check_environments
from igym_core.options import check_matchmaker_options
from igym_core.plugins import PluginManager
from igym_core.specs import EnvironmentSpec

__all__ = [
    "ConfigError",
    "Experiment",
    "check_plugins",
    "load_experiment",
    "plugins_for",
    "scene_for_client",
]


def load_experiment(path: str | Path) -> Experiment:
    """Run an experiment file and return the :class:`Experiment` it defines.

    The file defines a module-level ``experiment`` (or exactly one ``Experiment`` under any
    name). Configuration mistakes raise :class:`ConfigError` naming the file and the field.
    The experiment's ``source`` is the file and the SHA-256 of the bytes that were run.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such experiment file")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    try:
        namespace = runpy.run_path(str(path), run_name="__igym_experiment__")
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{path}: {type(exc).__name__}: {exc}") from None
    found = namespace.get("experiment")
    if not isinstance(found, Experiment):
        candidates = [v for v in namespace.values() if isinstance(v, Experiment)]
        if len(candidates) != 1:
            raise ConfigError(
                f"{path}: define one Experiment as the module-level name 'experiment' "
                f"(found {len(candidates)})"
            )
        found = candidates[0]
    return attrs.evolve(found, source=ExperimentSource(str(path.resolve()), digest))


def scene_for_client(scene: Scene, participant_id: str) -> dict:
    """What the participant page needs to show ``scene`` to ``participant_id``."""
    data = scene.to_client()
    data["redirect_url"] = (
        scene.redirect_for(participant_id) if isinstance(scene, EndScene) else None
    )
    return data


class _ExperimentEnvironments:
    """The experiment file's own ``environments``, as a plugin like any other."""

    def __init__(self, experiment: Experiment) -> None:
        self.specs = list(experiment.environments)

    @hookimpl
    def igym_environments(self) -> list[EnvironmentSpec]:
        return self.specs


def plugins_for(experiment: Experiment, plugins: PluginManager | None = None) -> PluginManager:
    """``plugins`` (a new :class:`PluginManager` when None) with the experiment's own
    ``environments`` registered as the plugin ``experiment:<id>``."""
    plugins = plugins or PluginManager()
    name = f"experiment:{experiment.id}"
    if plugins.pm.get_plugin(name) is not None:
        plugins.unregister(name)
    if experiment.environments:
        plugins.register(_ExperimentEnvironments(experiment), name=name)
    return plugins


def check_plugins(experiment: Experiment, plugins: PluginManager) -> None:
    """Check what only the installed plugins can tell: environments, agents, policies, keys,
    env and policy kwargs, browser packages (:func:`igym_core.envcheck.check_environments`),
    and matchmaker options (:func:`igym_core.options.check_matchmaker_options`).

    Raises :class:`ConfigError` naming the scene and field.
    """
    for scene in experiment.scenes:
        if not isinstance(scene, GameScene):
            continue
        where = f"GameScene({scene.id!r})"
        spec = plugins.environments.get(scene.env)
        if spec is None:
            known = ", ".join(sorted(plugins.environments)) or "none installed"
            raise ConfigError(f"{where}.env: no plugin provides {scene.env!r} (known: {known})")
        if set(scene.seats) != set(spec.agent_ids):
            raise ConfigError(
                f"{where}.seats must name exactly the agents {list(spec.agent_ids)}, "
                f"got {list(scene.seats)}"
            )
        policies = {p.name for p in spec.policies}
        for agent, seat in scene.seats.items():
            if seat.kind == "policy" and seat.policy not in policies:
                raise ConfigError(
                    f"{where}.seats[{agent!r}]: {scene.env!r} offers no policy {seat.policy!r} "
                    f"(offers: {', '.join(sorted(policies)) or 'none'})"
                )
        if scene.multiplayer and scene.matchmaker not in plugins.matchmakers:
            known = ", ".join(sorted(plugins.matchmakers)) or "none installed"
            raise ConfigError(
                f"{where}.matchmaker: no plugin provides {scene.matchmaker!r} (known: {known})"
            )
        if scene.default_action is not None and scene.default_action not in spec.action_labels:
            raise ConfigError(
                f"{where}.default_action {scene.default_action!r} is not an action of "
                f"{scene.env!r} {sorted(spec.action_labels)}"
            )
        for key, action in (scene.key_bindings or {}).items():
            if action not in spec.action_labels:
                raise ConfigError(
                    f"{where}.key_bindings[{key!r}] = {action!r} is not an action of {scene.env!r}"
                )
    check_environments(experiment, plugins)
    check_matchmaker_options(experiment, plugins)
