"""Browser package zips: single-file modules, package data, pure-Python dependencies from
installed metadata; packages with C extensions refused with the server-mode hint; load-time
checks of env and policy kwargs; igym validate's isolated import of the bundle."""

from __future__ import annotations

import importlib
import io
import sys
import zipfile
from pathlib import Path

import pytest

from igym_core.config import ConfigError, EndScene, Experiment, GameScene
from igym_core.envcheck import check_environments, run_environments
from igym_core.experiment import check_plugins, plugins_for
from igym_core.server.packages import PackageError, build_bundle, check_packages
from igym_core.specs import EnvironmentSpec, PolicySpec

ENV_SOURCE = """
import random


class Walk:
    def __init__(self, length=5):
        self.length = length
        self.pos = 0

    def reset(self, seed=None, options=None):
        self.rng = random.Random(seed)
        self.pos = 0
        return self.pos, {}

    def step(self, action):
        self.pos += 1 if action == 1 else 0
        return self.pos, 0.0, self.pos >= self.length, False, {}

    def render(self):
        return [{"kind": "rect", "x": self.pos, "y": 0, "w": 1, "h": 1, "color": "#000"}]


def make(length=5):
    return Walk(length)


def still(agent_id, seed, patience=1):
    class Still:
        def act(self, observation):
            return 0
    return Still()
"""


