"""The igym entry point: specs the core can load, assets that exist and match their generator."""

from __future__ import annotations

import importlib
import importlib.util
import json
from pathlib import Path

import pytest

pytest.importorskip("igym_core")

from igym_overcooked import LAYOUTS
from igym_overcooked.plugin import igym_environments

from igym_core import EnvironmentSpec, PolicySpec

ROOT = Path(__file__).resolve().parents[1]


def _load(path: str):
    module, _, attr = path.partition(":")
    obj = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def test_environment_specs() -> None:
    specs = igym_environments()
    assert [s.name for s in specs] == [f"overcooked.{name}" for name in LAYOUTS]
    for spec in specs:
        assert isinstance(spec, EnvironmentSpec)
        env = _load(spec.factory)(**spec.kwargs)
        assert tuple(env.possible_agents) == spec.agent_ids
        assert spec.default_action == 6 and spec.action_labels[6] == "no-op"
        assert spec.key_bindings["ArrowUp"] == 0 and spec.key_bindings[" "] == 4
        assert spec.packages == ("igym_overcooked",)
        for ref in spec.assets:
            package, _, rel = ref.partition(":")
            assert package == "igym_overcooked"
            assert (ROOT / "igym_overcooked" / rel).is_file()
        names = {p.name for p in spec.policies}
        assert names == {"scripted", "random"}
        for pol in spec.policies:
            assert isinstance(pol, PolicySpec)
            agent = spec.agent_ids[0]
            obs, _ = env.reset(seed=1)
            seat = _load(pol.factory)(agent, 7, **pol.kwargs)
            assert 0 <= seat.act(obs[agent]) <= 6


def test_entry_point_is_declared() -> None:
    from importlib.metadata import entry_points

    eps = [ep for ep in entry_points(group="igym") if ep.name == "overcooked"]
    assert eps and eps[0].value == "igym_overcooked.plugin"


def test_pack_imports_nothing_outside_the_standard_library() -> None:
    """Everything but plugin.py (igym's entry point), parallel.py (the PettingZoo class) and
    cogrid_render.py (cogrid drawn with our sprites), both CPython only, must run in Pyodide
    without numpy or igym_core; parallel.py is imported only by make(), and only when
    gymnasium and pettingzoo can be found."""
    import ast
    import sys

    allowed = set(sys.stdlib_module_names) | {"igym_overcooked"}
    for path in (ROOT / "igym_overcooked").glob("*.py"):
        if path.name in ("plugin.py", "parallel.py", "cogrid_render.py"):
            continue
        if path.name != "env.py":
            assert "igym_overcooked.parallel" not in path.read_text(), path.name
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                mods = [node.module or ""]
            else:
                continue
            for mod in mods:
                assert mod.split(".")[0] in allowed, f"{path.name} imports {mod}"


def test_make_builds_the_stdlib_env_without_pettingzoo(monkeypatch: pytest.MonkeyPatch) -> None:
    """What Pyodide gets: with gymnasium/pettingzoo not importable, make() never imports
    igym_overcooked.parallel and returns the standard-library env."""
    import importlib.util
    import sys

    from igym_overcooked import env as env_module

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name in ("gymnasium", "pettingzoo") else real(name, *a),
    )
    monkeypatch.delitem(sys.modules, "igym_overcooked.parallel", raising=False)
    made = env_module.make("cramped_room")
    assert type(made) is env_module.OvercookedEnv
    assert "igym_overcooked.parallel" not in sys.modules


def test_atlas_matches_its_generator() -> None:
    spec = importlib.util.spec_from_file_location(
        "overcooked_make_atlas", ROOT / "tools" / "make_atlas.py"
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    png, meta = mod.build()
    assets = ROOT / "igym_overcooked" / "assets"
    assert (assets / "overcooked.png").read_bytes() == png
    assert (assets / "overcooked.json").read_text() == meta
    frames = json.loads(meta)["frames"]
    for name in (
        "floor",
        "counter",
        "pot",
        "delivery",
        "onion",
        "plate",
        "onion_soup",
        "onion_stack",
        "plate_stack",
        "chef_up_0",
        "chef_left_2",
    ):
        assert name in frames
