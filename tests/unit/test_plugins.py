"""Plugin loading: built-ins, entry points, and broken plugins that never take igym down."""

from __future__ import annotations

import sys
import types

import pytest

from igym_core import EnvironmentSpec, Exporter, Matchmaker, hookimpl
from igym_core.cli import main
from igym_core.plugins import PluginManager


def _module(name: str, **hooks) -> types.ModuleType:
    module = types.ModuleType(name)
    for hook_name, function in hooks.items():
        setattr(module, hook_name, hookimpl(function))
    return module


def _env(name: str) -> EnvironmentSpec:
    return EnvironmentSpec(
        name=name,
        factory="example_pkg:make",
        agent_ids=["a0"],
        action_labels={0: "stay", 1: "go"},
        default_action=0,
        key_bindings={"ArrowUp": 1},
    )


def test_bundled_plugins_are_found_through_entry_points(plugins):
    infos = {info.name: info for info in plugins.describe()}
    for name in ("overcooked", "exclusion", "fifo_matchmaker"):
        assert name in infos, f"{name} is not installed as an entry point"
        assert infos[name].version
        assert infos[name].distribution == "igym-" + name.replace("_", "-")
    assert "fifo" in plugins.matchmakers
    assert {"device", "screen_size"} <= set(plugins.exclusion_rules)
    assert set(plugins.exporters) == {"csv", "jsonl", "validation", "parquet"}
    assert infos["igym_core.export.csv_exporter"].provides == ("exporter csv",)


def test_a_working_plugin_registered_for_one_test(plugins):
    plugin = _module("throwaway", igym_environments=lambda: [_env("gridworld")])
    plugins.register(plugin, name="throwaway")
    try:
        assert plugins.environment("gridworld").agent_ids == ("a0",)
    finally:
        plugins.unregister("throwaway")
    assert "gridworld" not in plugins.environments


def test_a_raising_hook_is_reported_and_others_still_count(plugins):
    def explode():
        raise RuntimeError("kaboom")

    plugins.register(_module("bad", igym_environments=explode), name="bad")
    plugins.register(_module("good", igym_environments=lambda: [_env("ok_env")]), name="good")
    assert "ok_env" in plugins.environments
    [problem] = [p for p in plugins.problems if p.plugin == "bad"]
    assert problem.hook == "igym_environments"
    assert "RuntimeError: kaboom" in str(problem)
    assert str(problem).startswith("plugin 'bad'")


@pytest.mark.parametrize(
    ("hook", "returned", "says"),
    [
        ("igym_environments", {"name": "x"}, "must return a list, returned dict"),
        ("igym_environments", ["not a spec"], "which is not a EnvironmentSpec"),
        ("igym_matchmakers", [object], "not a subclass of Matchmaker"),
        ("igym_matchmakers", [Matchmaker()], "not a subclass of Matchmaker"),
        ("igym_exporters", [Exporter], "which is not a Exporter"),
    ],
)
def test_wrong_return_types_are_reported_with_the_plugin_name(plugins, hook, returned, says):
    plugins.register(_module("wrong", **{hook: lambda: returned}), name="wrong")
    getattr(
        plugins,
        {
            "igym_environments": "environments",
            "igym_matchmakers": "matchmakers",
            "igym_exporters": "exporters",
        }[hook],
    )
    [problem] = [p for p in plugins.problems if p.plugin == "wrong"]
    assert says in problem.message


def test_duplicate_names_keep_the_one_called_first(plugins):
    # pluggy calls the plugin registered last first, unless tryfirst/trylast say otherwise
    first, second = _env("dup"), _env("dup")
    plugins.register(_module("one", igym_environments=lambda: [first]), name="one")
    plugins.register(_module("two", igym_environments=lambda: [second]), name="two")
    assert plugins.environments["dup"] is second
    assert any(p.plugin == "one" and "already provided" in p.message for p in plugins.problems)

    late = types.ModuleType("three")
    late.igym_environments = hookimpl(trylast=True)(lambda: [_env("late")])
    plugins.register(late, name="three")
    assert list(plugins.environments)[-1] == "late"


def test_unknown_hook_is_reported_not_raised(plugins):
    plugins.register(_module("typo", igym_environmnets=lambda: []), name="typo")
    assert any(
        p.plugin == "typo" and "could not be registered" in p.message for p in plugins.problems
    )


def test_observer_errors_are_swallowed_and_reported(plugins):
    seen = []

    def boom(participant_id):
        raise ValueError("observer bug")

    plugins.register(_module("boom", igym_on_session_end=boom), name="boom")
    plugins.register(
        _module("watch", igym_on_session_end=lambda participant_id: seen.append(participant_id)),
        name="watch",
    )
    plugins.notify(
        "igym_on_session_end", experiment_id="e", participant_id="p1", reason="completed"
    )
    assert seen == ["p1"]
    assert any(p.plugin == "boom" and "observer bug" in p.message for p in plugins.problems)


def test_unknown_environment_names_the_known_ones(plugins):
    with pytest.raises(Exception, match="no plugin provides environment 'nope'"):
        plugins.environment("nope")


@pytest.fixture
def broken_distribution(tmp_path, monkeypatch):
    """An installed distribution whose entry point cannot be imported."""
    dist = tmp_path / "igym_broken-0.3.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: igym-broken\nVersion: 0.3\n")
    (dist / "entry_points.txt").write_text("[igym]\nbroken = igym_broken_missing.plugin\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    sys.modules.pop("igym_broken_missing", None)


def test_an_entry_point_that_cannot_import_is_reported(broken_distribution):
    pm = PluginManager()
    [problem] = [p for p in pm.problems if p.plugin == "broken"]
    assert "could not be imported" in problem.message
    assert "igym_broken_missing" in problem.message
    assert "fifo" in pm.matchmakers  # the rest still load


def test_igym_plugins_lists_versions_and_problems(broken_distribution, capsys):
    code = main(["plugins"])
    out = capsys.readouterr().out
    assert code == 1
    assert "fifo_matchmaker (distribution igym-fifo-matchmaker 0.1.0)" in out
    assert "igym_core.export.csv_exporter (built in)" in out
    assert "provides matchmaker fifo" in out
    assert "PROBLEM: plugin 'broken'" in out
