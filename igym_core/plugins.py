"""The plugin manager: igym's own built-in plugins plus everything in entry-point group ``igym``.

The core's defaults (the CSV, JSONL and validation exporters) are plugins registered exactly like
third-party ones, so the one path is exercised by every run.

Hooks are called through pluggy's own call loop, so implementations run in pluggy's order (the
last registered first; ``tryfirst``/``trylast`` honoured) and ``wrapper=True`` /
``hookwrapper=True`` implementations wrap the others as pluggy documents. igym extends that loop
in one way: every implementation is registered behind an isolating shim, so an implementation
that raises is reported with its plugin's name and counts as having returned ``None`` (the
others still run); a wrapper that raises is reported and the call goes on as if it had not
been there. A hook called without an argument its spec declares (or with one it does not) is a
bug of the core, raised as :class:`pluggy.HookCallError`, and never blamed on a plugin.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import logging
from collections.abc import Callable, Generator
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

#: At most this many distinct problems are kept (each is logged when it first happens).
MAX_PROBLEMS = 200


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
    """One registered plugin, as ``igym plugins`` shows it.

    ``name`` is the entry-point name (or the module name of a built-in plugin), ``distribution``
    and ``version`` those of the installed distribution that declares it (``None`` for igym's
    built-in plugins and for plugins registered by code).
    """

    name: str
    distribution: str | None
    version: str | None
    hooks: tuple[str, ...]
    provides: tuple[str, ...]


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


Report = Callable[[str, BaseException | None], None]


def _isolated_call(
    function: Callable[..., Any], report: Report, returned: Callable[[Any], None]
) -> Callable[..., Any]:
    """``function`` (a plain implementation) with its exceptions reported and turned into
    ``None``, which pluggy treats as "no contribution"; ``returned`` sees every other result."""

    @functools.wraps(function)
    def isolated(*args: Any, **kwargs: Any) -> Any:
        try:
            result = function(*args, **kwargs)
        except Exception as exc:
            report(f"raised {_describe(exc)}", exc)
            return None
        returned(result)
        return result

    return isolated


def _isolated_wrapper(function: Callable[..., Any], report: Report) -> Callable[..., Any]:
    """``function`` (a new- or old-style wrapper generator) run under pluggy's protocol; when
    its own code raises (or yields other than once), that is reported and the hook call goes on
    as if this wrapper were not there."""

    @functools.wraps(function)
    def isolated(*args: Any, **kwargs: Any) -> Generator[None, Any, Any]:
        try:
            inner = function(*args, **kwargs)
            next(inner)
        except StopIteration:
            report("did not yield", None)
            return (yield)
        except Exception as exc:
            report(f"raised {_describe(exc)} before its yield", exc)
            return (yield)
        try:
            sent = yield
        except BaseException as outcome:  # new-style wrappers see the call's exception
            try:
                inner.throw(outcome)
            except StopIteration as stop:
                return stop.value
            except BaseException as raised:
                if raised is not outcome and isinstance(raised, Exception):
                    report(f"raised {_describe(raised)} after its yield", raised)
                raise outcome from None
            inner.close()
            report("yielded more than once", None)
            raise
        try:
            inner.send(sent)
        except StopIteration as stop:
            return stop.value
        except Exception as exc:
            report(f"raised {_describe(exc)} after its yield", exc)
            return sent
        inner.close()
        report("yielded more than once", None)
        return sent

    return isolated


class _Isolated:
    """What pluggy registers for a plugin: its hook implementations behind isolating shims."""

    def __init__(self, plugin: object, name: str) -> None:
        self.plugin = plugin
        self.name = name

    def __repr__(self) -> str:
        return f"<igym plugin {self.name!r}: {self.plugin!r}>"


class PluginManager:
    """Loads plugins and calls their hooks through pluggy, one broken implementation isolated.

    Problems (a plugin that cannot be imported or registered, an implementation that raises or
    returns the wrong thing) are kept in :attr:`problems` and logged with the plugin's name.
    """

    def __init__(self, *, load_entry_points: bool = True) -> None:
        self.pm = pluggy.PluginManager("igym")
        self.pm.add_hookspecs(hookspecs)
        self.problems: list[PluginProblem] = []
        self._plugins: dict[str, object] = {}
        self._dists: dict[str, tuple[str | None, str | None]] = {}
        self._returned: list[dict[int, str]] = []
        for module_name in BUILTIN_PLUGINS:
            module = importlib.import_module(module_name)
            self.register(module, name=module_name)
        if load_entry_points:
            self._load_entry_points()
        self._environments: dict[str, EnvironmentSpec] | None = None
        self._matchmakers: dict[str, type[Matchmaker]] | None = None
        self._rules: dict[str, type[ExclusionRule]] | None = None
        self._exporters: dict[str, Exporter] | None = None

    # -- registration ---------------------------------------------------------------------------

    def _load_entry_points(self) -> None:
        for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            dist = ep.dist
            distribution = dist.name if dist is not None else None
            version = dist.version if dist is not None else None
            try:
                module = ep.load()
            except Exception as exc:  # a plugin that cannot import must not stop igym
                self._problem(ep.name, None, f"could not be imported: {_describe(exc)}")
                continue
            self.register(module, name=ep.name, version=version, distribution=distribution)

    def register(
        self,
        plugin: ModuleType | object,
        *,
        name: str,
        version: str | None = None,
        distribution: str | None = None,
    ) -> None:
        """Register a plugin object (module or instance); tests use this for throw-away plugins.

        A plugin that implements a hook igym does not have, or whose implementation takes an
        argument its hook does not declare, is reported and not registered.
        """
        shim = _Isolated(plugin, name)
        unknown, refused = [], []
        for attribute in dir(plugin):
            opts = self.pm.parse_hookimpl_opts(plugin, attribute)
            if opts is None:
                continue
            hook_name = opts.get("specname") or attribute
            caller = getattr(self.pm.hook, hook_name, None)
            if caller is None or not caller.has_spec():
                unknown.append(hook_name)
                continue
            function = getattr(plugin, attribute)
            report = self._reporter(name, hook_name)
            if opts.get("wrapper") or opts.get("hookwrapper"):
                if not inspect.isgeneratorfunction(function):
                    refused.append(
                        f"{hook_name} is declared as a wrapper but is not a generator function "
                        "(a wrapper yields exactly once)"
                    )
                setattr(shim, attribute, _isolated_wrapper(function, report))
            else:
                setattr(shim, attribute, _isolated_call(function, report, self._origin(name)))
        if unknown:
            refused.append(f"implements unknown hook {', '.join(unknown)}")
        if refused:
            self._problem(name, None, f"could not be registered: {'; '.join(refused)}")
            return
        try:
            self.pm.register(shim, name=name)
        except Exception as exc:  # pluggy rejects bad signatures and bad wrapper options
            self._problem(name, None, f"could not be registered: {_describe(exc)}")
            return
        self._plugins[name] = plugin
        self._dists[name] = (distribution, version)
        self._forget()

    def unregister(self, name: str) -> None:
        self.pm.unregister(name=name)
        self._plugins.pop(name, None)
        self._dists.pop(name, None)
        self._forget()

    def _forget(self) -> None:
        self._environments = self._matchmakers = self._rules = self._exporters = None

    def _origin(self, plugin: str) -> Callable[[Any], None]:
        """Notes which plugin returned a result, for the hook call in progress."""

        def returned(result: Any) -> None:
            if self._returned and result is not None:
                self._returned[-1][id(result)] = plugin

        return returned

    def _reporter(self, plugin: str, hook: str) -> Report:
        def report(message: str, exc: BaseException | None) -> None:
            self._problem(plugin, hook, message, exc)

        return report

    def _problem(
        self, plugin: str, hook: str | None, message: str, exc: BaseException | None = None
    ) -> None:
        problem = PluginProblem(plugin, hook, message)
        if problem in self.problems:
            return
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(problem)
        log.error("%s", problem, exc_info=exc)

    # -- calling --------------------------------------------------------------------------------

    def _call(self, hook_name: str, kwargs: dict[str, Any]) -> list[tuple[str, Any]]:
        """Call a hook through pluggy; return its results, each with the plugin it came from."""
        caller = getattr(self.pm.hook, hook_name, None)
        if caller is None or caller.spec is None:
            raise pluggy.HookCallError(f"igym has no hook {hook_name!r}")
        declared = set(caller.spec.argnames) | set(getattr(caller.spec, "kwargnames", ()))
        if set(kwargs) != declared:
            raise pluggy.HookCallError(
                f"{hook_name} declares {sorted(declared)} but the core called it with "
                f"{sorted(kwargs)}: a bug in igym, not in a plugin"
            )
        origins: dict[int, str] = {}
        self._returned.append(origins)
        try:
            results = caller(**kwargs)
        finally:
            self._returned.pop()
        if not isinstance(results, list):
            self._problem(
                "(a wrapper)", hook_name, f"made the hook return {type(results).__name__}"
            )
            return []
        return [(origins.get(id(r), f"a wrapper of {hook_name}"), r) for r in results]

    def collect(
        self, hook_name: str, item_type: type, *, classes: bool = False, **kwargs: Any
    ) -> list[tuple[str, Any]]:
        """Call every implementation of a list-returning hook; return ``(plugin, item)`` pairs.

        Items must be instances of ``item_type`` (subclasses of it when ``classes``). A plugin
        whose implementation raises, returns a non-list or returns a wrong item is reported and
        contributes nothing.
        """
        collected: list[tuple[str, Any]] = []
        for plugin, result in self._call(hook_name, kwargs):
            if not isinstance(result, list | tuple):
                self._problem(
                    plugin, hook_name, f"must return a list, returned {type(result).__name__}"
                )
                continue
            bad = [item for item in result if not _is_item(item, item_type, classes)]
            if bad:
                self._problem(
                    plugin,
                    hook_name,
                    f"returned {bad[0]!r}, which is not "
                    f"{'a subclass of' if classes else 'a'} {item_type.__name__}",
                )
                continue
            collected.extend((plugin, item) for item in result)
        return collected

    def notify(self, hook_name: str, **kwargs: Any) -> None:
        """Call an observer hook; errors are reported with the plugin's name and swallowed."""
        self._call(hook_name, kwargs)

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
        for name, shim in self.pm.list_name_plugin():
            hooks = sorted(h.name for h in self.pm.get_hookcallers(shim) or [])
            distribution, version = self._dists.get(name, (None, None))
            infos.append(
                PluginInfo(
                    name, distribution, version, tuple(hooks), tuple(sorted(provides.get(name, ())))
                )
            )
        return sorted(infos, key=lambda i: (i.name.startswith("igym_core."), i.name))


def _is_item(item: Any, item_type: type, classes: bool) -> bool:
    if classes:
        return isinstance(item, type) and issubclass(item, item_type)
    return isinstance(item, item_type)
