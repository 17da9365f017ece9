"""Websocket messages of multiplayer scenes: waiting room, signaling, P2P validation, relay.

Same rules as :mod:`igym_core.server.protocol`: attrs classes validated with quart-schema.
"""

from __future__ import annotations

from typing import Any, Literal

import attrs

Scalar = str | int | float | bool | None

# -- client → server ----------------------------------------------------------------------------


@attrs.define
class LobbyJoin:
    """The page reached a multiplayer game scene and waits for partners."""

    type: Literal["lobby_join"]
    token: str
    seq: int
    scene_id: str
    attributes: dict[str, Scalar] = attrs.field(factory=dict)
    server_rtt_ms: float | None = None


@attrs.define
class LobbyLeave:
    type: Literal["lobby_leave"]
    token: str
    seq: int
    scene_id: str
    reason: str = "left"


@attrs.define
class Signal:
    """WebRTC signaling (offer, answer, ICE candidate...) for another member of a match."""

    type: Literal["signal"]
    token: str
    seq: int
    match_id: str
    to: str
    data: dict[str, Any]


@attrs.define
class Probe:
    """The result of the P2P check: data channel open (``ok``) and the median RTT of 5 pings."""

    type: Literal["probe"]
    token: str
    seq: int
    match_id: str
    ok: bool
    rtt_ms: float | None = None


@attrs.define
class Relay:
    """Game packets (base64) and small control messages for another member of a match, sent
    through the server while the peer-to-peer data channel stalls. Fire and forget (seq 0, no
    ack); only while the match is being played. Limits: ``MAX_RELAY_*`` in
    :mod:`igym_core.server.lobby.lobby` (16 packets of ≤ 2048 base64 characters, 4 controls of
    ≤ 1024 characters as JSON, at least one of either)."""

    type: Literal["relay"]
    token: str
    seq: int
    match_id: str
    to: str
    packets: list[str] = attrs.field(factory=list)
    controls: list[dict[str, Any]] = attrs.field(factory=list)


@attrs.define
class PauseReport:
    """The page's game paused (``paused``: the members ``waiting_for`` went silent), went on
    (``resumed``, after ``paused_ms``) or gave up waiting (``timeout``: the scene's reconnect
    timeout passed). The server decides from what it saw who disconnected and records it; a
    ``timeout`` ends the match for everyone (``reconnect_timeout:<who>``, or
    ``connection_lost`` when the server still hears every member)."""

    type: Literal["pause"]
    token: str
    seq: int
    match_id: str
    episode: int
    frame: int
    state: Literal["paused", "resumed", "timeout"]
    waiting_for: list[str] = attrs.field(factory=list)
    paused_ms: float | None = None


@attrs.define
class Reconnect:
    """Ask for a new peer connection to member ``to`` (ICE restart did not repair the one of
    generation ``gen``). Both members get a :class:`PeerLinkReset`; asking again for an old
    generation changes nothing. Fire and forget (seq 0)."""

    type: Literal["p2p_reconnect"]
    token: str
    seq: int
    match_id: str
    to: str
    gen: int


LOBBY_INCOMING: dict[str, type] = {
    "lobby_join": LobbyJoin,
    "lobby_leave": LobbyLeave,
    "signal": Signal,
    "probe": Probe,
    "relay": Relay,
    "pause": PauseReport,
    "p2p_reconnect": Reconnect,
}

# -- server → client ----------------------------------------------------------------------------


@attrs.define
class LobbyStatus:
    scene_id: str
    phase: str
    waiting: int | None
    type: Literal["lobby"] = "lobby"


@attrs.define
class MatchFound:
    """You were matched: connect to the other members (``you`` is your index in ``members``;
    the lower index makes the offer)."""

    match_id: str
    scene_id: str
    members: list[dict[str, Any]]
    you: int
    ice_servers: list[dict[str, Any]]
    max_p2p_rtt_ms: float | None
    seeds: list[int]
    type: Literal["match"] = "match"
    #: the generation of the peer connection to each other member (by alias): signals carry
    #: it, and a higher one replaces the connection (see :class:`PeerLinkReset`)
    links: dict[str, int] = attrs.field(factory=dict)


@attrs.define
class SignalRelay:
    match_id: str
    sender: str
    data: dict[str, Any]
    type: Literal["signal"] = "signal"


@attrs.define
class Relayed:
    """What another member of the match relayed to you (see :class:`Relay`)."""

    match_id: str
    sender: str
    packets: list[str]
    controls: list[dict[str, Any]]
    type: Literal["relay"] = "relay"


@attrs.define
class MatchStart:
    match_id: str
    type: Literal["match_start"] = "match_start"


@attrs.define
class Requeued:
    match_id: str
    reason: str
    type: Literal["requeued"] = "requeued"


@attrs.define
class MatchEnded:
    """The server ended the match. In a peer-to-peer game ended because a member was
    excluded, episode ``end_episode`` ends after ``end_frame`` frames for every member (the
    pages play on to it, close the episode there and then show ``message``; a page already
    past it ends where it is); ``completion_code``: a code to show
    (``GameScene.partner_excluded_code``)."""

    match_id: str
    reason: str
    message: str
    end_frame: int | None = None
    end_episode: int | None = None
    completion_code: str | None = None
    type: Literal["match_ended"] = "match_ended"


@attrs.define
class LobbyTimeout:
    scene_id: str
    message: str
    redirect_url: str | None
    type: Literal["lobby_timeout"] = "lobby_timeout"


@attrs.define
class Parity:
    """The server compared the members' canonical logs of one episode."""

    match_id: str
    episode: int
    status: str
    type: Literal["parity"] = "parity"


@attrs.define
class PeerLinkReset:
    """Make a new peer connection to member ``peer``, of generation ``gen`` (signals of older
    generations are stale): its page was reloaded (``reason`` ``rejoined``; wait for it up to
    ``hold_s``), or a member asked for it (``repair``)."""

    match_id: str
    peer: str
    gen: int
    reason: str
    hold_s: float | None = None
    type: Literal["peer_link"] = "peer_link"


LOBBY_OUTGOING = (
    LobbyStatus,
    MatchFound,
    SignalRelay,
    Relayed,
    MatchStart,
    Requeued,
    MatchEnded,
    LobbyTimeout,
    Parity,
    PeerLinkReset,
)
