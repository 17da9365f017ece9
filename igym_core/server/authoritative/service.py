"""All server-authoritative games of one server: started when the lobby creates a server-mode
match, fed by their members' messages, stopped when the match ends or the server stops.

Many games run at once, each its own asyncio task; their CPU work shares one thread pool
(``Settings.server_game_threads``), so the event loop keeps serving websockets while games
step.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from igym_core.config import Experiment, GameScene
from igym_core.plugins import PluginManager
from igym_core.server.authoritative.game import Send, ServerGame
from igym_core.server.authoritative.protocol import (
    MAX_DRAWN_PER_MESSAGE,
    ServerDrawn,
    ServerInput,
    ServerReady,
)
from igym_core.server.protocol import ProtocolError
from igym_core.storage.store import Store

log = logging.getLogger("igym.server_game")

#: games that finished stay this many (for a late message) before they are forgotten
KEEP_FINISHED = 256


class ServerGames:
    def __init__(
        self,
        experiment: Experiment,
        store: Store,
        plugins: PluginManager,
        send: Send,
        describe: Callable[[GameScene], dict[str, Any]],
        threads: int = 8,
    ) -> None:
        self.experiment = experiment
        self.store = store
        self.plugins = plugins
        self.send = send
        self.describe = describe
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="igym-game")
        self.games: dict[str, ServerGame] = {}
        self._finished: list[str] = []
        #: set by the app: a game stopped on its own (its env raised), so its match ends
        self.on_error: Callable[[str, str, str], None] = lambda *args: None

    # -- from the lobby ------------------------------------------------------------------------

    def start(self, match_id: str, scene: GameScene, members: dict[str, str]) -> ServerGame:
        """A server-mode match was made: ``members`` maps participant ids to their agent."""
        game = ServerGame(
            match_id=match_id,
            scene=scene,
            description=self.describe(scene),
            members=members,
            store=self.store,
            plugins=self.plugins,
            send=self.send,
            executor=self.executor,
            experiment_id=self.experiment.id,
            on_error=lambda *args: self.on_error(*args),
        )
        self.games[match_id] = game
        game.task = asyncio.ensure_future(game.run())
        game.task.add_done_callback(lambda _task: self._finished_game(match_id))
        return game

    def stop(self, match_id: str, reason: str) -> None:
        game = self.games.get(match_id)
        if game is not None:
            game.stop(reason)

    def close(self) -> None:
        """The server stops: every game ends (its open episode is left to the store's
        interrupted/partial bookkeeping)."""
        for game in self.games.values():
            game.stop("server_stopped")
        self.executor.shutdown(wait=False, cancel_futures=True)

    def _finished_game(self, match_id: str) -> None:
        self._finished.append(match_id)
        while len(self._finished) > KEEP_FINISHED:
            self.games.pop(self._finished.pop(0), None)

    # -- from the members' pages -----------------------------------------------------------------

    def handle(self, participant_id: str, message: ServerInput | ServerReady | ServerDrawn) -> None:
        game = self.games.get(message.match_id)
        if game is None or participant_id not in game.members:
            raise ProtocolError(
                "invalid", f"you are not in a server game {message.match_id!r}", message.seq
            )
        if game.ended is not None and not isinstance(message, ServerDrawn):
            return  # late: the game is over
        if isinstance(message, ServerInput):
            if message.kind in ("down", "up") and message.action not in game.actions:
                raise ProtocolError(
                    "invalid",
                    f"action {message.action!r} is not one of {sorted(game.actions)}",
                    message.seq,
                )
            game.input(
                participant_id,
                message.kind,
                message.action,
                message.t,
                message.focused,
                message.now,
            )
        elif isinstance(message, ServerReady):
            game.ready(participant_id, message.now)
        else:
            if len(message.frames) > MAX_DRAWN_PER_MESSAGE:
                raise ProtocolError(
                    "invalid",
                    f"at most {MAX_DRAWN_PER_MESSAGE} drawn frames per message",
                    message.seq,
                )
            game.drawn(participant_id, message.episode, message.frames, message.now)
