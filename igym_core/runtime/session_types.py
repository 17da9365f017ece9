"""The values a :class:`~igym_core.runtime.rollback.RollbackSession` works with: its
configuration, the requests it makes of its host, the events it reports, its statistics, and
the transport it sends through. Import them from :mod:`igym_core.runtime.rollback`.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any, Protocol

from igym_core.runtime import wire
from igym_core.runtime.input_queue import PeerInput

FUTURE_LIMIT = 4096
"""Inputs further than this past the local frame are refused as hostile (:class:`WireError`)."""


class Transport(Protocol):
    """Moves packets between peers. Implementations: the simulated network, the browser bridge."""

    def send(self, peer: int, data: bytes) -> None:
        """Send one packet to ``peer`` (unreliable, unordered: it may be lost or reordered)."""
        ...

    def receive(self) -> list[tuple[int, bytes]]:
        """Every packet received since the last call, as ``(from_peer, data)``."""
        ...


class SessionError(RuntimeError):
    """The host used the session wrongly (e.g. advanced without adding a local input)."""


@dataclass(frozen=True, slots=True)
class SessionConfig:
    """How a session plays; every peer of a match must use the same values (except ``local_peer``
    and ``input_delay``, which may differ per peer).

    ``seats_per_peer[p]`` is how many actions peer ``p``'s input carries; ``default_actions[p]``
    are its actions before any input is known (and its idle input). ``action_count`` bounds valid
    actions (``0 <= a < action_count``); inputs outside it are refused as hostile.
    """

    num_peers: int
    local_peer: int
    seats_per_peer: tuple[int, ...]
    default_actions: tuple[tuple[int, ...], ...]
    input_delay: int = 2
    max_prediction: int = 8
    max_frames: int | None = None
    hash_interval: int = 30
    frame_ms: float = 1000.0 / 30.0
    max_inputs_per_packet: int = 64
    action_count: int | None = None
    episode: int = 0
    ping_interval_ms: float = 250.0
    interrupt_after_ms: float = 500.0
    pause_after_ms: float = 500.0
    reconnect_timeout_ms: float = 5000.0
    time_sync_window: int = 40
    time_sync_min_frames: int = 2
    time_sync_interval: int = 30
    max_wait_frames: int = 8

    def __post_init__(self) -> None:
        if not 2 <= self.num_peers <= wire.MAX_PEERS:
            raise ValueError(f"num_peers must be 2..{wire.MAX_PEERS}, got {self.num_peers}")
        if not 0 <= self.local_peer < self.num_peers:
            raise ValueError(f"local_peer {self.local_peer} is not one of 0..{self.num_peers - 1}")
        if len(self.seats_per_peer) != self.num_peers:
            raise ValueError("seats_per_peer needs one entry per peer")
        if any(not 1 <= s <= wire.MAX_SEATS for s in self.seats_per_peer):
            raise ValueError(f"each peer owns 1..{wire.MAX_SEATS} seats")
        if len(self.default_actions) != self.num_peers or any(
            len(d) != s for d, s in zip(self.default_actions, self.seats_per_peer, strict=True)
        ):
            raise ValueError("default_actions needs one action per seat of every peer")
        if self.input_delay < 0:
            raise ValueError("input_delay must be >= 0")
        if self.max_prediction < 0:
            raise ValueError("max_prediction must be >= 0")
        if self.hash_interval < 1:
            raise ValueError("hash_interval must be >= 1")
        if self.max_frames is not None and self.max_frames < 1:
            raise ValueError("max_frames must be >= 1")
        if not 1 <= self.max_inputs_per_packet <= wire.MAX_INPUTS:
            raise ValueError(f"max_inputs_per_packet must be 1..{wire.MAX_INPUTS}")
        if self.frame_ms <= 0:
            raise ValueError("frame_ms must be > 0")
        if self.pause_after_ms <= 0 or self.reconnect_timeout_ms <= 0:
            raise ValueError("pause_after_ms and reconnect_timeout_ms must be > 0")


class StateCell:
    """A slot of the snapshot ring. The host fills it on :class:`SaveState`, reads it on
    :class:`LoadState`. ``hash`` is the canonical 16-byte state hash when one was asked for."""

    __slots__ = ("frame", "hash", "state")

    def __init__(self) -> None:
        self.frame = -1
        self.state: Any = None
        self.hash: bytes | None = None

    def save(self, frame: int, state: Any, state_hash: bytes | None = None) -> None:
        """Store the game state of ``frame`` (a copy the game will not mutate later)."""
        self.frame = frame
        self.state = state
        self.hash = state_hash

    def load(self, frame: int) -> Any:
        """The state saved for ``frame``; raises :class:`SessionError` if the slot moved on."""
        if self.frame != frame:
            raise SessionError(
                f"snapshot for frame {frame} was overwritten (slot has {self.frame})"
            )
        return self.state


@dataclass(frozen=True, slots=True)
class SaveState:
    """Save the current game state as the snapshot of ``frame`` into ``cell``; compute its
    canonical hash too when ``want_hash``."""

    frame: int
    cell: StateCell
    want_hash: bool


@dataclass(frozen=True, slots=True)
class LoadState:
    """Restore the game to the snapshot of ``frame`` held by ``cell``."""

    frame: int
    cell: StateCell


@dataclass(frozen=True, slots=True)
class AdvanceFrame:
    """Step the game once with ``inputs`` (one :class:`PeerInput` per peer) for frame ``frame``.

    ``replay`` is true while re-simulating after a rollback; ``confirmed`` says whether every
    input is known (not predicted).
    """

    frame: int
    inputs: tuple[PeerInput, ...]
    replay: bool
    confirmed: bool


Request = SaveState | LoadState | AdvanceFrame


@dataclass(frozen=True, slots=True)
class WaitRecommendation:
    """This peer runs ahead of the others: skip ``frames`` ticks (do not advance) to let them
    catch up. Ignoring it costs only more rollbacks."""

    frames: int


@dataclass(frozen=True, slots=True)
class NetworkInterrupted:
    """Nothing arrived from ``peer`` for ``silent_ms``; show "reconnecting" if it lasts."""

    peer: int
    silent_ms: float


@dataclass(frozen=True, slots=True)
class NetworkResumed:
    """Packets from ``peer`` flow again after a :class:`NetworkInterrupted`."""

    peer: int


@dataclass(frozen=True, slots=True)
class Paused:
    """The game stopped at ``frame`` for every peer: ``waiting_for`` went silent (nothing on any
    path for ``pause_after_ms``), stopped sending inputs (it paused itself), or is rebuilding
    after a reload. The session simulates nothing new until :class:`Resumed`; show "waiting for
    your partner" with the time left (``reconnect_timeout_ms``)."""

    frame: int
    waiting_for: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Resumed:
    """Play goes on after :class:`Paused`: every peer is heard again and every input sent during
    the pause has been exchanged; ``confirmed`` is the last frame whose inputs every peer had
    when the session resumed, ``paused_ms`` how long it stood still. The host should restart its
    clock at the present frame (no fast-forward through the pause)."""

    frame: int
    confirmed: int
    paused_ms: float


