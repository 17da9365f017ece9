"""The plugin manager: igym's own built-in plugins plus everything in entry-point group ``igym``.

The core's defaults (the CSV and JSONL exporters) are plugins registered exactly like
third-party ones, so the one path is exercised by every run.
"""

from __future__ import annotations

import importlib
import logging
from importlib.metadata import entry_points
from types import ModuleType
from typing import Any

import attrs
import pluggy

from igym_core import hookspecs
from igym_core.specs import EnvironmentSpec, ExclusionRule, Exporter, Matchmaker

log = logging.getLogger("igym.plugins")

BUILTIN_PLUGINS = (
    "igym_core.export.csv_exporter",
    "igym_core.export.jsonl_exporter",
    "igym_core.export.validation_exporter",
    "igym_core.export.parquet_exporter",
)

ENTRY_POINT_GROUP = "igym"


class PluginError(Exception):
    """Raised for a problem that a plugin caused; the message names the plugin."""


@attrs.define
class PluginProblem:
    """A plugin that failed to load, or whose hook raised or returned something wrong."""

    plugin: str
    hook: str | None
    message: str

    def __str__(self) -> str:
        where = f" in {self.hook}" if self.hook else ""
        return f"plugin {self.plugin!r}{where}: {self.message}"


@attrs.frozen
class PluginInfo:
    name: str
    version: str | None
    hooks: tuple[str, ...]
    provides: tuple[str, ...]


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


