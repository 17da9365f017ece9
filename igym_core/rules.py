"""Exclusion rules as the server runs them: every rule an experiment lists (by name, class or
callable; :class:`igym_core.config.Rule`) built once, checked against the installed plugins, and
run against a read-only context, each verdict carrying the participant-facing message, redirect
and completion code the experiment configured.

:func:`check_rules` is what ``igym validate`` and the server's start run: an unknown name, a bad
option or a rule in the wrong list fails with a :class:`ConfigError` naming the field.
"""

from __future__ import annotations

import logging
import threading
import types
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from igym_core.config import ConfigError, Experiment, GameScene, Rule, phase_text
from igym_core.options import build
from igym_core.specs import Exclusion, ExclusionRule, RuleWarning

if TYPE_CHECKING:
    from igym_core.plugins import PluginManager

log = logging.getLogger("igym.rules")

#: what a participant reads when a callable rule excludes them and no message was configured
DEFAULT_MESSAGE = "Unfortunately you cannot take part in this study."
MAX_REASON = 500


@attrs.frozen
class Verdict:
    """What a rule decided: ``exclude`` or ``warn``, with everything the page and the data need."""

    action: str
    rule: str
    reason: str
    message: str
    redirect_url: str | None = None
    completion_code: str | None = None


@attrs.frozen
class RuleFailure:
    """A rule raised (or returned something that is not a verdict)."""

    rule: str
    error: str


@attrs.define(eq=False)
class LiveRule:
    """One rule of an experiment, built: ``check`` is the rule object's method or the callable."""

    spec: Rule
    label: str
    phase: str
    check: Callable[[Mapping[str, Any]], Any]
    default_message: str
    errors: int = 0
    _lock: threading.Lock = attrs.field(factory=threading.Lock)

    def run(self, context: Mapping[str, Any]) -> Verdict | RuleFailure | None:
        """Check ``context`` (frozen here); never raises."""
        frozen = freeze(context)
        try:
            with self._lock:  # one rule object is never checked by two threads at once
                result = self.check(frozen)
            return self._verdict(result)
        except Exception as exc:  # a researcher's rule: anything may happen
            self.errors += 1
            return RuleFailure(self.label, f"{type(exc).__name__}: {exc}"[:MAX_REASON])

    def _verdict(self, result: Any) -> Verdict | None:
        if result is None:
            return None
        if isinstance(result, str):
            return self.verdict("exclude", result, "")
        if isinstance(result, Exclusion | RuleWarning):
            action = "exclude" if isinstance(result, Exclusion) else "warn"
            if action == "warn" and self.phase == "entry":
                return None  # nobody sees a warning at entry: it lets them in
            return self.verdict(action, result.reason, result.message)
        raise TypeError(
            f"returned {type(result).__name__}; a rule returns None, an Exclusion, a "
            "RuleWarning or a reason (str)"
        )

    def verdict(self, action: str, reason: str, message: str) -> Verdict:
        """A verdict of this rule; the experiment's message wins over the rule's own."""
        return Verdict(
            action,
            self.label,
            str(reason)[:MAX_REASON],
            self.spec.message or message or self.default_message,
            self.spec.redirect_url,
            self.spec.completion_code,
        )

    def on_error(self, failure: RuleFailure) -> Verdict | None:
        """The verdict for a rule that raised: none, unless the experiment says it excludes."""
        if not self.spec.exclude_on_error:
            return None
        return self.verdict("exclude", f"rule error: {failure.error}", "")


class RuleBook:
    """Every rule of one experiment, built once for the whole run of the server."""

    def __init__(self, experiment: Experiment, plugins: PluginManager) -> None:
        self.entry = tuple(
            _live(r, plugins, f"Experiment.entry_rules[{i}]", "entry")
            for i, r in enumerate(experiment.entry_rules)
        )
        self.scenes: dict[str, tuple[LiveRule, ...]] = {}
        for scene in experiment.scenes:
            if isinstance(scene, GameScene) and scene.rules:
                where = f"GameScene({scene.id!r}).rules"
                self.scenes[scene.id] = tuple(
                    _live(r, plugins, f"{where}[{i}]", "continuous")
                    for i, r in enumerate(scene.rules)
                )

    def for_scene(self, scene_id: str) -> tuple[LiveRule, ...]:
        return self.scenes.get(scene_id, ())

    def count(self) -> int:
        return len(self.entry) + sum(len(r) for r in self.scenes.values())


def check_rules(experiment: Experiment, plugins: PluginManager) -> RuleBook:
    """Build every rule of ``experiment``; a :class:`ConfigError` names the field of the first
    that cannot be built."""
    return RuleBook(experiment, plugins)


def _live(spec: Rule, plugins: PluginManager, where: str, phase: str) -> LiveRule:
    kind = spec.kind
    if kind == "callable":
        return LiveRule(spec, spec.label, phase, spec.rule, DEFAULT_MESSAGE)
    if kind == "name":
        cls = plugins.exclusion_rules.get(spec.rule)
        if cls is None:
            known = ", ".join(sorted(plugins.exclusion_rules)) or "none installed"
            raise ConfigError(
                f"{where}: no plugin provides the exclusion rule {spec.rule!r} (known: {known})"
            )
    else:
        cls = spec.rule
    if cls.phase != phase:
        raise ConfigError(
            f"{where}: {spec.label!r} is {phase_text(cls.phase)} rule; this list holds {phase} rules"
        )
    instance: ExclusionRule = build(cls, spec.options, f"{where}.options")
    message = getattr(instance, "message", None)
    return LiveRule(
        spec,
        spec.label,
        phase,
        instance.check,
        message if isinstance(message, str) and message else DEFAULT_MESSAGE,
    )


def freeze(value: Any) -> Any:
    """A read-only copy: mappings become mapping proxies, lists and sets tuples."""
    if isinstance(value, Mapping):
        return types.MappingProxyType({k: freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple | set | frozenset):
        return tuple(freeze(v) for v in value)
    return value


def median(values: list[float] | tuple[float, ...]) -> float | None:
    """The median of ``values`` (None when empty)."""
    if not values:
        return None
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
