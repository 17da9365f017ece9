"""Which software produced a study's data: igym's version, every plugin's distribution and
version, and the experiment (its file's hash and a digest of its configuration).

The server records it when it starts, appending a record to the store only when it differs from
the last one (:meth:`~igym_core.storage.store.Store.add_provenance`), so a study's
``provenance`` table lists every combination its data was collected with, each from the moment
it was first used. The built-in exporters write it like every other table.
"""

from __future__ import annotations

import hashlib
import platform
from typing import TYPE_CHECKING, Any

import igym_core

if TYPE_CHECKING:
    from igym_core.config import Experiment
    from igym_core.plugins import PluginManager
    from igym_core.storage.store import Store


def config_digest(experiment: Experiment) -> str:
    """A digest of the experiment's configuration as loaded (every scene and field), so the
    same file run with other defaults, or an experiment built in code, is told apart."""
    return hashlib.sha256(repr(experiment).encode()).hexdigest()


def current(experiment: Experiment, plugins: PluginManager) -> dict[str, Any]:
    """The provenance now, as plain data (a :class:`igym_core.ProvenanceRow` without its id)."""
    source = experiment.source
    return {
        "igym_version": igym_core.__version__,
        "python_version": platform.python_version(),
        "experiment_file": source.path if source else None,
        "experiment_sha256": source.sha256 if source else None,
        "config_sha256": config_digest(experiment),
        "plugins": {
            info.name: {"distribution": info.distribution, "version": info.version}
            for info in plugins.describe()
            if info.distribution is not None
        },
    }


def record(store: Store, experiment: Experiment, plugins: PluginManager, now: float) -> bool:
    """Append the provenance now to the store unless it is what was recorded last; True when
    it was appended."""
    return bool(store.add_provenance(current(experiment, plugins), now).result())