@dataclass(frozen=True, slots=True)
class Disconnected:
    """The session stayed paused for ``reconnect_timeout_ms`` (or past a :meth:`hold`) waiting
    for ``peer``: the host should end the game. ``last_frame`` is the peer's last confirmed
    input."""

    peer: int
    last_frame: int


@dataclass(frozen=True, slots=True)
class DesyncDetected:
    """``peer`` reported a different state hash for ``frame`` (the first divergent checked
    frame; the states agreed at ``last_agreed_frame``, -1 if no check had agreed yet)."""

    frame: int
    peer: int
    local_hash: bytes
    remote_hash: bytes
    last_agreed_frame: int


@dataclass(frozen=True, slots=True)
class EpisodeAgreed:
    """Every peer settled the episode at ``end_frame`` frames with final state hash ``hash``."""

    end_frame: int
    hash: bytes


Event = (
    WaitRecommendation
    | NetworkInterrupted
    | NetworkResumed
    | Paused
    | Resumed
    | Disconnected
    | DesyncDetected
    | EpisodeAgreed
)


@dataclass(frozen=True, slots=True)
class Desync:
    """A recorded desync (kept after the event has been drained)."""

    frame: int
    peer: int
    local_hash: str
    remote_hash: str


@dataclass(slots=True)
class SessionStats:
    """Speculative metadata: how the session got to the canonical result. Differs per peer and
    is never part of the canonical log."""

    frames_advanced: int = 0
    rollbacks: int = 0
    frames_replayed: int = 0
    max_rollback_depth: int = 0
    rollback_depths: dict[int, int] = field(default_factory=dict)
    stalls: int = 0
    pauses: int = 0
    paused_ms: float = 0.0
    wait_recommendations: int = 0
    wait_frames: int = 0
    packets_sent: int = 0
    bytes_sent: int = 0
    packets_received: int = 0
    bytes_received: int = 0
    malformed_packets: int = 0
    stale_packets: int = 0
    duplicate_inputs: int = 0
    hash_checks: int = 0
    desyncs: int = 0
    #: remote peers' inputs filled in as idle under a focus lease (igym_core.runtime.focus)
    frames_leased: int = 0
    rtt_ms: dict[int, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Plain-data copy for telemetry."""
        return {
            "frames_advanced": self.frames_advanced,
            "rollbacks": self.rollbacks,
            "frames_replayed": self.frames_replayed,
            "max_rollback_depth": self.max_rollback_depth,
            "rollback_depths": {str(k): v for k, v in sorted(self.rollback_depths.items())},
            "stalls": self.stalls,
            "pauses": self.pauses,
            "paused_ms": round(self.paused_ms, 1),
            "wait_recommendations": self.wait_recommendations,
            "wait_frames": self.wait_frames,
            "packets_sent": self.packets_sent,
            "bytes_sent": self.bytes_sent,
            "packets_received": self.packets_received,
            "bytes_received": self.bytes_received,
            "malformed_packets": self.malformed_packets,
            "stale_packets": self.stale_packets,
            "duplicate_inputs": self.duplicate_inputs,
            "hash_checks": self.hash_checks,
            "desyncs": self.desyncs,
            "frames_leased": self.frames_leased,
            "rtt_ms": {str(k): round(v, 3) for k, v in sorted(self.rtt_ms.items())},
        }


class RemotePeer:
    """What the local session knows about one remote peer."""

    __slots__ = (
        "acked_by_remote",
        "adv_samples",
        "advertised_last",
        "disconnected",
        "echo_last",
        "end",
        "frame_heard_ms",
        "hash_acked_by_remote",
        "hash_received",
        "hashes",
        "hold_until_ms",
        "inputs_sent",
        "interrupted",
        "last_heard_ms",
        "last_ping_ms",
        "remote_advantage",
        "remote_frame",
        "rtt_ms",
    )

    def __init__(self, window: int) -> None:
        self.acked_by_remote = -1  # my inputs the remote holds: every frame <= this
        self.advertised_last = -1  # the remote's own inputs run to here in what it sent
        self.echo_last: int | None = None  # after a rejoin: my inputs it holds (its echo)
        self.hold_until_ms = 0.0  # do not give up waiting for it before this time
        self.hash_acked_by_remote = -1  # my hash reports the remote holds: every frame <= this
        # The remote's hash reports I hold: every frame <= this. A hash packet carries all of its
        # sender's reports above the ack it knew, so the highest frame received is gap-free.
        self.hash_received = -1
        self.remote_frame = -1
        self.frame_heard_ms: float | None = None  # when remote_frame was last heard
        # the highest frame of the remote's inputs it sent itself: acks never go past it (inputs
        # filled in under a focus lease were never sent, igym_core.runtime.focus)
        self.inputs_sent = -1
        self.remote_advantage = 0
        self.adv_samples: deque[int] = deque(maxlen=window)
        self.rtt_ms: float | None = None
        self.last_heard_ms: float | None = None
        self.last_ping_ms: float | None = None
        self.interrupted = False
        self.disconnected = False
        self.hashes: dict[int, bytes] = {}  # remote hash reports not yet compared
        self.end: wire.EpisodeEnd | None = None
