"""Focus loss over the simulated network (igym_core.runtime.focus): while one peer's tab is
hidden, or hidden and then frozen (no ticks, no packets), its partner advances a frame on every
tick — not one stalled frame — the canonical logs stay identical (with the same ``focused``
columns), and the returning peer catches up to the present.

The numbers (the partner's longest gap between advanced frames while the other was away, the
catch-up time on return) are printed; run with ``-s`` to see them.
"""

from __future__ import annotations

import dataclasses
import itertools

import pytest

from igym_core.runtime import toygame, wire
from igym_core.runtime.host import SeatPlan
from igym_core.runtime.input_queue import PeerInput
from igym_core.runtime.netsim import LinkConditions
from igym_core.runtime.rollback import RollbackSession, SessionConfig
from igym_core.runtime.simmatch import MatchSetup, PeerSetup, run_match
from igym_core.runtime.transport import BufferTransport

FRAME_MS = 1000.0 / 30.0
FRAMES = 360  # 12 s at 30 fps
AWAY = (2000.0, 7000.0)  # 5 s
LINK = LinkConditions(latency_ms=40.0, jitter_ms=10.0, loss=0.05, reorder=0.05)


class Watch:
    """Per peer: the virtual times of ticks that advanced a frame, and where each peer was."""

    def __init__(self) -> None:
        self.advanced: dict[int, list[float]] = {0: [], 1: []}
        self.last_frame = {0: 0, 1: 0}
        self.caught_up_at: float | None = None

    def __call__(self, peer: int, t: float, session: RollbackSession) -> None:
        if session.current_frame > self.last_frame[peer]:
            self.advanced[peer].append(t)
        self.last_frame[peer] = session.current_frame
        if (
            peer == 1
            and t >= AWAY[1]
            and self.caught_up_at is None
            and session.current_frame >= self.last_frame[0] - 2
        ):
            self.caught_up_at = t

    def longest_gap(self, peer: int, start: float, end: float) -> float:
        times = [t for t in self.advanced[peer] if start <= t <= end]
        return max(b - a for a, b in itertools.pairwise(times))


def play(partner_away: PeerSetup, link: LinkConditions = LINK) -> tuple[Watch, object]:
    setup = MatchSetup(
        peers=(PeerSetup(input_delay=2), partner_away),
        links=((0, 1, link), (1, 0, link)),
        seed=11,
        max_frames=FRAMES,
        frame_ms=FRAME_MS,
    )
    watch = Watch()
    result = run_match(
        setup,
        lambda seed: toygame.make(2, seed=seed, max_steps=FRAMES),
        SeatPlan((0, 1)),
        observe=watch,
    )
    return watch, result


def focused_column(result: object, peer: int, agent: int) -> list[bool | None]:
    return [r.focused[agent] for r in result.logs[peer].rows]  # type: ignore[attr-defined]


#: the hidden tab's main thread frozen while its worker ticks on: nothing in or out, and what
#: it hears first on return is old news
CUT_OFF = dataclasses.replace(LINK, outages=((AWAY[0] + 300.0, AWAY[1]),))


@pytest.mark.parametrize(
    ("frozen", "link"),
    [(False, LINK), (True, LINK), (False, CUT_OFF)],
    ids=["hidden", "hidden_then_frozen", "hidden_then_cut_off"],
)
def test_a_partner_never_stalls_while_the_other_tab_is_away(
    frozen: bool, link: LinkConditions
) -> None:
    away = PeerSetup(
        input_delay=2,
        focus_loss=(AWAY,),
        freezes=((AWAY[0] + 300.0, AWAY[1]),) if frozen else (),  # hidden first, then frozen
    )
    watch, result = play(away, link)
    assert result.parity, result  # type: ignore[attr-defined]
    gap = watch.longest_gap(0, AWAY[0], AWAY[1] + 1500.0)
    # every tick of the partner advanced a frame: the longest gap is one tick (plus rounding)
    assert gap <= FRAME_MS + 1e-6, gap
    hosts = result.telemetry  # type: ignore[attr-defined]
    # the partner filled in the idle inputs it had not received (all of them while frozen)
    assert hosts[0]["session"]["frames_leased"] > (100 if frozen or link is CUT_OFF else 0)
    # the away player's focus column is the same on both sides and False while it was away
    column = focused_column(result, 0, 1)
    assert column == focused_column(result, 1, 1)
    assert focused_column(result, 0, 0) == focused_column(result, 1, 0)
    lost = [f for f, focused in enumerate(column) if focused is False]
    assert lost, "no frame was recorded unfocused"
    seconds = (lost[-1] - lost[0] + 1) * FRAME_MS
    # idle from hiding until back (after a freeze: until caught up and the lease ended)
    assert 4500.0 <= seconds <= (8000.0 if frozen or link is CUT_OFF else 5500.0), seconds
    catch_up = None
    if frozen or link is CUT_OFF:
        assert watch.caught_up_at is not None
        catch_up = watch.caught_up_at - AWAY[1]
        assert catch_up < 3000.0
    print(
        f"\nfocus loss ({'frozen' if frozen else 'cut off' if link is CUT_OFF else 'hidden'} 5 s): partner's longest gap between "
        f"advanced frames {gap:.1f} ms (tick {FRAME_MS:.1f} ms), stalls "
        f"{result.stalls}, catch-up on return "  # type: ignore[attr-defined]
        f"{'n/a' if catch_up is None else f'{catch_up:.0f} ms'}"
    )


