"""The participant websocket's messages, both directions, as attrs classes.

Incoming text is checked in three steps, each with its own error code: size (``too_large``),
JSON (``not_json``), then the schema of its ``type`` through quart-schema (``unknown_type`` or
``invalid``). See ``client/src/connection.js`` for the other end.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable
from typing import Any, Literal

import attrs
import msgspec
from quart_schema.conversion import model_load

from igym_core.server.authoritative.protocol import (
    SERVER_INCOMING,
    ServerDrawn,
    ServerEpisode,
    ServerFrame,
    ServerGameEnd,
    ServerInput,
    ServerReady,
)
from igym_core.server.protocol_lobby import (
    LOBBY_INCOMING,
    LobbyJoin,
    LobbyLeave,
    LobbyStatus,
    LobbyTimeout,
    MatchEnded,
    MatchFound,
    MatchStart,
    Parity,
    PauseReport,
    PeerLinkReset,
    Probe,
    Reconnect,
    Relay,
    Relayed,
    Requeued,
    Signal,
    SignalRelay,
)

Answer = str | int | float | bool | list[str] | None


class ProtocolError(Exception):
    """A message that cannot be accepted; ``code`` is stable, ``message`` is for humans."""

    def __init__(
        self,
        code: str,
        message: str,
        seq: int | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.seq = seq
        self.detail = detail

    def with_seq(self, seq: int | None) -> ProtocolError:
        """The same error, answering message ``seq``."""
        return ProtocolError(self.code, self.message, seq, self.detail)


#: the largest ``seq`` a page may use: integers a browser counts exactly (2**53 - 1)
MAX_SEQ = 2**53 - 1


class _Invalid(Exception):
    """What quart-schema raises for a message that does not fit its class."""


# -- client → server ----------------------------------------------------------------------------


@attrs.define
class Hello:
    """First message on every connection: who the participant is."""

    type: Literal["hello"]
    params: dict[str, str] = attrs.field(factory=dict)
    participant_id: str | None = None
    token: str | None = None


@attrs.define
class Submit:
    """The participant pressed continue on ``scene_id`` with these answers."""

    type: Literal["submit"]
    token: str
    seq: int
    scene_id: str
    responses: dict[str, Answer] = attrs.field(factory=dict)


@attrs.define
class Event:
    """Something the page wants logged (visibility change, client error...)."""

    type: Literal["event"]
    token: str
    seq: int
    name: str
    data: dict[str, Any] = attrs.field(factory=dict)


@attrs.define
class Ping:
    type: Literal["ping"]
    t: float


@attrs.define
class Bye:
    """The page is going away (``pagehide``: its tab closes, it navigates elsewhere or
    reloads). Sent just before the socket closes: the participant left, at once, unless the
    page was requested again first (a reload: then a hello must follow within
    ``Settings.left_grace_s``). No token needed: it speaks only for its own connection."""

    type: Literal["bye"]
    reason: str = "pagehide"


#: one latency-telemetry sample: ``(t, metric, value)``; ``t`` in seconds (Unix time, the
#: page's clock), ``value`` a number or a short text (e.g. the candidate pair type)
TelemetrySample = tuple[float, str, float | str | None]


@attrs.define
class Telemetry:
    """A chunk of an episode's telemetry samples (about 1 Hz per metric, see
    ``client/src/game/net-telemetry.js``), acked like frames and stored once each."""

    type: Literal["telemetry"]
    token: str
    seq: int
    scene_id: str
    episode: int
    samples: list[TelemetrySample]


@attrs.define
class EpisodeStart:
    """The page is about to play ``episode`` (0-based) of game scene ``scene_id``."""

    type: Literal["episode_start"]
    token: str
    seq: int
    scene_id: str
    episode: int


@attrs.define
class FrameRecord:
    """One stepped frame. ``focused`` is the participant's focus (single player) or every
    human agent's (multiplayer: agent id → bool, None for AI seats); ``state_hash`` is the
    canonical hash of the state after the frame when the page took one. ``t`` holds the latency timestamps in ms of the page's clock:
    ``key`` (the input's key event, when there was one), ``tick``, ``step`` and ``drawn``."""

    frame: int
    actions: dict[str, int]
    rewards: dict[str, float]
    terminated: bool
    truncated: bool
    focused: bool | dict[str, bool | None]
    infos: dict[str, str | int | float | bool | None] = attrs.field(factory=dict)
    t: dict[str, float | None] = attrs.field(factory=dict)
    state_hash: str | None = None


@attrs.define
class Frames:
    """A chunk of an episode's frame records, in order."""

    type: Literal["frames"]
    token: str
    seq: int
    scene_id: str
    episode: int
    records: list[FrameRecord]


@attrs.define
class EpisodeEnd:
    """The page finished (or gave up on: ``partial``) an episode after ``frames`` frames."""

    type: Literal["episode_end"]
    token: str
    seq: int
    scene_id: str
    episode: int
    frames: int
    partial: bool = False
    summary: dict[str, str | int | float | bool | None] = attrs.field(factory=dict)


@attrs.define
class ScreeningReport:
    """What the page says about its browser when the server asks (``screen``), before the
    first scene. Every field is optional; sizes are bounded by ``Limits.report_*``."""

    user_agent: str | None = None
    ua_mobile: bool | None = None
    touch: bool | None = None
    max_touch_points: int | None = None
    screen_width: int | None = None
    screen_height: int | None = None
    window_width: int | None = None
    window_height: int | None = None
    pixel_ratio: float | None = None


@attrs.define
class Screening:
    """The answer to ``screen`` (fire and forget: seq 0; a reconnect asks again)."""

    type: Literal["screening"]
    token: str
    seq: int
    report: ScreeningReport


@attrs.define
class ProbePong:
    """The page's echo of a ``probe_ping`` (the server measures the round trip)."""

    type: Literal["probe_pong"]
    id: int


@attrs.define
class Monitor:
    """Where a game scene is, as the page sees it (fire and forget, about once a second and at
    once when the page is hidden or shown): for the monitoring rules."""

    type: Literal["monitor"]
    token: str
    seq: int
    scene_id: str
    episode: int = -1
    frame: int = 0
    playing: bool = False
    hidden: bool = False
    inputs: int = 0


@attrs.define
class FocusPeriodMessage:
    """A focus-loss period of a game scene (number ``period``), sent when it begins and again
    when it ends (``end_frame``, ``end_ms``). Times in ms on the page's clock."""

    type: Literal["focus_period"]
    token: str
    seq: int
    scene_id: str
    period: int
    episode: int | None = None
    start_frame: int | None = None
    end_frame: int | None = None
    start_ms: float | None = None
    end_ms: float | None = None


INCOMING: dict[str, type] = {
    "screening": Screening,
    "probe_pong": ProbePong,
    "monitor": Monitor,
    "focus_period": FocusPeriodMessage,
    "hello": Hello,
    "submit": Submit,
    "event": Event,
    "ping": Ping,
    "episode_start": EpisodeStart,
    "frames": Frames,
    "episode_end": EpisodeEnd,
    "bye": Bye,
    "telemetry": Telemetry,
}
INCOMING.update(LOBBY_INCOMING)
INCOMING.update(SERVER_INCOMING)  # server-authoritative scenes (igym_core.server.authoritative)
Incoming = (
    Hello
    | Screening
    | ProbePong
    | Monitor
    | FocusPeriodMessage
    | Submit
    | Event
    | Ping
    | EpisodeStart
    | Frames
    | EpisodeEnd
    | Bye
    | Telemetry
    | LobbyJoin
    | LobbyLeave
    | Signal
    | Probe
    | Relay
    | PauseReport
    | Reconnect
    | ServerInput
    | ServerReady
    | ServerDrawn
)


# -- server → client ----------------------------------------------------------------------------


@attrs.define
class Welcome:
    experiment_id: str
    participant_id: str
    token: str
    resumed: bool
    type: Literal["welcome"] = "welcome"


@attrs.define
class SceneMessage:
    index: int
    count: int
    scene: dict[str, Any]
    type: Literal["scene"] = "scene"


@attrs.define
class Ack:
    seq: int
    type: Literal["ack"] = "ack"


@attrs.define
class Error:
    """``detail``: more for the page, e.g. an ``excluded`` error's ``redirect_url`` and
    ``completion_code``."""

    code: str
    message: str
    seq: int | None = None
    detail: dict[str, Any] | None = None
    type: Literal["error"] = "error"


@attrs.define
class Screen:
    """Before the first scene: report the browser (``screening``); ``probe_ping`` follow."""

    type: Literal["screen"] = "screen"


@attrs.define
class ProbePing:
    """Answer at once with ``probe_pong`` and the same ``id``."""

    id: int
    type: Literal["probe_ping"] = "probe_ping"


@attrs.define
class Excluded:
    """This participant was excluded now (a rule, or the researcher): show ``message`` (and
    the redirect link or the completion code) once what was recorded is sent. In a
    peer-to-peer game, episode ``end_episode`` ends after ``end_frame`` frames for every member
    of the match: the page's game plays on to it behind the message, its inputs idle, and its
    records end there like its partners'."""

    message: str
    redirect_url: str | None = None
    completion_code: str | None = None
    end_frame: int | None = None
    end_episode: int | None = None
    type: Literal["excluded"] = "excluded"


@attrs.define
class WarningMessage:
    """A monitoring rule warns the participant: show ``message`` in a banner."""

    rule: str
    message: str
    type: Literal["warning"] = "warning"


@attrs.define
class Pong:
    t: float
    type: Literal["pong"] = "pong"


@attrs.frozen
class Later:
    """Not a message: replies that come once ``replies`` is done (a chunk's ack, once its write
    is stored). The connection reads on meanwhile; what the write waits for was queued in
    the order the messages came, so a later message's write still comes after it."""

    replies: Awaitable[list[Any]]


Outgoing = (
    Welcome
    | SceneMessage
    | Ack
    | Error
    | Screen
    | ProbePing
    | Excluded
    | WarningMessage
    | Pong
    | LobbyStatus
    | MatchFound
    | SignalRelay
    | Relayed
    | MatchStart
    | Requeued
    | MatchEnded
    | LobbyTimeout
    | Parity
    | PeerLinkReset
    | ServerEpisode
    | ServerFrame
    | ServerGameEnd
)


#: the parser of every message (msgspec's: several times faster than the standard one)
_JSON = msgspec.json.Decoder()
#: and the writer of every reply (attrs classes as objects, fields in their order)
_ENCODE = msgspec.json.Encoder().encode


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def peek_seq(raw: str | bytes) -> int | None:
    """The ``seq`` of a message without parsing it (for refusing one before it is read)."""
    if not isinstance(raw, str):
        return None
    at = raw.rfind('"seq":')
    if at < 0:
        return None
    digits = raw[at + 6 : at + 30].lstrip()
    end = 0
    while end < len(digits) and digits[end].isdigit():
        end += 1
    seq = int(digits[:end]) if 0 < end <= 16 else None
    return seq if seq is not None and seq <= MAX_SEQ else None


def decode(raw: str | bytes, max_bytes: int) -> Incoming:
    """Parse one websocket frame into a message, or raise :class:`ProtocolError`."""
    size = len(raw) if isinstance(raw, bytes) else len(raw.encode("utf-8"))
    if size > max_bytes:
        raise ProtocolError(
            "too_large", f"message of {size} bytes is over the {max_bytes}-byte limit"
        )
    if isinstance(raw, bytes):
        raise ProtocolError("not_json", "binary frames are not accepted; send JSON text")
    try:
        data = _JSON.decode(raw)
        checked = True  # msgspec takes no lone surrogate, no NaN, nothing out of range
    except (msgspec.DecodeError, RecursionError):
        # rare: the standard parser says what is wrong in words a developer knows
        try:
            data = json.loads(raw, parse_constant=_no_constant)
        except (ValueError, RecursionError) as exc:
            raise ProtocolError("not_json", f"message is not JSON: {exc}") from None
        checked = False
    if not isinstance(data, dict):
        raise ProtocolError("invalid", f"message must be a JSON object, got {type(data).__name__}")
    seq = data.get("seq")
    if isinstance(seq, int) and not isinstance(seq, bool) and not 0 <= seq <= MAX_SEQ:
        raise ProtocolError("invalid", f"seq must be an integer in 0..{MAX_SEQ}, got {seq}")
    seq = seq if isinstance(seq, int) else None
    if not checked and "\\u" in raw:  # escapes may hide lone surrogates, which are not text
        try:
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise ProtocolError(
                "invalid",
                "message holds a lone UTF-16 surrogate (an escape like \\ud800): not valid text",
                seq,
            ) from None
    kind = data.get("type")
    cls = INCOMING.get(kind) if isinstance(kind, str) else None
    if cls is None:
        known = ", ".join(INCOMING)
        raise ProtocolError("unknown_type", f"unknown message type {kind!r} (known: {known})", seq)
    try:
        return model_load(data, cls, _Invalid, preference="msgspec")
    except _Invalid as exc:
        cause = exc.args[0] if exc.args else exc
        raise ProtocolError("invalid", f"bad {kind!r} message: {cause}", seq) from None


def encode(message: Outgoing) -> str:
    return _ENCODE(message).decode()
