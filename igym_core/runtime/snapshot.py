"""A generic snapshot of an environment that has no ``get_state()``: a structural deep copy.

:func:`clone` copies an object graph the way :func:`copy.deepcopy` does, except that instances
of Python classes are copied attribute by attribute (their ``__dict__`` and ``__slots__``)
instead of through their own pickling hooks. Those hooks do not always copy the state:
PettingZoo's envs use gymnasium's ``EzPickle``, whose pickle re-creates a *fresh* env from its
constructor arguments, so ``pickle`` or ``deepcopy`` of a PettingZoo env silently lose the
game in progress. Objects implemented in C (numpy arrays and generators, ...) are copied by
``deepcopy`` itself, whose hooks are faithful for them.
:func:`igym_core.runtime.hashing.object_hash` walks the graph the same way.
"""

from __future__ import annotations

import copy
import types
from typing import Any

__all__ = ["SnapshotError", "clone", "python_state"]

_ATOMIC = (
    type(None),
    bool,
    int,
    float,
    complex,
    str,
    bytes,
    range,
    type,
    types.FunctionType,
    types.BuiltinFunctionType,
    types.ModuleType,
)
_CONTAINERS = (list, dict, set, frozenset, tuple, bytearray)


class SnapshotError(TypeError):
    """Something in the object graph cannot be copied (open files, locks, C handles...)."""


def python_state(obj: Any) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """``(__dict__, filled __slots__)`` of an instance of a Python class, or None for builtins,
    containers (and their subclasses), functions and objects implemented in C."""
    kind = type(obj)
    if kind in _ATOMIC or isinstance(obj, _CONTAINERS) or kind.__module__ == "builtins":
        return None
    slots: dict[str, Any] = {}
    for klass in kind.__mro__[:-1]:
        declared = klass.__dict__.get("__slots__", ())
        for slot in (declared,) if isinstance(declared, str) else declared:
            if slot in ("__dict__", "__weakref__") or slot in slots:
                continue
            try:
                slots[slot] = object.__getattribute__(obj, slot)
            except AttributeError:
                pass
    attrs = obj.__dict__ if isinstance(getattr(obj, "__dict__", None), dict) else None
    if attrs is None and not slots:
        return None
    return attrs or {}, slots


def clone(obj: Any) -> Any:
    """A deep copy of ``obj`` that keeps every attribute of Python objects (see the module)."""
    return _clone(obj, {})


def _clone(obj: Any, memo: dict[int, Any]) -> Any:
    kind = type(obj)
    if kind in _ATOMIC:
        return obj
    ident = id(obj)
    if ident in memo:
        return memo[ident]
    if kind is list:
        new_list: list[Any] = []
        memo[ident] = new_list
        new_list.extend(_clone(x, memo) for x in obj)
        return new_list
    if kind is dict:
        new_dict: dict[Any, Any] = {}
        memo[ident] = new_dict
        for key, value in obj.items():
            new_dict[_clone(key, memo)] = _clone(value, memo)
        return new_dict
    if kind is tuple:
        new_tuple = tuple(_clone(x, memo) for x in obj)
        return memo.setdefault(ident, new_tuple)
    if kind is set or kind is frozenset:
        return memo.setdefault(ident, kind(_clone(x, memo) for x in obj))
    state = python_state(obj)
    if state is not None:
        try:
            new = object.__new__(kind)
        except TypeError:
            new = None
        if new is not None:
            memo[ident] = new
            attrs, slots = state
            if attrs:
                new.__dict__.update({k: _clone(v, memo) for k, v in attrs.items()})
            for name, value in slots.items():
                object.__setattr__(new, name, _clone(value, memo))
            return new
    try:
        return copy.deepcopy(obj, memo)
    except Exception as exc:
        raise SnapshotError(
            f"a {kind.__module__}.{kind.__qualname__} in the env cannot be copied: "
            f"{type(exc).__name__}: {exc}"
        ) from None