def test_without_a_lease_a_frozen_partner_stalls_the_other() -> None:
    """The measurement can fail: a tab frozen while visible (no focus loss, so no lease) stalls
    its partner for as long as it is frozen."""
    watch, result = play(PeerSetup(input_delay=2, freezes=(AWAY,)))
    assert result.parity  # type: ignore[attr-defined]
    assert watch.longest_gap(0, AWAY[0], AWAY[1] + 1500.0) > 4000.0


def two_peers(local: int, **changes: object) -> SessionConfig:
    """The session config of peer ``local`` of two, one seat each (``changes``: other fields)."""
    fields: dict = {"input_delay": 1, "max_prediction": 4, "max_frames": None, "hash_interval": 10}
    fields.update(changes)
    return SessionConfig(
        num_peers=2,
        local_peer=local,
        seats_per_peer=(1, 1),
        default_actions=((6,), (6,)),
        action_count=7,
        **fields,
    )


def _pair() -> tuple[list[RollbackSession], list[BufferTransport]]:
    transports = [BufferTransport(), BufferTransport()]
    sessions = [RollbackSession(two_peers(p), transports[p]) for p in range(2)]
    return sessions, transports


def _exchange(sessions: list[RollbackSession], transports: list[BufferTransport]) -> None:
    for p, t in enumerate(transports):
        for peer, data in t.take_outgoing():
            transports[peer].deliver([(p, data)])


def _tick(session: RollbackSession, action: int, focused: bool, now: float) -> None:
    session.receive(now)
    session.add_local_input((action,), focused)
    session.advance_frame()
    session.send(now)


def test_a_hidden_peers_inputs_are_idle_and_unfocused_whatever_its_host_gives() -> None:
    sessions, transports = _pair()
    hidden = sessions[1]
    _tick(hidden, 3, True, 0.0)
    _tick(hidden, 3, False, 33.0)  # keys still reported by the host: ignored
    queue = hidden.queues[1]
    assert queue.get(1) == PeerInput((3,), True)
    assert queue.get(2) == PeerInput((6,), False)
    assert hidden.away_from == 2
    focus = [wire.decode(d) for _, d in transports[1].take_outgoing()]
    assert any(isinstance(x, wire.Focus) and x.away_from == 2 for x in focus)


def test_a_lease_replaces_a_wrong_prediction_with_a_rollback() -> None:
    """The partner predicted the hidden peer's held key; the lease's idle inputs are confirmed
    and the frames simulated with the held key are replayed."""
    sessions, transports = _pair()
    a, b = sessions
    now = 0.0
    for _ in range(3):  # b holds key 3, a learns it
        _tick(a, 0, True, now)
        _tick(b, 3, True, now)
        _exchange(sessions, transports)
        now += 33.0
    for _ in range(3):  # a runs on alone, predicting b's key 3
        _tick(a, 0, True, now)
        now += 33.0
    _tick(b, 3, False, now)  # b hidden: its lease starts where its real inputs stop
    _exchange(sessions, transports)
    rollbacks = a.stats.rollbacks
    _tick(a, 0, True, now)
    assert a.stats.rollbacks == rollbacks + 1
    assert a.queues[1].last_confirmed >= a.current_frame - 1
    assert a.queues[1].get(b.away_from) == PeerInput((6,), False)


def test_coming_back_ends_the_lease_where_every_partner_fixed_it() -> None:
    sessions, transports = _pair()
    a, b = sessions
    now = 0.0
    for step in range(40):
        focused = not 5 <= step < 20
        _tick(a, step % 7, True, now)
        _tick(b, 2, focused, now)
        _exchange(sessions, transports)
        now += 33.0
    assert b.away_from is None and b.back_at is None  # back, and every partner knows
    assert not a.leased(1)
    # b's own log and a's copy of b's inputs are the same frame by frame
    last = min(a.queues[1].last_confirmed, b.queues[1].last_confirmed)
    assert [a.queues[1].get(f) for f in range(last + 1)] == [
        b.queues[1].get(f) for f in range(last + 1)
    ]
    flags = [b.queues[1].get(f).focused for f in range(last + 1)]  # type: ignore[union-attr]
    assert flags[:6] == [True] * 6 and not any(flags[7:20]) and all(flags[-10:])


def test_a_lease_packet_from_far_in_the_future_is_refused() -> None:
    sessions, _ = _pair()
    packet = wire.Focus(1, 0, wire.MAX_FRAME, False, -1)
    with pytest.raises(wire.WireError, match="implausibly"):
        sessions[0].handle_packet(1, wire.encode(packet), 0.0)


def test_an_away_peer_far_behind_its_partner_jumps_ahead_to_catch_up() -> None:
    """A frozen tab comes back 190 frames behind; a pause may have restarted its clock where it
    stood. While it is away it is told to jump to the partner's present (it plays idle there
    anyway), so that it can catch up and ask to come back."""
    sessions, _ = _pair()
    away = sessions[1]
    _tick(away, 3, True, 0.0)
    assert away.catch_up_frame() is None  # not away
    _tick(away, 3, False, 33.0)
    assert away.catch_up_frame() is None  # away, but nobody is ahead
    away.remotes[0].remote_frame = away.current_frame + 190
    assert away.catch_up_frame() == away.current_frame + 190
    away.remotes[0].remote_frame = away.current_frame + 2  # a frame or two: ordinary jitter
    assert away.catch_up_frame() is None
