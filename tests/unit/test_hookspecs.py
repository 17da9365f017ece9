"""The hook specs: each documented and typed, each called by the core exactly as declared, each
with a test of its own; and the plugin manager keeps pluggy's call order and wrapper semantics."""

from __future__ import annotations

import ast
import inspect
import re
import types
from pathlib import Path

import pluggy
import pytest

from igym_core import EnvironmentSpec, hookimpl, hookspecs
from igym_core.plugins import PluginManager
from tests.conftest import ROOT

SPECS = {
    name: function
    for name, function in vars(hookspecs).items()
    if name.startswith("igym_") and callable(function)
}


def test_there_are_hooks():
    assert len(SPECS) >= 10, sorted(SPECS)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_plugin_hooks_are_documented_and_typed(name):
    spec = SPECS[name]
    doc = inspect.getdoc(spec)
    assert doc and len(doc) > 40, f"{name} has no docstring"
    signature = inspect.signature(spec, eval_str=False)
    assert signature.return_annotation is not inspect.Signature.empty, f"{name} has no return type"
    for parameter in signature.parameters.values():
        assert parameter.annotation is not inspect.Parameter.empty, (
            f"{name}({parameter.name}) untyped"
        )
        assert f"``{parameter.name}``" in doc, (
            f"{name}'s docstring does not explain {parameter.name}"
        )


def _tests_source() -> str:
    return "\n".join(p.read_text() for p in (ROOT / "tests").rglob("test_*.py"))


@pytest.mark.parametrize("name", sorted(SPECS))
def test_plugin_hooks_have_tests(name):
    assert re.search(rf"def test_hook_{name}\b", _tests_source()), (
        f"no test named test_hook_{name} under tests/"
    )


def _core_calls() -> list[tuple[str, str, set[str] | None]]:
    """``(file, hook, keyword names)`` of every place igym_core names a hook. The keywords are
    those of a ``notify``/``collect`` call with the hook's name as its first argument; None for a
    name used otherwise (the contribution hooks go through ``_by_name``, without arguments)."""
    found = []
    for path in sorted((ROOT / "igym_core").rglob("*.py")):
        if path.name == "hookspecs.py":
            continue
        tree = ast.parse(path.read_text())
        named_in_call: set[int] = set()
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("notify", "collect")
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and str(node.args[0].value).startswith("igym_")
            ):
                named_in_call.add(id(node.args[0]))
                keywords = {k.arg for k in node.keywords if k.arg not in (None, "classes")}
                found.append((path.name, node.args[0].value, keywords))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and node.value in SPECS
                and id(node) not in named_in_call
            ):
                found.append((path.name, node.value, None))
    return found


def test_the_core_calls_every_hook_with_exactly_the_arguments_it_declares():
    calls = _core_calls()
    for where, hook, keywords in calls:
        assert hook in SPECS, f"{where} calls {hook}, which has no spec"
        if keywords is None:
            assert not inspect.signature(SPECS[hook]).parameters, (
                f"{where} names {hook} outside a notify()/collect() call, so its arguments "
                "cannot be checked"
            )
            continue
        declared = set(inspect.signature(SPECS[hook]).parameters)
        assert keywords == declared, f"{where} calls {hook} with {keywords}, declared {declared}"
    assert {hook for _, hook, _ in calls} == set(SPECS), "some hooks are never called"


# -- the manager at run time ----------------------------------------------------------------------


@pytest.fixture
def bare() -> PluginManager:
    return PluginManager(load_entry_points=False)


def test_a_call_without_a_declared_argument_is_the_cores_error(bare):
    seen = []
    plugin = types.SimpleNamespace()
    plugin.igym_on_session_end = hookimpl(lambda participant_id: seen.append(participant_id))
    bare.register(plugin, name="watch")
    with pytest.raises(pluggy.HookCallError, match="a bug in igym, not in a plugin"):
        bare.notify("igym_on_session_end", experiment_id="e", reason="completed")
    with pytest.raises(pluggy.HookCallError, match="declares"):
        bare.notify(
            "igym_on_session_end", experiment_id="e", participant_id="p", reason="x", extra=1
        )
    with pytest.raises(pluggy.HookCallError, match="no hook"):
        bare.notify("igym_on_nothing")
    assert seen == [] and bare.problems == []


def test_an_implementation_with_an_argument_its_hook_lacks_is_refused_by_name(bare):
    plugin = types.SimpleNamespace()
    plugin.igym_on_session_end = hookimpl(lambda participant_id, colour: None)
    bare.register(plugin, name="typo")
    [problem] = bare.problems
    assert problem.plugin == "typo" and "could not be registered" in problem.message
    assert "colour" in problem.message