class PluginManager:
    """Loads plugins and calls their hooks one implementation at a time.

    Each implementation is called separately so that one broken plugin cannot hide the others'
    contributions; its problem is kept in :attr:`problems` and logged with its name.
    """

    def __init__(self, *, load_entry_points: bool = True) -> None:
        self.pm = pluggy.PluginManager("igym")
        self.pm.add_hookspecs(hookspecs)
        self.problems: list[PluginProblem] = []
        self._versions: dict[str, str | None] = {}
        for module_name in BUILTIN_PLUGINS:
            module = importlib.import_module(module_name)
            self.register(module, name=module_name, version=None)
        if load_entry_points:
            self._load_entry_points()
        self._environments: dict[str, EnvironmentSpec] | None = None
        self._matchmakers: dict[str, type[Matchmaker]] | None = None
        self._rules: dict[str, type[ExclusionRule]] | None = None
        self._exporters: dict[str, Exporter] | None = None

    # -- registration ---------------------------------------------------------------------------

    def _load_entry_points(self) -> None:
        for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            version = ep.dist.version if ep.dist is not None else None
            try:
                module = ep.load()
            except Exception as exc:  # a plugin that cannot import must not stop igym
                self._problem(ep.name, None, f"could not be imported: {_describe(exc)}")
                continue
            self.register(module, name=ep.name, version=version)

    def register(
        self, plugin: ModuleType | object, *, name: str, version: str | None = None
    ) -> None:
        """Register a plugin object (module or instance); tests use this for throw-away plugins."""
        try:
            self.pm.register(plugin, name=name)
        except Exception as exc:  # pluggy rejects unknown hooks or bad signatures
            self._problem(name, None, f"could not be registered: {_describe(exc)}")
            return
        unknown = sorted(
            caller.name for caller in self.pm.get_hookcallers(plugin) or [] if not caller.has_spec()
        )
        if unknown:
            self.pm.unregister(plugin)
            self._problem(
                name, None, f"could not be registered: implements unknown hook {', '.join(unknown)}"
            )
            return
        self._versions[name] = version
        self._forget()

    def unregister(self, name: str) -> None:
        self.pm.unregister(name=name)
        self._versions.pop(name, None)
        self._forget()

    def _forget(self) -> None:
        self._environments = self._matchmakers = self._rules = self._exporters = None

    def _problem(self, plugin: str, hook: str | None, message: str) -> None:
        problem = PluginProblem(plugin, hook, message)
        if problem not in self.problems:
            self.problems.append(problem)
            log.error("%s", problem)

    # -- calling --------------------------------------------------------------------------------

    def _impls(self, hook_name: str) -> list[pluggy.HookImpl]:
        # In registration order: built-ins first, then entry points sorted by name.
        return list(getattr(self.pm.hook, hook_name).get_hookimpls())

    def collect(
        self, hook_name: str, item_type: type, *, classes: bool = False, **kwargs: Any
    ) -> list[tuple[str, Any]]:
        """Call every implementation of a list-returning hook; return ``(plugin, item)`` pairs.

        Items must be instances of ``item_type`` (subclasses of it when ``classes``). A plugin
        whose implementation raises, returns a non-list or returns a wrong item is reported and
        contributes nothing.
        """
        collected: list[tuple[str, Any]] = []
        for impl in self._impls(hook_name):
            try:
                result = impl.function(**{k: kwargs[k] for k in impl.argnames})
            except Exception as exc:
                self._problem(impl.plugin_name, hook_name, f"raised {_describe(exc)}")
                continue
            if result is None:
                continue
            if not isinstance(result, list | tuple):
                self._problem(
                    impl.plugin_name,
                    hook_name,
                    f"must return a list, returned {type(result).__name__}",
                )
                continue
            bad = [item for item in result if not _is_item(item, item_type, classes)]
            if bad:
                self._problem(
                    impl.plugin_name,
                    hook_name,
                    f"returned {bad[0]!r}, which is not "
                    f"{'a subclass of' if classes else 'a'} {item_type.__name__}",
                )
                continue
            collected.extend((impl.plugin_name, item) for item in result)
        return collected

    def notify(self, hook_name: str, **kwargs: Any) -> None:
        """Call an observer hook; errors are reported with the plugin's name and swallowed."""
        for impl in self._impls(hook_name):
            try:
                impl.function(**{k: kwargs[k] for k in impl.argnames})
            except Exception as exc:
                self._problem(impl.plugin_name, hook_name, f"raised {_describe(exc)}")

    # -- what plugins provide -------------------------------------------------------------------

    def _by_name(self, hook_name: str, item_type: type, kind: str) -> dict[str, Any]:
        found: dict[str, Any] = {}
        classes = item_type in (Matchmaker, ExclusionRule)
        for plugin, item in self.collect(hook_name, item_type, classes=classes):
            name = getattr(item, "name", "")
            if not name:
                self._problem(plugin, hook_name, f"{kind} {item!r} has no name")
            elif name in found:
                self._problem(plugin, hook_name, f"{kind} {name!r} is already provided; ignored")
            else:
                found[name] = item
        return found

    @property
    def environments(self) -> dict[str, EnvironmentSpec]:
        if self._environments is None:
            self._environments = self._by_name("igym_environments", EnvironmentSpec, "environment")
        return self._environments

    @property
    def matchmakers(self) -> dict[str, type[Matchmaker]]:
        if self._matchmakers is None:
            self._matchmakers = self._by_name("igym_matchmakers", Matchmaker, "matchmaker")
        return self._matchmakers

    @property
    def exclusion_rules(self) -> dict[str, type[ExclusionRule]]:
        if self._rules is None:
            self._rules = self._by_name("igym_exclusion_rules", ExclusionRule, "exclusion rule")
        return self._rules

    @property
    def exporters(self) -> dict[str, Exporter]:
        if self._exporters is None:
            self._exporters = self._by_name("igym_exporters", Exporter, "exporter")
        return self._exporters

    def environment(self, name: str) -> EnvironmentSpec:
        try:
            return self.environments[name]
        except KeyError:
            known = ", ".join(sorted(self.environments)) or "none installed"
            raise PluginError(f"no plugin provides environment {name!r} (known: {known})") from None

    def describe(self) -> list[PluginInfo]:
        """What each registered plugin is and what it provides (for ``igym plugins``)."""
        provides: dict[str, list[str]] = {}
        kinds = (
            ("igym_environments", EnvironmentSpec, "environment"),
            ("igym_matchmakers", Matchmaker, "matchmaker"),
            ("igym_exclusion_rules", ExclusionRule, "exclusion rule"),
            ("igym_exporters", Exporter, "exporter"),
        )
        for hook_name, item_type, kind in kinds:
            classes = item_type in (Matchmaker, ExclusionRule)
            for plugin, item in self.collect(hook_name, item_type, classes=classes):
                provides.setdefault(plugin, []).append(f"{kind} {item.name}")
        infos = []
        for name, plugin in self.pm.list_name_plugin():
            hooks = sorted(h.name for h in self.pm.get_hookcallers(plugin) or [])
            infos.append(
                PluginInfo(
                    name, self._versions.get(name), tuple(hooks), tuple(provides.get(name, ()))
                )
            )
        return sorted(infos, key=lambda i: (i.name.startswith("igym_core."), i.name))


def _is_item(item: Any, item_type: type, classes: bool) -> bool:
    if classes:
        return isinstance(item, type) and issubclass(item, item_type)
    return isinstance(item, item_type)
