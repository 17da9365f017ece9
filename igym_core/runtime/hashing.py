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
    "object_hash",
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


# -- objects without a plain-data state -----------------------------------------------------------

_MAX_NODES = 200_000


def object_hash(obj: Any) -> bytes:
    """A 16-byte hash of an object graph, independent of object identity.

    For environments without ``get_state()``: instances of Python classes are walked by their
    class and attributes (as :func:`igym_core.runtime.snapshot.clone` copies them), objects
    implemented in C by what ``__reduce_ex__(4)`` gives (a numpy array's raw bytes, a
    generator's state); shared objects are written out wherever they occur instead of as
    back-references, so a copy hashes like the original. Floats are written by ``repr``, sets
    sorted. Raises :class:`StateHashError` for what cannot be reduced (open files, locks...).
    """
    digest = hashlib.blake2b(digest_size=HASH_SIZE)
    _walk(obj, digest.update, [], [0])
    return digest.digest()


def _name(obj: Any) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', type(obj).__name__)}"


def _walk(obj: Any, out: Any, path: list[int], count: list[int]) -> None:
    from igym_core.runtime.snapshot import python_state

    count[0] += 1
    if count[0] > _MAX_NODES:
        raise StateHashError(f"the object graph has more than {_MAX_NODES} objects")
    kind = type(obj)
    if obj is None or kind is bool or kind is int or kind is float or kind is complex:
        out(f"{kind.__name__}:{obj!r};".encode())
        return
    if kind is str:
        out(f"s{len(obj)}:".encode() + obj.encode("utf-8", "surrogatepass"))
        return
    if kind is bytes or kind is bytearray:
        out(f"b{len(obj)}:".encode() + bytes(obj))
        return
    if isinstance(obj, type) or kind.__name__ in _CALLABLES:
        out(f"g:{_name(obj)};".encode())
        return
    ident = id(obj)
    if ident in path:  # a cycle: refer to the ancestor by its depth
        out(f"^{path.index(ident)};".encode())
        return
    path.append(ident)
    try:
        if kind is list or kind is tuple:
            out(f"{kind.__name__}{len(obj)}[".encode())
            for item in obj:
                _walk(item, out, path, count)
            out(b"]")
        elif kind is dict:
            out(f"dict{len(obj)}{{".encode())
            for key, value in obj.items():
                _walk(key, out, path, count)
                _walk(value, out, path, count)
            out(b"}")
        elif kind is set or kind is frozenset:
            parts = []
            for item in obj:
                chunks: list[bytes] = []
                _walk(item, chunks.append, path, count)
                parts.append(b"".join(chunks))
            out(f"{kind.__name__}{len(obj)}(".encode() + b"".join(sorted(parts)) + b")")
        elif (state := python_state(obj)) is not None:
            attrs, slots = state
            out(f"o:{_name(kind)}(".encode())
            _walk(attrs, out, path, count)
            _walk(slots, out, path, count)
            out(b")")
        else:
            try:
                reduced = obj.__reduce_ex__(4)
            except Exception as exc:
                raise StateHashError(
                    f"a {kind.__name__} cannot be reduced for hashing: {type(exc).__name__}: {exc}"
                ) from None
            if isinstance(reduced, str):
                out(f"g:{reduced};".encode())
            else:
                out(f"r:{_name(kind)}(".encode())
                for part in reduced[1:]:
                    if part is not None and hasattr(part, "__next__"):
                        part = list(part)  # the list and dict items of a reduce tuple
                    _walk(part, out, path, count)
                out(b")")
    finally:
        path.pop()


_CALLABLES = frozenset(
    {"function", "builtin_function_or_method", "method", "module", "method-wrapper"}
)
