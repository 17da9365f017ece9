"""numpy's default random generator, rebuilt in pure Python for the few calls cogrid makes.

cogrid's ``env.step()`` draws each step's key from the env's ``np_random`` generator
(``integers(2**31)``), then draws its movement priorities with
``numpy.random.default_rng(key)``: a ``SeedSequence`` hashes the integer key into a PCG64
state, then ``integers(0, 2**63 - 1)`` gives the state's next ``rng_key`` and
``permutation(n_agents)`` gives the priority order. Its reset draws
agent directions with ``integers(0, 4, size=n)`` from the same kind of generator, and picks
spawn cells with ``Generator.choice``. This module reproduces exactly those streams, bit for
bit, with the standard library only, so the browser (Pyodide, no numpy) and every peer of a
match draw the same numbers. The tests compare every function here with numpy itself.

Everything is integer arithmetic; the SeedSequence's hash constants, which do not depend on
the data, are computed once at import.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "PCG64",
    "cogrid_priority",
    "cogrid_reset_draws",
    "seed_sequence_pool",
    "seed_sequence_state",
]

_M32 = 0xFFFFFFFF
_M64 = 0xFFFFFFFFFFFFFFFF
_M128 = (1 << 128) - 1

# SeedSequence constants (M. O'Neill's seed_seq design as adopted by numpy).
_INIT_A = 0x43B0D7E5
_MULT_A = 0x931E8875
_INIT_B = 0x8B51F9DD
_MULT_B = 0x58F38DED
_MIX_L = 0xCA01F9DD
_MIX_R = 0x4973F715
_POOL = 4

# PCG64 (XSL-RR 128/64) multiplier.
_PCG_MULT = 0x2360ED051FC65DA44385DF649FCCF645


def _const_chain(init: int, mult: int, n: int) -> list[int]:
    chain = [init]
    for _ in range(n):
        chain.append((chain[-1] * mult) & _M32)
    return chain


# mix_entropy calls hashmix 4 + 12 times with a running constant; generate_state uses another.
_HA = _const_chain(_INIT_A, _MULT_A, 4 + _POOL * (_POOL - 1))
_HB = _const_chain(_INIT_B, _MULT_B, 16)


def _words(entropy: int) -> list[int]:
    if entropy < 0:
        raise ValueError("a seed must be a non-negative integer")
    if entropy == 0:
        return [0]
    words = []
    while entropy:
        words.append(entropy & _M32)
        entropy >>= 32
    return words


def seed_sequence_pool(entropy: int) -> list[int]:
    """The 4-word entropy pool ``numpy.random.SeedSequence(entropy).pool`` holds."""
    words = _words(entropy)
    ha = _HA
    k = 0
    pool = [0] * _POOL
    for i in range(_POOL):
        v = words[i] if i < len(words) else 0
        v = ((v ^ ha[k]) * ha[k + 1]) & _M32
        pool[i] = v ^ (v >> 16)
        k += 1
    for src in range(_POOL):
        for dst in range(_POOL):
            if src == dst:
                continue
            v = ((pool[src] ^ ha[k]) * ha[k + 1]) & _M32
            v ^= v >> 16
            k += 1
            r = (_MIX_L * pool[dst] - _MIX_R * v) & _M32
            pool[dst] = r ^ (r >> 16)
    if len(words) > _POOL:
        # More than 128 bits of entropy: keep running the hash as numpy does.
        hc = ha[k]
        for w in words[_POOL:]:
            for dst in range(_POOL):
                v = (w ^ hc) & _M32
                hc = (hc * _MULT_A) & _M32
                v = (v * hc) & _M32
                v ^= v >> 16
                r = (_MIX_L * pool[dst] - _MIX_R * v) & _M32
                pool[dst] = r ^ (r >> 16)
    return pool


def seed_sequence_state(entropy: int, n_words32: int = 8) -> list[int]:
    """``SeedSequence(entropy).generate_state(n_words32, numpy.uint32)`` as a list."""
    pool = seed_sequence_pool(entropy)
    hb = _HB if n_words32 < len(_HB) else _const_chain(_INIT_B, _MULT_B, n_words32)
    out = []
    for i in range(n_words32):
        v = ((pool[i % _POOL] ^ hb[i]) * hb[i + 1]) & _M32
        out.append(v ^ (v >> 16))
    return out


class PCG64:
    """numpy's PCG64 bit generator with ``Generator``'s bounded-integer methods.

    ``PCG64(seed)`` equals ``numpy.random.Generator(numpy.random.PCG64(seed))`` for an integer
    seed. Only the methods cogrid uses exist. ``state``/``inc`` are the 128-bit LCG state and
    increment; ``has_uint32``/``uinteger`` are numpy's spare upper half of the last 64-bit draw
    (``uinteger`` keeps its last value once used, as numpy's does), so :meth:`get_state` is
    exactly numpy's ``bit_generator.state``.
    """

    __slots__ = ("has_uint32", "inc", "state", "uinteger")

    def __init__(self, seed: int) -> None:
        w = seed_sequence_state(seed, 8)
        init_state = ((w[0] | w[1] << 32) << 64) | (w[2] | w[3] << 32)
        init_seq = ((w[4] | w[5] << 32) << 64) | (w[6] | w[7] << 32)
        inc = ((init_seq << 1) | 1) & _M128
        state = inc  # state 0, one step
        state = (state + init_state) & _M128
        self.state = (state * _PCG_MULT + inc) & _M128
        self.inc = inc
        self.has_uint32 = 0
        self.uinteger = 0

    def get_state(self) -> dict:
        """The generator's state in numpy's ``bit_generator.state`` format (plain ints)."""
        return {
            "bit_generator": "PCG64",
            "state": {"state": self.state, "inc": self.inc},
            "has_uint32": self.has_uint32,
            "uinteger": self.uinteger,
        }

    def set_state(self, state: Mapping[str, Any]) -> None:
        """Restore a state from :meth:`get_state` or numpy's ``PCG64().state``.

        Raises ``ValueError`` naming what is wrong with a malformed state.
        """
        if not isinstance(state, Mapping) or state.get("bit_generator") != "PCG64":
            raise ValueError(
                "a generator state must be a dict like numpy's PCG64 state "
                f"(bit_generator 'PCG64'), got {state!r:.120}"
            )
        inner = state.get("state")
        if not isinstance(inner, Mapping):
            raise ValueError("generator state['state'] must be {'state': int, 'inc': int}")
        value, inc = inner.get("state"), inner.get("inc")
        has, word = state.get("has_uint32", 0), state.get("uinteger", 0)
        for name, x, top in (
            ("state", value, _M128),
            ("inc", inc, _M128),
            ("uinteger", word, _M32),
        ):
            if not isinstance(x, int) or isinstance(x, bool) or not 0 <= x <= top:
                raise ValueError(f"generator {name} must be an int in 0..{top}, got {x!r}")
        if has not in (0, 1) or isinstance(has, bool):
            raise ValueError(f"generator has_uint32 must be 0 or 1, got {has!r}")
        if not inc & 1:
            raise ValueError("generator inc must be odd (it is a PCG64 stream increment)")
        self.state = value
        self.inc = inc
        self.has_uint32 = has
        self.uinteger = word

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> PCG64:
        """A generator restored from a numpy-format state (see :meth:`set_state`)."""
        gen = cls.__new__(cls)
        gen.set_state(state)
        return gen

    def next64(self) -> int:
        s = (self.state * _PCG_MULT + self.inc) & _M128
        self.state = s
        x = ((s >> 64) ^ s) & _M64
        rot = s >> 122
        return ((x >> rot) | (x << (64 - rot))) & _M64

    def next32(self) -> int:
        if self.has_uint32:
            self.has_uint32 = 0
            return self.uinteger
        x = self.next64()
        self.has_uint32 = 1
        self.uinteger = x >> 32
        return x & _M32

    def _bounded(self, rng: int) -> int:
        """A uniform integer in ``[0, rng]`` the way numpy's Lemire sampler draws it."""
        if rng == 0:
            return 0
        if rng <= _M32:
            if rng == _M32:
                return self.next32()
            excl = rng + 1
            m = self.next32() * excl
            left = m & _M32
            if left < excl:
                threshold = (_M32 - rng) % excl
                while left < threshold:
                    m = self.next32() * excl
                    left = m & _M32
            return m >> 32
        if rng == _M64:
            return self.next64()
        excl = rng + 1
        m = self.next64() * excl
        left = m & _M64
        if left < excl:
            threshold = (_M64 - rng) % excl
            while left < threshold:
                m = self.next64() * excl
                left = m & _M64
        return m >> 64

    def integers(self, low: int, high: int) -> int:
        """``Generator.integers(low, high)`` (int64, high exclusive)."""
        if high <= low:
            raise ValueError("high must be greater than low")
        return low + self._bounded(high - 1 - low)

    def integers_n(self, low: int, high: int, n: int) -> list[int]:
        """``Generator.integers(low, high, size=n)`` as a list."""
        if high <= low:
            raise ValueError("high must be greater than low")
        rng = high - 1 - low
        return [low + self._bounded(rng) for _ in range(n)]

    def _interval(self, top: int) -> int:
        """numpy's ``random_interval``: uniform in ``[0, top]`` by masked rejection."""
        if top == 0:
            return 0
        mask = top
        mask |= mask >> 1
        mask |= mask >> 2
        mask |= mask >> 4
        mask |= mask >> 8
        mask |= mask >> 16
        mask |= mask >> 32
        if top <= _M32:
            v = self.next32() & mask
            while v > top:
                v = self.next32() & mask
        else:
            v = self.next64() & mask
            while v > top:
                v = self.next64() & mask
        return v

    def permutation(self, n: int) -> list[int]:
        """``Generator.permutation(n)`` as a list (Fisher-Yates from the top)."""
        arr = list(range(n))
        for i in range(n - 1, 0, -1):
            j = self._interval(i)
            arr[i], arr[j] = arr[j], arr[i]
        return arr

    def choice_index(self, n: int) -> int:
        """The index ``Generator.choice(a)`` picks from a population of ``n``."""
        return self.integers(0, n)


_KEY_HIGH = 2**63 - 1
_perm_cache: dict[tuple[int, int], tuple[int, tuple[int, ...]]] = {}


def cogrid_priority(key: int, n_agents: int) -> tuple[int, tuple[int, ...]]:
    """One movement step's draws: ``(next_key, priority)`` for the generator seeded by ``key``.

    The same as cogrid's numpy ``_backend_rng(key, "permutation", n_agents)``. Results are
    memoised (bounded), so rollback replays of the same frames cost a dict lookup.
    """
    hit = _perm_cache.get((key, n_agents))
    if hit is not None:
        return hit
    g = PCG64(key)
    nxt = g.integers(0, _KEY_HIGH)
    perm = tuple(g.permutation(n_agents))
    if len(_perm_cache) >= 4096:
        _perm_cache.clear()
    out = (nxt, perm)
    _perm_cache[(key, n_agents)] = out
    return out


def cogrid_reset_draws(seed: int, n_agents: int) -> tuple[int, list[int]]:
    """cogrid's reset draws from ``default_rng(seed)``: ``(rng_key, directions)``."""
    g = PCG64(seed)
    key = g.integers(0, _KEY_HIGH)
    return key, g.integers_n(0, 4, n_agents)