def _dist(site: Path, name: str, top: str, requires: list[str]) -> None:
    info = site / f"{name}-1.0.dist-info"
    info.mkdir()
    lines = ["Metadata-Version: 2.1", f"Name: {name}", "Version: 1.0"]
    lines += [f"Requires-Dist: {r}" for r in requires]
    (info / "METADATA").write_text("\n".join(lines) + "\n")
    (info / "top_level.txt").write_text(top + "\n")
    (info / "RECORD").write_text("")


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A site folder on sys.path with a few made-up distributions."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "tinymod.py").write_text("VALUE = 42\n")
    _dist(site, "tinymod", "tinymod", [])
    pkg = site / "walkpack"
    (pkg / "levels").mkdir(parents=True)
    (pkg / "__init__.py").write_text("import tinymod\n" + ENV_SOURCE)
    (pkg / "levels" / "one.txt").write_text("#####\n")
    (pkg / "sprite.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (pkg / "__pycache__").mkdir()
    (pkg / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"junk")
    _dist(
        site,
        "walkpack",
        "walkpack",
        [
            "tinymod>=1",
            'fastmath; extra == "speed"',  # an extra: not shipped
            'linuxonly; sys_platform == "linux"',  # not for Pyodide (emscripten)
            "igym",  # igym itself is never shipped
        ],
    )
    cpkg = site / "fastmath"
    cpkg.mkdir()
    (cpkg / "__init__.py").write_text("")
    (cpkg / "_core.cpython-311-x86_64-linux-gnu.so").write_bytes(b"\x7fELF")
    _dist(site, "fastmath", "fastmath", [])
    needs = site / "needsfast"
    needs.mkdir()
    (needs / "__init__.py").write_text(ENV_SOURCE)
    _dist(site, "needsfast", "needsfast", ["fastmath"])
    sloppy = site / "sloppy"
    sloppy.mkdir()
    (sloppy / "__init__.py").write_text("import tinymod\n" + ENV_SOURCE)  # undeclared dependency
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    yield site
    for name in ("tinymod", "walkpack", "fastmath", "needsfast", "sloppy"):
        sys.modules.pop(name, None)


def _names(bundle) -> set[str]:
    return set(zipfile.ZipFile(io.BytesIO(bundle.data)).namelist())


def test_package_data_single_modules_and_dependencies(site: Path) -> None:
    bundle = build_bundle(["walkpack"])
    names = _names(bundle)
    assert {"walkpack/__init__.py", "walkpack/levels/one.txt", "walkpack/sprite.png"} <= names
    assert "tinymod.py" in names  # a single-file module, found through Requires-Dist
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
    assert not any(n.startswith(("fastmath", "linuxonly")) for n in names)
    assert "igym_core/runtime/game.py" in names and "igym_core/server/app.py" not in names
    assert bundle.modules == ("walkpack", "tinymod")
    assert build_bundle(["walkpack"]).digest == bundle.digest  # deterministic


def test_typing_extensions_ships_as_one_file() -> None:
    names = _names(build_bundle(["typing_extensions"]))
    assert "typing_extensions.py" in names


def test_c_extensions_are_refused_with_the_server_hint(site: Path) -> None:
    with pytest.raises(PackageError, match=r"compiled extension.*_core\.cpython.*mode='server'"):
        build_bundle(["fastmath"])
    with pytest.raises(PackageError, match=r"needsfast requires 'fastmath': .*mode='server'"):
        check_packages(["needsfast"])
    with pytest.raises(PackageError, match="not installed on the server"):
        check_packages(["no_such_package_here"])


def _experiment(spec: EnvironmentSpec, **scene) -> Experiment:
    return Experiment(
        id="pk",
        environments=[spec],
        scenes=[
            GameScene(id="play", env=spec.name, seats={"agent_0": "human"}, **scene),
            EndScene(id="end"),
        ],
    )


def _spec(package: str = "walkpack", **more) -> EnvironmentSpec:
    return EnvironmentSpec(
        name="walk",
        factory=f"{package}:make",
        agent_ids=("agent_0",),
        action_labels={0: "stay", 1: "go"},
        default_action=0,
        packages=(package,),
        **more,
    )


def test_start_up_refuses_a_browser_scene_with_c_extensions(site: Path) -> None:
    experiment = _experiment(_spec("needsfast"))
    with pytest.raises(
        ConfigError, match=r"GameScene\('play'\).*cannot run in the browser.*server"
    ):
        check_plugins(experiment, plugins_for(experiment))
    server = _experiment(_spec("needsfast"), mode="server")
    check_plugins(server, plugins_for(server))  # the server's Python runs anything


def test_env_and_policy_kwargs_are_checked_at_load_time(site: Path) -> None:
    experiment = _experiment(_spec(), env_kwargs={"lenght": 3})
    with pytest.raises(ConfigError, match=r"GameScene\('play'\)\.env_kwargs.*'lenght'"):
        check_environments(experiment, plugins_for(experiment))
    experiment = _experiment(_spec(), env_kwargs={"length": object()}, max_steps=9)
    with pytest.raises(ConfigError, match=r"env_kwargs must be JSON"):
        check_environments(experiment, plugins_for(experiment))
    policy = PolicySpec("still", "walkpack:still", kwargs={"patiense": 2})
    spec = EnvironmentSpec(
        name="walk2",
        factory="walkpack:make",
        agent_ids=("a", "b"),
        action_labels={0: "stay", 1: "go"},
        default_action=0,
        packages=("walkpack",),
        policies=(policy,),
    )
    experiment = Experiment(
        id="pk2",
        environments=[spec],
        scenes=[
            GameScene(id="play", env="walk2", seats={"a": "human", "b": "policy:still"}),
            EndScene(id="end"),
        ],
    )
    with pytest.raises(ConfigError, match=r"policy 'still'.*does not take 'patiense'"):
        check_environments(experiment, plugins_for(experiment))


def test_validate_builds_the_env_and_imports_the_bundle_on_its_own(site: Path) -> None:
    experiment = _experiment(_spec())
    (line,) = run_environments(experiment, plugins_for(experiment), frames=10)
    assert "(single, browser) built, 10 frames played" in line and "imports on its own" in line
    sloppy = _experiment(_spec("sloppy"))
    check_plugins(sloppy, plugins_for(sloppy))  # its metadata looks fine...
    with pytest.raises(
        ConfigError, match=r"does not run from its browser bundle.*No module named 'tinymod'"
    ):
        run_environments(sloppy, plugins_for(sloppy), frames=10)  # ...but it cannot import


def test_action_labels_outside_the_action_space_are_caught(tmp_path: Path) -> None:
    pytest.importorskip("gymnasium")
    spec = EnvironmentSpec(
        name="cartpole",
        factory="gymnasium:make",
        kwargs={"id": "CartPole-v1"},
        agent_ids=("agent_0",),
        action_labels={0: "left", 1: "right", 2: "jump"},
        default_action=0,
    )
    experiment = _experiment(spec, mode="server")
    with pytest.raises(ConfigError, match=r"labels actions \[2\].*Discrete\(2\)"):
        run_environments(experiment, plugins_for(experiment), frames=5)


def test_experiment_environments_are_a_plugin_like_any_other() -> None:
    spec = _spec("tinymod")
    experiment = _experiment(spec)
    plugins = plugins_for(experiment)
    assert plugins.environments["walk"] is spec
    assert plugins_for(experiment, plugins) is plugins  # registering again replaces it
    assert list(plugins.environments).count("walk") == 1
    with pytest.raises(ConfigError, match="two named 'walk'"):
        Experiment(id="x", environments=[spec, spec], scenes=[EndScene(id="end")])
