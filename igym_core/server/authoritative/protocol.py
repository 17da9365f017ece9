"""Websocket messages of server-authoritative scenes, both directions (see
``client/src/game/server-game-scene.js`` for the other end).

The page sends its key events as they happen (``server_input``, fire and forget: seq 0, no ack,
no database), says when it is ready to draw (``server_ready``) and, every half second, when it
drew which frames (``server_drawn``): the server stores every frame record with the page's
``t.key`` and ``t.drawn``, so input-to-drawn latency is measured on the page's own clock. Every
message carries ``now``, the page's ``performance.now()`` when it was sent, from which the
server learns how its clock maps onto the page's (``t.tick`` and ``t.step`` of the records).
"""

from __future__ import annotations

from typing import Any, Literal

import attrs

MAX_DRAWN_PER_MESSAGE = 600

# -- client → server ----------------------------------------------------------------------------


@attrs.define
class ServerInput:
    """A key event (``down``/``up`` with the action and the key event's time ``t``), all keys
    released (``clear``), or the tab's focus (``focus`` with ``focused``)."""

    type: Literal["server_input"]
    token: str
    seq: int
    match_id: str
    kind: Literal["down", "up", "clear", "focus"]
    now: float
    action: int | None = None
    t: float | None = None
    focused: bool | None = None


@attrs.define
class ServerReady:
    """The page can draw the game (its atlases are loaded): the first episode may start, or,
    after a reload, the episode being played is shown again."""

    type: Literal["server_ready"]
    token: str
    seq: int
    match_id: str
    now: float


@attrs.define
class ServerDrawn:
    """When the page drew frames of ``episode``: ``[[frame, t_drawn or null], ...]``."""

    type: Literal["server_drawn"]
    token: str
    seq: int
    match_id: str
    episode: int
    now: float
    frames: list[list[float | None]] = attrs.field(factory=list)


SERVER_INCOMING: dict[str, type] = {
    "server_input": ServerInput,
    "server_ready": ServerReady,
    "server_drawn": ServerDrawn,
}

# -- server → client ----------------------------------------------------------------------------


@attrs.define
class ServerEpisode:
    """Episode ``episode`` starts in ``countdown_ms`` (0: it is already being played, shown
    again after a reload); ``frame`` is what to draw under the countdown."""

    match_id: str
    episode: int
    countdown_ms: int
    frame: dict[str, Any]
    type: Literal["server_episode"] = "server_episode"


@attrs.define
class ServerFrame:
    """The game advanced: ``frame`` holds the draw objects (``render``) or an encoded image
    (``image``: format, base64 data, width, height), the HUD (``hud``, ``scores`` by agent)
    and ``keys``: each human agent's key event time (page clock) of the input this frame
    applied. ``frames`` is how many frames the episode has now; ``done`` ends it."""

    match_id: str
    episode: int
    frames: int
    frame: dict[str, Any]
    keys: dict[str, float | None]
    done: bool
    type: Literal["server_frame"] = "server_frame"


@attrs.define
class ServerGameEnd:
    """The game is over: ``completed`` (every episode played), or ``error`` (the environment
    raised: ``message`` says what), or ``stopped`` (the match ended)."""

    match_id: str
    reason: str
    message: str
    type: Literal["server_game_end"] = "server_game_end"


SERVER_OUTGOING = (ServerEpisode, ServerFrame, ServerGameEnd)
