"""The app factory: one call builds a complete, independent igym server."""

from __future__ import annotations

from quart import Quart, Response
from quart_schema import QuartSchema

from igym_core.config import Experiment
from igym_core.experiment import check_plugins
from igym_core.plugins import PluginManager
from igym_core.server.games import GameService
from igym_core.server.packages import Bundles
from igym_core.server.participants import ParticipantService
from igym_core.server.routes import participant_blueprint
from igym_core.server.state import ServerState
from igym_core.settings import Settings
from igym_core.storage.store import Store

# Pyodide needs cross-origin isolation for precise timers and SharedArrayBuffer.
ISOLATION_HEADERS = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
    "Cross-Origin-Resource-Policy": "same-origin",
}


def create_app(
    experiment: Experiment,
    settings: Settings | None = None,
    *,
    plugins: PluginManager | None = None,
) -> Quart:
    """Build a Quart app hosting ``experiment``; its store lives under ``settings.data_dir``."""
    settings = settings or Settings()
    plugins = plugins or PluginManager()
    app = Quart("igym_core.server")
    QuartSchema(
        app,
        openapi_path=None,
        redoc_ui_path=None,
        scalar_ui_path=None,
        swagger_ui_path=None,
        conversion_preference="msgspec",
    )
    check_plugins(experiment, plugins)
    store = Store(settings.store_path(experiment.id), experiment.id)
    bundles = Bundles()
    games = GameService(store, plugins, bundles, experiment.id)
    app.extensions["igym"] = ServerState(
        experiment=experiment,
        settings=settings,
        plugins=plugins,
        store=store,
        bundles=bundles,
        games=games,
        participants=ParticipantService(experiment, store, plugins, settings, games),
    )
    app.register_blueprint(participant_blueprint)
    _register_assets(app)

    @app.after_request
    async def isolate(response: Response) -> Response:
        for name, value in ISOLATION_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    @app.after_serving
    async def close_store() -> None:
        store.close()

    return app


def _register_assets(app: Quart) -> None:
    from igym_core.server import assets

    app.register_blueprint(assets.assets_blueprint)
