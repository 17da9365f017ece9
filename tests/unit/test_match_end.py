"""The server ends a match at a frame (a member was excluded): every peer settles exactly that
many frames, with identical rows and hashes, over the simulated network
(:meth:`igym_core.runtime.rollback.RollbackSession.end_at`, :meth:`NetPlay.end_at`).

The excluded peer plays on with idle inputs under a focus lease, so its partner never waits for
it, even when its tab is frozen; a peer already past the frame ends where it is (the page says so
in its episode).
"""

from __future__ import annotations

import itertools

from igym_core.runtime import toygame
from igym_core.runtime.host import GameHost, SeatPlan
from igym_core.runtime.netplay import NetPlay
from igym_core.runtime.netsim import LinkConditions, SimNetwork
from igym_core.runtime.rollback import RollbackSession
from igym_core.runtime.simmatch import MatchSetup, PeerSetup, run_match
from tests.unit.test_focus_loss import two_peers
from tests.unit.test_netplay import match_for, toy_scene

FRAME_MS = 1000.0 / 30.0
FRAMES = 600
LINK = LinkConditions(latency_ms=40.0, jitter_ms=10.0, loss=0.05, reorder=0.05)


def play(peers: tuple[PeerSetup, PeerSetup], end_at: tuple[float, int], observe=None):
    setup = MatchSetup(
        peers=peers,
        links=((0, 1, LINK), (1, 0, LINK)),
        seed=5,
        max_frames=FRAMES,
        frame_ms=FRAME_MS,
        end_at=end_at,
    )
    return run_match(
        setup,
        lambda seed: toygame.make(2, seed=seed, max_steps=FRAMES),
        SeatPlan((0, 1)),
        observe=observe,
    )


def test_both_peers_end_at_the_servers_frame_with_identical_rows_and_hashes() -> None:
    # told at 4 s (about frame 120): the game ends after frame 149 for both
    result = play((PeerSetup(), PeerSetup(excluded=True)), (4000.0, 150))
    assert result.ends == (150, 150), result
    assert result.frames == (150, 150)
    a, b = result.logs[0], result.logs[1]
    assert a.canonical_bytes() == b.canonical_bytes()
    assert a.final_hash is not None and a.final_hash == b.final_hash
    assert a.is_final and b.is_final and result.desyncs == 0
    # the excluded player's inputs are idle and unfocused from (about) the exclusion on
    column = [r.focused[1] for r in a.rows]
    away = column.index(False)
    assert 110 <= away <= 130 and all(f is False for f in column[away:]), away
    assert all(r.actions[1] == toygame.NOOP for r in a.rows[away:])
    assert all(column[:away]) and all(r.focused[0] for r in a.rows)


def test_a_frozen_excluded_peer_never_holds_its_partner_up() -> None:
    """Hidden at 2 s, frozen from 2.3 s on (its lease was taken first): excluded at 5 s. The
    partner plays on to the end without a stalled frame; the frozen one holds what it played."""
    advanced: list[float] = []
    last = [0]

    def watch(peer: int, t: float, session: RollbackSession) -> None:
        if peer == 0 and session.current_frame > last[0]:
            advanced.append(t)
            last[0] = session.current_frame

    frozen = PeerSetup(focus_loss=((2000.0, 1e9),), freezes=((2300.0, 1e9),), excluded=True)
    result = play((PeerSetup(), frozen), (5000.0, 200), observe=watch)
    assert result.ends == (200, None), result  # the frozen page never heard of the end
    assert result.frames[0] == 200 and result.logs[0].is_final
    a, b = result.logs[0].rows, result.logs[1].rows
    assert 0 < len(b) < 100 and b == a[: len(b)]  # what it played is the partner's prefix
    gaps = [y - x for x, y in itertools.pairwise(advanced) if x >= 2000.0]
    assert max(gaps) <= FRAME_MS + 1e-6, max(gaps)  # not one stalled frame


