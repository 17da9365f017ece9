"""``igym new``: each kind of plugin is generated, pip-installed, passes its own tests as
written, and is hosted by igym (in an experiment where the core offers a place for it). The
bundled plugins have the shape of that output. The env pack's browser test is
tests/e2e/test_scaffold_env.py."""

from __future__ import annotations

import asyncio
import contextlib
import io
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from igym_core.cli import main
from igym_core.config import ConfigError, EndScene, Experiment, GameScene, Rule, StaticScene
from igym_core.plugins import PluginManager
from igym_core.rules import check_rules
from igym_core.server.app import create_app
from igym_core.settings import Settings
from igym_core.storage.store import Store
from tests.conftest import ROOT
from tests.integration.conftest import Page
from tests.plugin_dists import env_with, generate, pip_install

KINDS = {"env": "sc_gems", "matchmaker": "sc_cohort", "rule": "sc_browser", "exporter": "sc_sum"}


@pytest.fixture(scope="module")
def dists(tmp_path_factory) -> dict[str, Path]:
    """One generated distribution of each kind, and ``"site"``, where pip installed them."""
    tmp = tmp_path_factory.mktemp("scaffolds")
    roots = {kind: generate(kind, name, tmp) for kind, name in KINDS.items()}
    pip_install(list(roots.values()), tmp / "site")
    return {**roots, "site": tmp / "site"}


@pytest.fixture
def installed(dists, monkeypatch) -> PluginManager:
    """A plugin manager that sees the generated plugins (for this test only)."""
    monkeypatch.syspath_prepend(str(dists["site"]))
    return PluginManager()


def test_the_name_and_folder_are_checked(tmp_path, capsys):
    assert main(["new", "env", "Bad Name", str(tmp_path)]) == 2
    assert "lower-case letters" in capsys.readouterr().err
    assert main(["new", "rule", "fine", str(tmp_path)]) == 0
    assert main(["new", "rule", "fine", str(tmp_path)]) == 2
    assert "already exists" in capsys.readouterr().err


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_the_output_is_lint_clean(dists, kind):
    for args in (["check"], ["format", "--check"]):
        ruff = Path(sys.executable).parent / "ruff"
        done = subprocess.run(
            [str(ruff), *args, "."], cwd=dists[kind], capture_output=True, text=True
        )
        assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_its_own_tests_pass_once_installed(dists, kind, tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(dists[kind])],
        cwd=tmp_path,  # not the distribution's folder: the installed copy is what is tested
        env=env_with(dists["site"]),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert " passed" in done.stdout and "skipped" not in done.stdout


def test_igym_plugins_lists_each_with_its_distribution(dists):
    done = subprocess.run(
        [sys.executable, "-m", "igym_core.cli", "plugins"],
        env=env_with(dists["site"]),
        capture_output=True,
        text=True,
    )
    out = done.stdout
    assert "sc_gems (distribution igym-sc-gems 0.1.0)" in out
    for line in (
        "provides environment sc_gems.gems",
        "provides matchmaker sc_cohort",
        "provides exclusion rule sc_browser",
        "provides exporter sc_sum",
    ):
        assert line in out, out


def study(tmp_path: Path) -> Path:
    """An experiment that puts the generated env pack and matchmaker to use."""
    path = tmp_path / "study.py"
    path.write_text(
        "from igym_core.config import EndScene, Experiment, GameScene, StaticScene\n"
        "experiment = Experiment(id='sc', scenes=[\n"
        "    StaticScene(id='hello'),\n"
        "    GameScene(id='solo', env='sc_gems.gems',\n"
        "              seats={'agent_0': 'human', 'agent_1': 'policy:greedy'}, max_steps=20),\n"
        "    GameScene(id='duo', env='sc_gems.gems', seats={'agent_0': 'human', 'agent_1': 'human'},\n"
        "              matchmaker='sc_cohort', matchmaker_options={'max_wait_s': 600}),\n"
        "    EndScene(id='end')])\n"
    )
    return path