class Recorder:
    """Plugins for igym_on_session_end that write what they did into one shared list."""

    def __init__(self) -> None:
        self.log: list[str] = []

    def plain(self, tag: str, **opts):
        log = self.log

        @hookimpl(**opts)
        def igym_on_session_end(participant_id):
            log.append(tag)

        return types.SimpleNamespace(igym_on_session_end=igym_on_session_end)

    def wrapper(self, tag: str, **opts):
        log = self.log

        @hookimpl(wrapper=True, **opts)
        def igym_on_session_end():
            log.append(f"{tag}:before")
            result = yield
            log.append(f"{tag}:after")
            return result

        return types.SimpleNamespace(igym_on_session_end=igym_on_session_end)

    def old_wrapper(self, tag: str):
        log = self.log

        @hookimpl(hookwrapper=True)
        def igym_on_session_end():
            log.append(f"{tag}:before")
            yield
            log.append(f"{tag}:after")

        return types.SimpleNamespace(igym_on_session_end=igym_on_session_end)

    def lineup(self) -> list[tuple[str, object]]:
        return [
            ("a", self.plain("a")),
            ("first", self.plain("first", tryfirst=True)),
            ("last", self.plain("last", trylast=True)),
            ("w", self.wrapper("w")),
            ("b", self.plain("b")),
            ("old", self.old_wrapper("old")),
            ("wfirst", self.wrapper("wfirst", tryfirst=True)),
            ("c", self.plain("c")),
        ]


def test_hook_order_with_tryfirst_trylast_and_wrappers_is_pluggys(bare):
    reference = pluggy.PluginManager("igym")
    reference.add_hookspecs(hookspecs)
    ours, theirs = Recorder(), Recorder()
    for name, plugin in ours.lineup():
        bare.register(plugin, name=name)
    for name, plugin in theirs.lineup():
        reference.register(plugin, name=name)
    bare.notify("igym_on_session_end", experiment_id="e", participant_id="p", reason="completed")
    reference.hook.igym_on_session_end(experiment_id="e", participant_id="p", reason="completed")
    assert ours.log == theirs.log
    assert bare.problems == []
    # what pluggy's order is, spelled out: wrappers outside, tryfirst first, the rest LIFO
    assert ours.log == [
        "wfirst:before",
        "old:before",
        "w:before",
        "first",
        "c",
        "b",
        "a",
        "last",
        "w:after",
        "old:after",
        "wfirst:after",
    ]


def _env(name: str) -> EnvironmentSpec:
    return EnvironmentSpec(
        name=name, factory="m:f", agent_ids=["a"], action_labels={0: "x"}, default_action=0
    )


def test_a_wrapper_can_change_what_a_hook_returns(bare):
    plugin = types.SimpleNamespace(igym_environments=hookimpl(lambda: [_env("one"), _env("two")]))

    @hookimpl(wrapper=True)
    def igym_environments():
        results = yield
        return [[spec for spec in result if spec.name != "two"] for result in results]

    bare.register(plugin, name="envs")
    bare.register(types.SimpleNamespace(igym_environments=igym_environments), name="filter")
    assert list(bare.environments) == ["one"]
    assert bare.problems == []


def test_a_broken_wrapper_is_reported_and_the_call_goes_on(bare):
    seen = Recorder()
    bare.register(seen.plain("a"), name="a")

    @hookimpl(wrapper=True)
    def igym_on_session_end():
        yield
        raise RuntimeError("teardown bug")

    @hookimpl(hookwrapper=True)
    def early():
        raise ValueError("setup bug")
        yield  # pragma: no cover

    bare.register(types.SimpleNamespace(igym_on_session_end=igym_on_session_end), name="late")
    bare.register(types.SimpleNamespace(igym_on_session_end=early), name="early")
    bare.register(seen.plain("b"), name="b")
    bare.notify("igym_on_session_end", experiment_id="e", participant_id="p", reason="completed")
    assert seen.log == ["b", "a"]
    problems = {p.plugin: p.message for p in bare.problems}
    assert problems == {
        "late": "raised RuntimeError: teardown bug after its yield",
        "early": "raised ValueError: setup bug before its yield",
    }


def test_a_raising_implementation_does_not_stop_those_after_it(bare):
    seen = Recorder()
    bare.register(seen.plain("a"), name="a")

    @hookimpl(tryfirst=True)
    def igym_on_session_end():
        raise KeyError("participant_id")  # a plugin's own KeyError is its own problem

    bare.register(types.SimpleNamespace(igym_on_session_end=igym_on_session_end), name="bad")
    bare.notify("igym_on_session_end", experiment_id="e", participant_id="p", reason="completed")
    assert seen.log == ["a"]
    [problem] = bare.problems
    assert problem.plugin == "bad" and problem.hook == "igym_on_session_end"


def test_a_wrapper_that_is_not_a_generator_is_refused_with_a_clear_message(bare):
    bare.register(
        types.SimpleNamespace(igym_on_session_end=hookimpl(wrapper=True)(lambda: None)), name="w"
    )
    [problem] = bare.problems
    assert problem.plugin == "w" and "not a generator function" in problem.message


def test_the_contribution_hooks_attribute_items_to_their_plugins(bare):
    bare.register(types.SimpleNamespace(igym_environments=hookimpl(lambda: [_env("x")])), name="p")
    infos = {i.name: i for i in bare.describe()}
    assert infos["p"].provides == ("environment x",)
    assert infos["p"].distribution is None
    assert Path(hookspecs.__file__).name == "hookspecs.py"
