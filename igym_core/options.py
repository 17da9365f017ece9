"""Options an experiment gives a plugin's class (a matchmaker, an exclusion rule), checked when the
experiment loads: against the constructor's signature and simple type annotations, then by the
constructor itself. Every problem is a :class:`ConfigError` naming the experiment's field."""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from igym_core.config import ConfigError, Experiment, GameScene
from igym_core.specs import ExclusionRule

if TYPE_CHECKING:
    from igym_core.plugins import PluginManager

T = TypeVar("T")

_SIMPLE = {int, float, str, bool, type(None), list, dict, tuple}


def build(cls: type[T], options: Mapping[str, Any], where: str) -> T:
    """``cls(**options)``, or a :class:`ConfigError` that starts with ``where`` (the field that
    holds the options, e.g. ``GameScene('play').matchmaker_options``) and names the option."""
    label = getattr(cls, "name", "") or cls.__name__
    try:
        signature = inspect.signature(cls)
    except (TypeError, ValueError):  # a class whose signature cannot be read: just try it
        signature = None
    if signature is not None:
        _check_signature(cls, signature, options, where, label)
    try:
        return cls(**options)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {label!r} refused them: {exc}") from None


def _check_signature(
    cls: type, signature: inspect.Signature, options: Mapping[str, Any], where: str, label: str
) -> None:
    params = signature.parameters
    takes_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
    named = {n: p for n, p in params.items() if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}
    for key in options:
        if key not in named and not takes_any:
            takes = ", ".join(sorted(named)) or "none"
            raise ConfigError(
                f"{where}[{key!r}]: {label!r} has no option {key!r} (options: {takes})"
            )
    for name, param in named.items():
        if param.default is param.empty and name not in options:
            raise ConfigError(f"{where}: {label!r} needs the option {name!r}")
    hints = _hints(cls)
    for key, value in options.items():
        expected = hints.get(key)
        if expected is not None and not _conforms(value, expected):
            raise ConfigError(
                f"{where}[{key!r}]: {label!r} expects {_show(expected)}, got {value!r}"
            )


def _hints(cls: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(cls.__init__)
    except Exception:  # annotations naming what is not importable here: no type check
        return {}


def _conforms(value: Any, expected: Any) -> bool:
    """Whether ``value`` fits a simple annotation; True for anything this cannot judge."""
    origin = typing.get_origin(expected)
    if origin in (typing.Union, types.UnionType):
        return any(_conforms(value, arg) for arg in typing.get_args(expected))
    if origin is typing.Literal:
        return value in typing.get_args(expected)
    if expected is Any:
        return True
    target = origin or expected
    if target is Mapping:
        target = dict
    elif target is Sequence:
        target = list
    if target not in _SIMPLE and not (isinstance(target, type) and issubclass(target, tuple)):
        return True
    if target is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if target is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if target in (list, tuple):
        return isinstance(value, list | tuple)
    return isinstance(value, target)


def _show(expected: Any) -> str:
    if isinstance(expected, type):
        return expected.__name__
    return str(expected).replace("typing.", "").replace("NoneType", "None")


def check_matchmaker_options(experiment: Experiment, plugins: PluginManager) -> None:
    """Build every multiplayer scene's matchmaker from its ``matchmaker_options``, so that a bad
    option fails now, naming the scene's field, instead of leaving participants waiting."""
    for scene in experiment.scenes:
        if isinstance(scene, GameScene) and scene.multiplayer:
            cls = plugins.matchmakers.get(scene.matchmaker)
            if cls is not None:  # an unknown name is check_plugins' error
                build(cls, scene.matchmaker_options, f"GameScene({scene.id!r}).matchmaker_options")


def build_rule(
    plugins: PluginManager, name: str, options: Mapping[str, Any], where: str
) -> ExclusionRule:
    """The installed exclusion rule ``name`` built with ``options``; ``where`` names the field
    that lists the rule (e.g. ``Experiment.entry_rules[0]``)."""
    cls = plugins.exclusion_rules.get(name)
    if cls is None:
        known = ", ".join(sorted(plugins.exclusion_rules)) or "none installed"
        raise ConfigError(
            f"{where}: no plugin provides the exclusion rule {name!r} (known: {known})"
        )
    return build(cls, options, f"{where}.options")