def test_the_env_pack_and_matchmaker_pass_igym_validate(dists, tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "igym_core.cli", "validate", str(study(tmp_path))],
        env=env_with(dists["site"]),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    bad = study(tmp_path).read_text().replace("'max_wait_s': 600", "'max_wait': 600")
    (tmp_path / "bad.py").write_text(bad)
    done = subprocess.run(
        [sys.executable, "-m", "igym_core.cli", "validate", str(tmp_path / "bad.py")],
        env=env_with(dists["site"]),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert "GameScene('duo').matchmaker_options['max_wait']: 'sc_cohort' has no option" in (
        done.stderr
    )


def test_the_env_pack_is_served_to_the_browser(installed, tmp_path):
    experiment = Experiment(
        id="sc",
        scenes=[
            GameScene(
                id="solo",
                env="sc_gems.gems",
                seats={"agent_0": "human", "agent_1": "policy:greedy"},
            ),
            EndScene(id="end"),
        ],
    )
    app = create_app(experiment, Settings(data_dir=tmp_path), plugins=installed)
    state = app.extensions["igym"]
    described = state.games.describe(experiment.scene("solo"), "p1")
    assert described["env"]["policies"] == {
        "greedy": {"factory": "igym_sc_gems.policies:greedy", "kwargs": {}}
    }
    bundle = state.bundles.for_packages(("igym_sc_gems",))
    assert described["env"]["packages_url"] == bundle.url
    names = zipfile.ZipFile(io.BytesIO(bundle.data)).namelist()
    assert "igym_sc_gems/env.py" in names and "igym_sc_gems/policies.py" in names
    assert not any("tests" in n for n in names)


async def test_the_matchmaker_groups_participants_in_a_hosted_experiment(installed, tmp_path):
    experiment = Experiment(
        id="sc",
        scenes=[
            StaticScene(id="hello"),
            GameScene(
                id="duo",
                env="sc_gems.gems",
                seats={"agent_0": "human", "agent_1": "human"},
                matchmaker="sc_cohort",
            ),
            EndScene(id="end"),
        ],
    )
    app = create_app(experiment, Settings(data_dir=tmp_path, ice_servers=()), plugins=installed)
    client = app.test_client()
    lobby = app.extensions["igym"].lobby.engine
    async with contextlib.AsyncExitStack() as stack:
        for pid, cohort in (("a1", "a"), ("b1", "b"), ("a2", "a")):
            page = Page(await stack.enter_async_context(client.websocket("/ws")))
            await page.hello(subject_id=pid, cohort=cohort)  # the URL parameter ?cohort=
            await page.submit({})
            page.seq += 1
            await page.send(
                {"type": "lobby_join", "token": page.token, "seq": page.seq, "scene_id": "duo"}
            )
            while (await asyncio.wait_for(page.recv(), 10))["type"] not in ("lobby", "match"):
                pass
        [match] = lobby.tracker.matches.values()
        assert match.members == ("a1", "a2") and match.matchmaker == "sc_cohort"
        assert lobby.tracker.session("b1", "duo").phase.value == "waiting"


def test_the_rule_is_installed_and_its_options_are_checked(installed):
    def experiment(options):
        rule = Rule("sc_browser", options)
        return Experiment(id="sc", scenes=[EndScene(id="end")], entry_rules=[rule])

    [rule] = check_rules(experiment({"block": ["Chrome/"]}), installed).entry
    assert rule.run({"user_agent": "Mozilla/5.0 Chrome/126.0"}).rule == "sc_browser"
    with pytest.raises(
        ConfigError, match=r"entry_rules\[0\]\.options\['block'\]: 'sc_browser' expects"
    ):
        check_rules(experiment({"block": "Chrome"}), installed)


def test_the_exporter_writes_its_file_with_igym_export(dists, tmp_path):
    path = study(tmp_path)
    store = Store(tmp_path / "data" / "sc.sqlite3", "sc")
    store.create_participant("p1", "h", {}, 1.0).result()
    store.close()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "igym_core.cli",
            "export",
            str(path),
            "--data-dir",
            str(tmp_path / "data"),
            "--out",
            str(tmp_path / "out"),
            "--format",
            "sc_sum",
        ],
        env=env_with(dists["site"]),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "out" / "sc_sum" / "summary.csv").read_text().splitlines() == [
        "participant_id,status,scenes_finished,episodes,complete_episodes,frames",
        "p1,active,0,0,0,0",
    ]


# -- the bundled plugins look like the scaffold's output -------------------------------------------


def shape(root: Path) -> dict:
    """What every plugin distribution has, whatever it does."""
    project = tomllib.loads((root / "pyproject.toml").read_text())
    [(_name, target)] = project["project"]["entry-points"]["igym"].items()
    package = target.removesuffix(".plugin")
    return {
        "build": project["build-system"]["build-backend"],
        "depends on igym": any(d.startswith("igym") for d in project["project"]["dependencies"]),
        "test extra": "test" in project["project"]["optional-dependencies"],
        "entry point": target == f"{package}.plugin",
        "package": (root / package / "__init__.py").is_file(),
        "hooks in plugin.py": "@hookimpl" in (root / package / "plugin.py").read_text(),
        "README": (root / "README.md").is_file(),
        "tests": any((root / "tests").glob("test_*.py")),
        "packages.find": project["tool"]["setuptools"]["packages"]["find"]["include"]
        == [f"{package}*"],
    }


@pytest.mark.parametrize(
    ("bundled", "kind"),
    [
        ("igym_overcooked", "env"),
        ("igym_fifo_matchmaker", "matchmaker"),
        ("igym_exclusion", "rule"),
    ],
)
def test_each_bundled_plugin_has_the_shape_of_the_scaffold(dists, bundled, kind):
    assert shape(ROOT / "plugins" / bundled) == shape(dists[kind])
    assert all(shape(dists[kind]).values())