def test_a_frame_already_settled_is_not_an_end() -> None:
    """Told at 6 s (about frame 180) to end after frame 99: both are past it and go on."""
    result = play((PeerSetup(), PeerSetup(excluded=True)), (6000.0, 100))
    assert result.ends == (None, None)
    assert all(n >= 100 for n in result.frames) and not result.logs[0].is_final


def _hosts(latency_ms: float) -> tuple[list[GameHost], SimNetwork]:
    network = SimNetwork(2, seed=1, default=LinkConditions(latency_ms=latency_ms))
    hosts = []
    for p in range(2):
        config = two_peers(p, max_prediction=8, max_frames=FRAMES, hash_interval=30)
        session = RollbackSession(config, network.endpoint(p))
        hosts.append(GameHost(session, toygame.make(2, seed=3, max_steps=FRAMES), SeatPlan((0, 1))))
    return hosts, network


def test_frames_simulated_past_the_end_are_undone() -> None:
    """Behind a 250 ms link each peer simulates frames its partner's inputs have not reached;
    an end among them rolls the game back to it (and hashes that state) on both peers."""
    hosts, network = _hosts(250.0)
    t = 0.0
    ends: list[int | None] = []
    for tick in itertools.count():
        t = tick * FRAME_MS
        network.advance_to(t)
        for p, host in enumerate(hosts):
            session = host.session
            if not session.finished:
                host.tick(t, ((tick // 7 + p) % 6,), True)
            else:
                host.idle(t)
        a, b = (h.session for h in hosts)
        if not ends and tick > 60:
            end = max(a.settled_frame, b.settled_frame) + 3
            assert end < min(a.current_frame, b.current_frame)  # simulated, not settled
            ends = [a.end_at(end), b.end_at(end)]
            assert ends == [end, end]
        if ends and all(h.finished for h in hosts):
            break
        assert tick < 1000
    logs = [h.canonical for h in hosts]
    assert len(logs[0]) == len(logs[1]) == ends[0]
    assert logs[0].canonical_bytes() == logs[1].canonical_bytes()
    assert logs[0].final_hash == logs[1].final_hash


def test_netplay_ends_at_the_servers_frame_and_the_leaving_peer_goes_idle() -> None:
    """What the workers do: both told (the excluded one leaves); both report ``done`` with
    exactly the frames asked for, and the leaving player's inputs are idle from then on."""
    scene = toy_scene(max_steps=300, agents=2)
    plays = [NetPlay(scene, match_for(scene, i)) for i in range(2)]
    network = SimNetwork(2, seed=2, default=LinkConditions(latency_ms=30.0, jitter_ms=5.0))
    for play_ in plays:
        play_.start(0)
    settled: list[list[dict]] = [[], []]
    done = [False, False]
    told: list[dict] = []
    for tick in itertools.count():
        t = tick * FRAME_MS
        network.advance_to(t)
        if tick == 60:
            told = [plays[0].end_at(0, 90), plays[1].end_at(0, 90, leave=True)]
        for p, play_ in enumerate(plays):
            if done[p]:
                continue
            endpoint = network.endpoint(p)
            out = play_.tick(t, 1 + p, True, endpoint.receive())
            for to, data in out["packets_out"]:
                endpoint.send(to, data)
            settled[p] += out["settled"]
            done[p] = out["done"]
        if all(done):
            break
        assert tick < 600, (told, [len(s) for s in settled])
    assert [t["end_frame"] for t in told] == [90, 90], told
    assert all(40 < t["settled"] < 90 for t in told), told
    assert settled[0] == settled[1] and len(settled[0]) == 90
    assert plays[0].summary()["agreed"] and plays[1].summary()["agreed"]
    leaving = [r["focused"]["agent_1"] for r in settled[0]]
    first = leaving.index(False)
    assert 55 <= first <= 65 and not any(leaving[first:]) and all(leaving[:first])
    # another episode, or one already past the frame: it ends where it is
    assert plays[0].end_at(3, 200) == {"end_frame": None, "settled": 90}
    assert plays[0].end_at(0, 120)["end_frame"] == 90  # it ended there already
