"""The app factory: one call builds a complete, independent igym server."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from quart import Quart, Response
from quart_schema import QuartSchema

from igym_core import browser, provenance
from igym_core.config import ConfigError, Experiment, GameScene
from igym_core.experiment import check_plugins, plugins_for
from igym_core.plugins import PluginManager
from igym_core.rules import RuleBook
from igym_core.server import memory
from igym_core.server.admin.controls import StudyGate
from igym_core.server.admin.routes import install_admin
from igym_core.server.authoritative.service import ServerGames
from igym_core.server.exclusion import Exclusions
from igym_core.server.games import GameService
from igym_core.server.gate import Gate
from igym_core.server.lobby.lobby import Lobby
from igym_core.server.lobby.local import LocalLobby
from igym_core.server.monitoring import TICK_S
from igym_core.server.packages import Bundles
from igym_core.server.participants import ParticipantService
from igym_core.server.routes import participant_blueprint
from igym_core.server.socket import BoundedWebsocketConnection
from igym_core.server.state import ServerState
from igym_core.settings import Settings
from igym_core.storage.store import Store
from igym_core.watch import watch_plugins

log = logging.getLogger("igym.server")

# Pyodide needs cross-origin isolation for precise timers and SharedArrayBuffer.
ISOLATION_HEADERS = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
    "Cross-Origin-Resource-Policy": "same-origin",
}
#: on every response: no content sniffing, no referrer to other sites
SAFETY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def create_app(
    experiment: Experiment,
    settings: Settings | None = None,
    *,
    plugins: PluginManager | None = None,
) -> Quart:
    """Build a Quart app hosting ``experiment``; its store lives under ``settings.data_dir``."""
    settings = settings or Settings()
    plugins = plugins_for(experiment, plugins)  # installed plugins + the file's own envs
    app = Quart("igym_core.server", static_folder=None)
    app.asgi_websocket_class = BoundedWebsocketConnection
    # no redirects for "//x" or a missing trailing slash: werkzeug would build their Location
    # from the request's Host header
    app.url_map.merge_slashes = False
    app.url_map.strict_slashes = False
    QuartSchema(
        app,
        openapi_path=None,
        redoc_ui_path=None,
        scalar_ui_path=None,
        swagger_ui_path=None,
        conversion_preference="msgspec",
    )
    check_plugins(experiment, plugins)
    _check_shared(experiment, settings)
    store = Store(
        settings.store_target(experiment.id),
        experiment.id,
        write_timeout_s=settings.store_write_timeout_s,
    )
    provenance.record(store, experiment, plugins, time.time())  # what produces the data
    bundles = Bundles()
    games = GameService(store, plugins, bundles, experiment.id, limits=settings.limits)
    study = StudyGate.load(store)
    rules = RuleBook(experiment, plugins)  # checked by check_plugins: builds
    exclusions = Exclusions(experiment, store, plugins)
    participants = ParticipantService(
        experiment,
        store,
        plugins,
        settings,
        games,
        admission=study.admit,
        rules=rules,
        exclusions=exclusions,
    )
    lobby = Lobby(
        experiment,
        plugins,
        store,
        participants.send_to,
        settings.assignment_log(experiment.id),
        settings.ice_servers,
        disconnect_grace_s=settings.disconnect_grace_s,
        left_grace_s=settings.left_grace_s,
        last_heard=participants.last_heard,
        max_pause_reports=settings.limits.pause_reports,
    )
    front = _lobby_front(experiment, settings, lobby, participants)
    participants.lobby = front
    exclusions.participants = participants
    exclusions.lobby = front
    lobby.position_of = participants.monitoring.position_of
    games.ended_by = exclusions.ended_game
    games.match_of = front.match_of
    games.on_episode_closed = front.episode_closed
    server_games = ServerGames(  # server-authoritative scenes (mode="server")
        experiment,
        store,
        plugins,
        participants.send_to,
        games.play_description,
        threads=settings.server_game_threads,
    )
    participants.server_games = server_games
    lobby.on_server_match = server_games.start
    lobby.on_match_ended = server_games.stop
    server_games.on_error = lobby.server_game_over
    app.extensions["igym"] = ServerState(
        experiment=experiment,
        settings=settings,
        plugins=plugins,
        store=store,
        bundles=bundles,
        games=games,
        participants=participants,
        lobby=front,
        exclusions=exclusions,
    )
    app.register_blueprint(participant_blueprint)
    _register_assets(app)
    install_admin(app, study)
    app.asgi_app = Gate(  # type: ignore[method-assign]
        app.asgi_app,
        path="/ws",
        limits=settings.limits,
        allowed_origins=settings.public_origins,
        trusted_proxies=settings.trusted_proxies,
        admit=participants.admit,
    )

    @app.after_request
    async def isolate(response: Response) -> Response:
        for name, value in (*ISOLATION_HEADERS.items(), *SAFETY_HEADERS.items()):
            response.headers.setdefault(name, value)
        return response

    timers: list[asyncio.Task] = []

    @app.before_serving
    async def start_timers() -> None:
        await front.start()
        timers.append(asyncio.ensure_future(_every_async(TICK_S, participants.monitoring.tick)))
        if rules.entry:
            await asyncio.to_thread(browser.warm_up)
        # the browsers' package bundles are made now, not while the first player waits
        await asyncio.to_thread(games.prepare, experiment)
        # malloc_trim walks the whole heap (5-20 ms): in a thread, it does not hold the loop
        timers.append(asyncio.ensure_future(_every_in_thread(memory.TRIM_EVERY_S, memory.trim)))
        timers.append(asyncio.ensure_future(watch_plugins(settings.plugin_check_s)))

    @app.after_serving
    async def close_store() -> None:
        for task in timers:
            task.cancel()
        await front.stop()
        server_games.close()
        exclusions.close()
        await asyncio.to_thread(store.close)

    return app


def _lobby_front(
    experiment: Experiment, settings: Settings, engine: Lobby, participants: ParticipantService
) -> Any:
    """This process's own lobby, or the one shared through Redis (``Settings.redis``)."""
    if not settings.redis:
        return LocalLobby(
            engine, participants.send_to, participants.end_connection, lambda: participants.live
        )
    from igym_core.server.lobby.shared import SharedLobby

    return SharedLobby(engine, settings.redis, participants.send_to, participants.end_connection)


def _check_shared(experiment: Experiment, settings: Settings) -> None:
    """What a lobby shared between processes (``Settings.redis``) needs."""
    if not settings.redis:
        return
    if not settings.database:
        raise ConfigError(
            "Settings.redis: a lobby shared between processes needs the study's store shared "
            "too (Settings.database, a postgresql:// URL)"
        )
    served = [s.id for s in experiment.scenes if isinstance(s, GameScene) and s.server_mode]
    if served:
        raise ConfigError(
            f"Settings.redis: scene {served[0]!r} is played on the server (mode='server'), which "
            "one process serves; host it without --redis"
        )


async def _every_in_thread(seconds: float, function: Callable[[], Any]) -> None:
    while True:
        await asyncio.sleep(seconds)
        try:
            await asyncio.to_thread(function)
        except Exception:
            log.exception("periodic %s failed", getattr(function, "__name__", function))


async def _every_async(seconds: float, function: Callable[[], Any]) -> None:
    while True:
        await asyncio.sleep(seconds)
        try:
            await function()
        except Exception:
            log.exception("periodic %s failed", getattr(function, "__name__", function))


def _register_assets(app: Quart) -> None:
    from igym_core.server import assets

    app.register_blueprint(assets.assets_blueprint)
