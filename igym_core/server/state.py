"""Everything a running igym server holds, created by the app factory (no module-level state)."""

from __future__ import annotations

from pathlib import Path

import attrs
from quart import current_app

from igym_core.config import Experiment
from igym_core.plugins import PluginManager
from igym_core.server.participants import ParticipantService
from igym_core.settings import Settings
from igym_core.storage.store import Store

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"


@attrs.define
class ServerState:
    experiment: Experiment
    settings: Settings
    plugins: PluginManager
    store: Store
    participants: ParticipantService

    @property
    def static_dir(self) -> Path:
        return self.settings.static_dir or STATIC_DIR


def igym_state() -> ServerState:
    return current_app.extensions["igym"]
