"""Everything a running igym server holds, created by the app factory (no module-level state)."""

from __future__ import annotations

import mimetypes
from importlib import resources
from pathlib import Path
from typing import Any

import attrs
from quart import current_app

from igym_core.config import Experiment
from igym_core.plugins import PluginManager
from igym_core.server.exclusion import Exclusions
from igym_core.server.games import GameService
from igym_core.server.packages import Bundles
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
    bundles: Bundles
    games: GameService
    participants: ParticipantService
    #: the lobby's front: LocalLobby, or SharedLobby when several processes share it
    lobby: Any
    exclusions: Exclusions
    _assets: dict[str, dict[str, tuple[bytes, str]]] = attrs.field(factory=dict)

    @property
    def static_dir(self) -> Path:
        return self.settings.static_dir or STATIC_DIR

    def assets(self, env: str) -> dict[str, tuple[bytes, str]]:
        """An environment's assets by file name: ``(bytes, mime type)``."""
        if env not in self._assets:
            spec = self.plugins.environments.get(env)
            found: dict[str, tuple[bytes, str]] = {}
            for ref in spec.assets if spec else ():
                package, _, path = ref.partition(":")
                resource = resources.files(package).joinpath(path)
                mimetype = mimetypes.guess_type(path)[0] or "application/octet-stream"
                found[Path(path).name] = (resource.read_bytes(), mimetype)
            self._assets[env] = found
        return self._assets[env]


def igym_state() -> ServerState:
    return current_app.extensions["igym"]
