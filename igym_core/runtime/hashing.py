"""Canonical state hashing: the same plain state gives the same hash on every peer and platform.

A game state is *plain data*: ``None``, ``bool``, ``int``, finite ``float``, ``str``, and lists,
tuples and dicts of those (dict keys ``str`` or ``int``). :func:`canonical_bytes` turns such a
value into one canonical byte string (JSON, sorted keys, no spaces, tuples written as lists, int
keys written as strings); :func:`state_hash` is its BLAKE2b-128 digest. Python's ``float`` repr is
the shortest round-tripping form everywhere (CPython and Pyodide), so floats hash identically too.

Anything else (sets, objects, NaN, bytes) raises :class:`StateHashError`, naming where in the
state the offending value sits: a state that cannot be hashed canonically cannot be compared.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

__all__ = [
    "HASH_SIZE",
    "StateHashError",
    "canonical_bytes",
    "normalize",
    "state_hash",
    "state_hash_hex",
]

HASH_SIZE = 16
"""Bytes in a state hash (BLAKE2b with a 128-bit digest)."""


class StateHashError(TypeError):
    """A value in a game state is not plain data and cannot be hashed canonically."""


def normalize(value: Any, path: str = "state") -> Any:
    """Return ``value`` as JSON-ready plain data (tuples → lists, int keys → str keys).

    Raises :class:`StateHashError` for anything that is not plain data; ``path`` names the place
    in the message (``state['grid'][3]``).
    """
    kind = type(value)
    if value is None or kind is bool or kind is str or kind is int:
        return value
    if kind is float:
        if not math.isfinite(value):
            raise StateHashError(f"{path} is {value!r}; states may hold only finite floats")
        return value
    if kind is list or kind is tuple:
        return [normalize(item, f"{path}[{i}]") for i, item in enumerate(value)]
    if kind is dict:
        out: dict[str, Any] = {}
        for key, item in value.items():
            if type(key) is str:
                skey = key
            elif type(key) is int:
                skey = str(key)
            else:
                raise StateHashError(f"{path} has a key {key!r}; keys must be str or int")
            if skey in out:
                raise StateHashError(f"{path} has both {skey!r} and {int(skey)!r} as keys")
            out[skey] = normalize(item, f"{path}[{key!r}]")
        return out
    if isinstance(value, bool | int | str | float):  # subclasses such as IntEnum
        for base in (bool, int, float, str):
            if isinstance(value, base):
                return normalize(base(value), path)
    raise StateHashError(
        f"{path} is a {kind.__name__} ({value!r:.60}); states must be plain data "
        "(None, bool, int, float, str, list, tuple, dict)"
    )


def canonical_bytes(value: Any) -> bytes:
    """The canonical JSON encoding of a plain-data value (UTF-8, sorted keys, no whitespace)."""
    return json.dumps(
        normalize(value),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
        allow_nan=False,
    ).encode("ascii")


def state_hash(value: Any) -> bytes:
    """The 16-byte canonical hash of a plain-data state."""
    return hashlib.blake2b(canonical_bytes(value), digest_size=HASH_SIZE).digest()


def state_hash_hex(value: Any) -> str:
    """:func:`state_hash` as 32 lowercase hex digits (for logs and exports)."""
    return state_hash(value).hex()
