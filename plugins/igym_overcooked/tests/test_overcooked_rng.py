"""The pure-Python generator against numpy itself."""

from __future__ import annotations

import random

import pytest

np = pytest.importorskip("numpy")

from igym_overcooked.rng import (  # noqa: E402
    PCG64,
    cogrid_priority,
    cogrid_reset_draws,
    seed_sequence_pool,
    seed_sequence_state,
)

_rnd = random.Random(20240601)
SEEDS = [0, 1, 2, 42, 2**31 - 1, 2**32 - 1, 2**32, 2**63 - 2, 2**64 - 1, 2**64 + 5, 2**130 + 7]
SEEDS += [_rnd.getrandbits(63) for _ in range(60)] + [_rnd.getrandbits(31) for _ in range(20)]


@pytest.mark.parametrize("seed", SEEDS)
def test_seed_sequence(seed: int) -> None:
    ss = np.random.SeedSequence(seed)
    assert seed_sequence_pool(seed) == [int(x) for x in ss.pool]
    assert seed_sequence_state(seed, 8) == ss.generate_state(8, np.uint32).tolist()
    assert seed_sequence_state(seed, 20) == ss.generate_state(20, np.uint32).tolist()


@pytest.mark.parametrize("seed", SEEDS)
def test_generator_streams(seed: int) -> None:
    g = np.random.default_rng(seed)
    p = PCG64(seed)
    for _ in range(4):
        assert p.next64() == int(g.bit_generator.random_raw())
    for _ in range(3):
        assert p.integers(0, 2**63 - 1) == int(g.integers(0, 2**63 - 1))
        assert p.integers(0, 2**31) == int(g.integers(2**31))
        assert p.integers(5, 17) == int(g.integers(5, 17))
        assert p.integers_n(0, 4, 3) == g.integers(0, 4, size=3).tolist()
        for n in (1, 2, 3, 4, 9, 40):
            assert p.permutation(n) == g.permutation(n).tolist()
        assert p.integers(0, 2**40 + 3) == int(g.integers(0, 2**40 + 3))
        assert p.integers(0, 2**64 - 1) == int(g.integers(0, 2**64 - 1, dtype=np.uint64))


def test_choice_index_matches_generator_choice() -> None:
    for seed in range(30):
        g = np.random.default_rng(seed)
        p = PCG64(seed)
        cells = [(r, c) for r in range(3) for c in range(1 + seed % 5)]
        assert list(cells[p.choice_index(len(cells))]) == g.choice(cells).tolist()


@pytest.mark.parametrize("n_agents", [1, 2, 3, 4])
def test_cogrid_draws(n_agents: int) -> None:
    for key in SEEDS[:40]:
        g = np.random.default_rng(key)
        nxt = int(g.integers(0, 2**63 - 1))
        perm = g.permutation(n_agents).tolist()
        assert cogrid_priority(key, n_agents) == (nxt, tuple(perm))
        assert cogrid_priority(key, n_agents) == (nxt, tuple(perm))  # memoised
        g = np.random.default_rng(key)
        assert cogrid_reset_draws(key, n_agents) == (
            int(g.integers(0, 2**63 - 1)),
            g.integers(0, 4, size=(n_agents,)).tolist(),
        )


def test_negative_seed_is_refused() -> None:
    with pytest.raises(ValueError):
        PCG64(-1)


@pytest.mark.parametrize("seed", SEEDS[:30])
def test_state_is_numpys_bit_generator_state(seed: int) -> None:
    """get_state() equals numpy's bit_generator.state after any mix of draws, and a generator
    restored from numpy's state continues numpy's stream (the step keys cogrid draws)."""
    g = np.random.default_rng(seed)
    p = PCG64(seed)
    rnd = random.Random(seed)
    for _ in range(12):
        assert p.get_state() == g.bit_generator.state
        kind = rnd.randrange(3)
        if kind == 0:
            assert p.integers(0, 2**31) == int(g.integers(2**31))
        elif kind == 1:
            assert p.integers(0, 2**63 - 1) == int(g.integers(0, 2**63 - 1))
        else:
            assert p.permutation(3) == g.permutation(3).tolist()
    restored = PCG64.from_state(g.bit_generator.state)
    assert restored.get_state() == g.bit_generator.state
    assert [restored.integers(0, 2**31) for _ in range(9)] == g.integers(2**31, size=9).tolist()


@pytest.mark.parametrize(
    "state, message",
    [
        (None, "PCG64"),
        ({"bit_generator": "MT19937"}, "PCG64"),
        ({"bit_generator": "PCG64", "state": 5}, "'state'"),
        ({"bit_generator": "PCG64", "state": {"state": -1, "inc": 1}}, "state must be"),
        ({"bit_generator": "PCG64", "state": {"state": 1, "inc": 2}}, "odd"),
        ({"bit_generator": "PCG64", "state": {"state": 1, "inc": 1}, "has_uint32": 2}, "0 or 1"),
        (
            {"bit_generator": "PCG64", "state": {"state": 1, "inc": 1}, "uinteger": 2**32},
            "uinteger",
        ),
    ],
)
def test_malformed_states_are_refused(state, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PCG64.from_state(state)
