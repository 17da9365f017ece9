"""Full matches between rollback peers over the simulated network, and the parity verdict.

:func:`run_match` plays one episode: every peer has its own game, :class:`GameHost`,
:class:`RollbackSession` and clock (its ticks may drift, start late, or freeze for a while as a
throttled tab does), and the peers talk only through a :class:`SimNetwork`. Simulated humans
press random keys (held for a while, as people do) or follow a scripted policy on their own
speculative view, go idle and unfocused during focus-loss periods, and AI seats are computed by
every peer. A peer may go offline for seconds (every packet to and from it is lost: the game
pauses for everyone and resumes) or reload its page: it is gone for a while, its last settled
records never reached the server, and a new page rebuilds the episode from the records that
did and rejoins (its partners were told it is coming back, as the server does). The server may
end the match at a frame (``MatchSetup.end_at``, as when a member is excluded): every peer is
told at its next tick and ends there (:meth:`RollbackSession.end_at`), the excluded ones with
their inputs idle under a focus lease. The match is over when every peer's canonical log is
complete and all peers agreed on the end (after an ``end_at``: when every peer that can play
has settled to it); the verdict compares the canonical logs byte for byte.

:func:`random_setup` draws varied conditions (latency, jitter, loss, duplication, reordering,
junk packets, outages, asymmetric links, input delays, clock drift, focus loss, freezes,
offline periods, reloads) from a seed; everything is deterministic given the seed.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from igym_core.runtime.clock import FrameClock
from igym_core.runtime.game import Policy, RollbackGame
from igym_core.runtime.host import GameHost, SeatPlan
from igym_core.runtime.netsim import LinkConditions, SimNetwork
from igym_core.runtime.record import CanonicalLog, FrameRecord, RecordError, first_difference
from igym_core.runtime.rollback import (
    DesyncDetected,
    Disconnected,
    NetworkInterrupted,
    Paused,
    Resumed,
    RollbackSession,
    SessionConfig,
    WaitRecommendation,
)

__all__ = [
    "MatchResult",
    "MatchSetup",
    "NetworkRanges",
    "PeerSetup",
    "random_setup",
    "run_match",
    "summarize",
]

GameFactory = Callable[[int], RollbackGame]
"""``factory(seed)`` → a fresh game reset with that seed (identical on every peer)."""
PolicyFactory = Callable[[int, int], Policy]
"""``factory(agent_index, seed)`` → a policy for that seat."""

HELLO_MS = 300.0
"""A reloaded page says hello to the server this long after it went away; the server then tells
its partners it is coming back (they keep waiting up to :data:`RELOAD_HOLD_MS`)."""
RELOAD_HOLD_MS = 30_000.0


@dataclass(frozen=True, slots=True)
class PeerSetup:
    """One simulated participant.

    ``inputs`` is ``"random"`` (held random keys), ``"scripted"`` (the scripted policy on the
    peer's own view, with a little noise) or ``"idle"``. ``clock_rate`` > 1 ticks faster than
    nominal. ``focus_loss``, ``freezes``, ``offline`` and ``reloads`` are ``(start_ms, end_ms)``
    windows of virtual time: unfocused means idle inputs flagged unfocused while the clock keeps
    running; frozen means no ticks at all (then catching up, up to ``max_catch_up`` frames per
    tick); offline means every packet to and from the peer is lost; a reload means the page is
    gone (no ticks, its packets lost) and at ``end_ms`` a new page rebuilds the episode from its
    records but the last ``lost_records`` (never uploaded) and rejoins.
    """

    input_delay: int = 2
    clock_rate: float = 1.0
    start_ms: float = 0.0
    inputs: str = "random"
    focus_loss: tuple[tuple[float, float], ...] = ()
    freezes: tuple[tuple[float, float], ...] = ()
    offline: tuple[tuple[float, float], ...] = ()
    reloads: tuple[tuple[float, float], ...] = ()
    lost_records: int = 10
    #: the server excludes this participant at ``MatchSetup.end_at``: from then on its inputs
    #: are idle, unfocused (a focus lease), until the game ends
    excluded: bool = False


@dataclass(frozen=True, slots=True)
class MatchSetup:
    """Everything that decides one simulated match (together with the game and seat plan)."""

    peers: tuple[PeerSetup, ...]
    links: tuple[tuple[int, int, LinkConditions], ...] = ()
    seed: int = 0
    max_frames: int = 450
    frame_ms: float = 1000.0 / 30.0
    max_prediction: int = 8
    hash_interval: int = 30
    max_catch_up: int = 4
    action_count: int = 7
    default_action: int = 6
    timeout_factor: float = 6.0
    reconnect_timeout_ms: float = 5000.0
    #: ``(virtual ms, frame)``: the server ends the match then, after that many frames
    end_at: tuple[float, int] | None = None

    def __post_init__(self) -> None:
        if len(self.peers) < 2:
            raise ValueError("a match needs at least two peers")

    @property
    def num_peers(self) -> int:
        return len(self.peers)

    def describe(self) -> dict[str, Any]:
        """A short plain-data description (for reports of failing matches)."""
        return {
            "seed": self.seed,
            "peers": [
                {
                    "delay": p.input_delay,
                    "rate": round(p.clock_rate, 4),
                    "inputs": p.inputs,
                    "focus_loss": len(p.focus_loss),
                    "freezes": len(p.freezes),
                    "offline": [list(w) for w in p.offline],
                    "reloads": [list(w) for w in p.reloads],
                }
                for p in self.peers
            ],
            "links": [
                {
                    "from": a,
                    "to": b,
                    "latency": round(c.latency_ms, 1),
                    "jitter": round(c.jitter_ms, 1),
                    "loss": round(c.loss, 3),
                    "dup": round(c.duplicate, 3),
                    "reorder": round(c.reorder, 3),
                    "junk": round(c.corrupt, 3),
                    "outages": len(c.outages),
                }
                for a, b, c in self.links
            ],
        }


@dataclass(slots=True)
class MatchResult:
    """The verdict on one match. ``parity`` is the point: every peer finished, the canonical
    logs are byte-identical, every hash check agreed, and each log has ``max_frames`` rows."""

    setup: MatchSetup
    parity: bool
    identical: bool
    finished: bool
    timed_out: bool
    frames: tuple[int, ...]
    desyncs: int
    first_difference: int | None
    rollbacks: int
    max_rollback_depth: int
    frames_replayed: int
    stalls: int
    hash_checks: int
    malformed_packets: int
    wait_recommendations: int
    interruptions: int
    virtual_ms: float
    pauses: int = 0
    paused_ms: float = 0.0
    reloads: int = 0
    #: a reloaded peer's records did not replay as they were recorded
    rebuild_failed: bool = False
    rollback_depths: dict[int, int] = field(default_factory=dict)
    logs: dict[int, CanonicalLog] = field(repr=False, default_factory=dict)
    telemetry: dict[int, dict[str, Any]] = field(repr=False, default_factory=dict)
    #: per peer, when it paused, resumed or gave up: ``(virtual ms, event)`` (with the logs)
    pause_log: dict[int, list[tuple[float, Any]]] = field(repr=False, default_factory=dict)
    #: after ``MatchSetup.end_at``, per peer: the frame its episode ends at (None: it was past
    #: that frame when told, or it was never told, being frozen)
    ends: tuple[int | None, ...] = ()


class _Inputs:
    """A simulated human at one peer: produces the actions for that peer's seats."""

    def __init__(
        self,
        setup: PeerSetup,
        seats: tuple[int, ...],
        rng: random.Random,
        action_count: int,
        default_action: int,
        scripted: list[Policy] | None,
    ) -> None:
        self.setup = setup
        self.seats = seats
        self.rng = rng
        self.action_count = action_count
        self.default = tuple(default_action for _ in seats)
        self.held = list(self.default)
        self.scripted = scripted

    def focused(self, t: float) -> bool:
        return not any(a <= t < b for a, b in self.setup.focus_loss)

    def next(self, game: RollbackGame, focused: bool) -> tuple[int, ...]:
        if not focused or self.setup.inputs == "idle":
            return self.default
        rng = self.rng
        if self.setup.inputs == "scripted" and self.scripted is not None:
            out = []
            for seat, policy in zip(self.seats, self.scripted, strict=True):
                if rng.random() < 0.05:
                    out.append(rng.randrange(self.action_count))
                else:
                    out.append(int(policy.act(game.observe(seat))))
            return tuple(out)
        held = self.held
        for i in range(len(held)):
            if rng.random() < 0.2:
                held[i] = rng.randrange(self.action_count)
        return tuple(held)


def run_match(
    setup: MatchSetup,
    make_game: GameFactory,
    seats: SeatPlan,
    ai_policy: PolicyFactory | None = None,
    scripted_policy: PolicyFactory | None = None,
    keep_logs: bool = True,
    observe: Callable[[int, float, RollbackSession], None] | None = None,
) -> MatchResult:
    """Play one match under ``setup`` and judge it. Deterministic given its arguments.
    ``observe(peer, t, session)`` is called after each tick a peer runs (not while frozen)."""
    n = setup.num_peers
    rng = random.Random(setup.seed)
    network = SimNetwork(n, seed=rng.getrandbits(32))
    for a, b, conditions in setup.links:
        network.set_link(a, b, conditions)
    for p, peer in enumerate(setup.peers):  # offline: every link to and from the peer is down
        for q in range(n):
            for a, b in ((p, q), (q, p)):
                if a != b and peer.offline:
                    link = network.link(a, b)
                    network.set_link(a, b, replace(link, outages=link.outages + peer.offline))
    game_seed = rng.getrandbits(31)
    seats_per_peer = seats.seats_per_peer(n)

    def make_host(p: int) -> GameHost:
        config = SessionConfig(
            num_peers=n,
            local_peer=p,
            seats_per_peer=seats_per_peer,
            default_actions=tuple(
                tuple(setup.default_action for _ in range(k)) for k in seats_per_peer
            ),
            input_delay=setup.peers[p].input_delay,
            max_prediction=setup.max_prediction,
            max_frames=setup.max_frames,
            hash_interval=setup.hash_interval,
            frame_ms=setup.frame_ms,
            action_count=setup.action_count,
            reconnect_timeout_ms=setup.reconnect_timeout_ms,
        )
        session = RollbackSession(config, network.endpoint(p))
        policies = {}
        if seats.ai_seats:
            if ai_policy is None:
                raise ValueError("the seat plan has AI seats but no ai_policy was given")
            policies = {i: ai_policy(i, game_seed) for i in seats.ai_seats}
        return GameHost(session, make_game(game_seed), seats, policies)

    hosts = [make_host(p) for p in range(n)]
    sources: list[_Inputs] = []
    for p, peer in enumerate(setup.peers):
        own = seats.seats_of(p)
        scripted = None
        if scripted_policy is not None and peer.inputs == "scripted":
            scripted = [scripted_policy(i, setup.seed + 7919 * p) for i in own]
        sources.append(
            _Inputs(
                peer,
                own,
                random.Random(rng.getrandbits(32)),
                setup.action_count,
                setup.default_action,
                scripted,
            )
        )

    periods = [setup.frame_ms / peer.clock_rate for peer in setup.peers]
    next_tick = [peer.start_ms for peer in setup.peers]
    clocks = [FrameClock(period, slack=1e-6) for period in periods]
    reloads = [list(peer.reloads) for peer in setup.peers]
    gone: dict[int, list[FrameRecord]] = {}  # reloading peers: the records their server has
    retired: list[GameHost] = []  # the hosts of pages that were reloaded
    pause_log: dict[int, list[tuple[float, Any]]] = {p: [] for p in range(n)}
    desync_events = 0
    interruptions = 0
    # virtual time after which an unfinished match counts as lost
    deadline = (
        max(p.start_ms for p in setup.peers)
        + setup.max_frames * setup.frame_ms * setup.timeout_factor
        + sum(b - a for peer in setup.peers for a, b in (*peer.reloads, *peer.offline))
        + 10_000.0
    )
    timed_out = False
    rebuild_failed = False
    told: dict[int, int | None] = {}  # peers told of the server's end: where they end
    while True:
        p = min(range(n), key=next_tick.__getitem__)
        t = next_tick[p]
        if t > deadline:
            timed_out = True
            break
        network.advance_to(t)
        next_tick[p] = t + periods[p]
        peer = setup.peers[p]
        if peer.freezes and any(a <= t < b for a, b in peer.freezes):
            continue
        if reloads[p] and t >= reloads[p][0][0]:
            start, back = reloads[p][0]
            if p not in gone:
                if hosts[p].finished:  # nothing left to rebuild
                    reloads[p].pop(0)
                    continue
                rows = hosts[p].canonical.rows
                gone[p] = rows[: max(0, len(rows) - peer.lost_records)]
                for q, other in enumerate(hosts):  # the server tells them it is coming back
                    if q != p:
                        other.session.hold(p, start + HELLO_MS + RELOAD_HOLD_MS)
            if t < back:
                continue
            reloads[p].pop(0)
            network.drop_inbox(p)  # what came while the page was gone is lost with it
            retired.append(hosts[p])
            hosts[p] = make_host(p)
            clocks[p] = FrameClock(periods[p], slack=1e-6)
            try:
                hosts[p].restore(gone.pop(p))
            except RecordError:  # the records do not replay: the game is not deterministic
                rebuild_failed = True
                break
        host = hosts[p]
        session = host.session
        ending = setup.end_at is not None and t >= setup.end_at[0]
        if ending and p not in told and setup.end_at is not None:
            told[p] = None if host.canonical.is_final else session.end_at(setup.end_at[1])
        target = clocks[p].target(t)
        events: list[Any] = []
        if session.finished or session.paused or session.current_frame >= target:
            events = host.idle(t)
        else:
            source = sources[p]
            focused = source.focused(t) and not (ending and peer.excluded)
            for _ in range(setup.max_catch_up):
                stalls = session.stats.stalls
                events.extend(host.tick(t, source.next(host.game, focused), focused))
                if (
                    session.stats.stalls != stalls
                    or session.current_frame >= target
                    or session.finished
                    or session.paused
                ):
                    break
        for event in events:
            if isinstance(event, Paused | Resumed | Disconnected):
                pause_log[p].append((t, event))
            if isinstance(event, WaitRecommendation):
                clocks[p].wait(event.frames)
            elif isinstance(event, Resumed):
                clocks[p].restart(t, session.peer_frame())
            elif isinstance(event, DesyncDetected):
                desync_events += 1
            elif isinstance(event, NetworkInterrupted):
                interruptions += 1
        jump = session.catch_up_frame()  # away and behind: catch up with the partners
        if jump is not None and jump > clocks[p].target(t):
            clocks[p].restart(t, jump)
        if observe is not None:
            observe(p, t, session)
        if all(h.finished or h.session.disconnected_peer is not None for h in hosts):
            break
        if ending and all(
            h.canonical.is_final
            or (q in told and told[q] is None)  # past the end: this page ends where it is
            or any(a <= t < b for a, b in setup.peers[q].freezes)
            for q, h in enumerate(hosts)
        ):
            break

    logs = {p: h.canonical for p, h in enumerate(hosts)}
    blobs = [log.canonical_bytes() for log in logs.values()]
    identical = all(b == blobs[0] for b in blobs[1:])
    finished = all(h.finished for h in hosts)
    frames = tuple(len(log) for log in logs.values())
    stats = [h.session.stats for h in (*hosts, *retired)]
    desyncs = sum(s.desyncs for s in stats)
    hash_checks = sum(s.hash_checks for s in stats)
    parity = (
        finished
        and not rebuild_failed
        and identical
        and desyncs == 0
        and desync_events == 0
        and all(f == setup.max_frames for f in frames)
    )
    return MatchResult(
        setup=setup,
        parity=parity,
        identical=identical,
        finished=finished,
        timed_out=timed_out,
        frames=frames,
        desyncs=desyncs,
        first_difference=None if identical else first_difference(logs),
        rollbacks=sum(s.rollbacks for s in stats),
        max_rollback_depth=max(s.max_rollback_depth for s in stats),
        frames_replayed=sum(s.frames_replayed for s in stats),
        stalls=sum(s.stalls for s in stats),
        hash_checks=hash_checks,
        malformed_packets=sum(s.malformed_packets for s in stats),
        wait_recommendations=sum(s.wait_recommendations for s in stats),
        interruptions=interruptions,
        virtual_ms=network.now,
        pauses=sum(s.pauses for s in stats),
        paused_ms=sum(s.paused_ms for s in stats),
        reloads=len(retired),
        rebuild_failed=rebuild_failed,
        rollback_depths=_merge_depths(s.rollback_depths for s in stats),
        logs=logs if keep_logs else {},
        telemetry={p: h.telemetry() for p, h in enumerate(hosts)} if keep_logs else {},
        pause_log=pause_log if keep_logs else {},
        ends=tuple(told.get(p) for p in range(n)),
    )


@dataclass(frozen=True, slots=True)
class NetworkRanges:
    """The ranges :func:`random_setup` draws conditions from (per direction, uniformly).

    A fixed value is a range with equal ends, e.g. ``latency_ms=(50, 50)``.
    """

    latency_ms: tuple[float, float] = (0.0, 150.0)
    jitter_ms: tuple[float, float] = (0.0, 30.0)
    loss: tuple[float, float] = (0.0, 0.15)
    duplicate: tuple[float, float] = (0.0, 0.05)
    reorder: tuple[float, float] = (0.0, 0.1)
    corrupt: tuple[float, float] = (0.0, 0.02)
    outage_chance: float = 0.2
    outage_ms: tuple[float, float] = (100.0, 1500.0)
    input_delay: tuple[int, int] = (0, 3)
    drift: float = 0.02
    focus_loss_chance: float = 0.3
    freeze_chance: float = 0.1
    scripted_share: float = 0.5
    offline_chance: float = 0.15
    offline_ms: tuple[float, float] = (1000.0, 3000.0)
    reload_chance: float = 0.1
    reload_ms: tuple[float, float] = (800.0, 3000.0)


def random_setup(
    seed: int,
    num_peers: int = 2,
    ranges: NetworkRanges | None = None,
    max_frames: int = 450,
    frame_ms: float = 1000.0 / 30.0,
    scripted_available: bool = True,
    **overrides: Any,
) -> MatchSetup:
    """Draw a varied :class:`MatchSetup` from ``seed`` (``overrides`` set MatchSetup fields)."""
    r = ranges or NetworkRanges()
    rng = random.Random(seed ^ 0x5EED)
    duration = max_frames * frame_ms

    def span(bounds: tuple[float, float]) -> float:
        return rng.uniform(*bounds) if bounds[0] != bounds[1] else bounds[0]

    def windows(chance: float, length: tuple[float, float]) -> tuple[tuple[float, float], ...]:
        out = []
        while rng.random() < chance and len(out) < 3:
            start = rng.uniform(0.05, 0.8) * duration
            out.append((start, start + span(length)))
        return tuple(sorted(out))

    peers = []
    for _ in range(num_peers):
        inputs = "scripted" if scripted_available and rng.random() < r.scripted_share else "random"
        peers.append(
            PeerSetup(
                input_delay=rng.randint(*r.input_delay),
                clock_rate=1.0 + rng.uniform(-r.drift, r.drift),
                start_ms=rng.uniform(0.0, 200.0),
                inputs=inputs,
                focus_loss=windows(r.focus_loss_chance, (500.0, 4000.0)),
                freezes=windows(r.freeze_chance, (50.0, 600.0)),
            )
        )
    links = []
    for a in range(num_peers):
        for b in range(num_peers):
            if a == b:
                continue
            links.append(
                (
                    a,
                    b,
                    LinkConditions(
                        latency_ms=span(r.latency_ms),
                        jitter_ms=span(r.jitter_ms),
                        loss=span(r.loss),
                        duplicate=span(r.duplicate),
                        reorder=span(r.reorder),
                        corrupt=span(r.corrupt),
                        outages=windows(r.outage_chance, r.outage_ms),
                    ),
                )
            )
    # at most one peer goes offline for seconds, and at most one reloads (less than a
    # reconnect timeout, and its partners are told it comes back)
    if rng.random() < r.offline_chance:
        who = rng.randrange(num_peers)
        start = rng.uniform(0.1, 0.8) * duration
        window = ((start, start + span(r.offline_ms)),)
        peers[who] = replace(peers[who], offline=window)
    if rng.random() < r.reload_chance:
        who = rng.randrange(num_peers)
        start = rng.uniform(0.05, 0.9) * duration
        window = ((start, start + span(r.reload_ms)),)
        peers[who] = replace(peers[who], reloads=window, lost_records=rng.randint(0, 20))
    fields: dict[str, Any] = {
        "peers": tuple(peers),
        "links": tuple(links),
        "seed": seed,
        "max_frames": max_frames,
        "frame_ms": frame_ms,
    }
    fields.update(overrides)
    return MatchSetup(**fields)


def _merge_depths(histograms: Iterable[Mapping[int, int]]) -> dict[int, int]:
    out: dict[int, int] = {}
    for histogram in histograms:
        for depth, count in histogram.items():
            out[depth] = out.get(depth, 0) + count
    return dict(sorted(out.items()))


def summarize(results: list[MatchResult]) -> Mapping[str, Any]:
    """Totals over many matches (for the ``igym simulate`` summary line); ``rollback_depths``
    maps a rollback depth (frames replayed) to how many rollbacks had it."""
    return {
        "rollback_depths": _merge_depths(r.rollback_depths for r in results),
        "matches": len(results),
        "parity": sum(r.parity for r in results),
        "identical": sum(r.identical for r in results),
        "desyncs": sum(r.desyncs for r in results),
        "rollbacks": sum(r.rollbacks for r in results),
        "max_rollback_depth": max((r.max_rollback_depth for r in results), default=0),
        "frames_replayed": sum(r.frames_replayed for r in results),
        "stalls": sum(r.stalls for r in results),
        "pauses": sum(r.pauses for r in results),
        "reloads": sum(r.reloads for r in results),
        "timeouts": sum(r.timed_out for r in results),
    }
