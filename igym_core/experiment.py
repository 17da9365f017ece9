"""Loading an experiment file, and the stager that walks a participant through its scenes."""

from __future__ import annotations

import runpy
from pathlib import Path

from igym_core.config import ConfigError, EndScene, Experiment, Scene

__all__ = ["ConfigError", "Experiment", "load_experiment", "scene_for_client"]


def load_experiment(path: str | Path) -> Experiment:
    """Run an experiment file and return the :class:`Experiment` it defines.

    The file defines a module-level ``experiment`` (or exactly one ``Experiment`` under any
    name). Configuration mistakes raise :class:`ConfigError` naming the file and the field.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such experiment file")
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
    return found


def scene_for_client(scene: Scene, participant_id: str) -> dict:
    """What the participant page needs to show ``scene`` to ``participant_id``."""
    data = scene.to_client()
    data["redirect_url"] = (
        scene.redirect_for(participant_id) if isinstance(scene, EndScene) else None
    )
    return data
