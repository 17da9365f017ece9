"""The fingerprint of what a server is built from, and the warning when a plugin changed."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest

from igym_core import watch


def install(
    site: Path, name: str, version: str, files: dict[str, str], editable: Path | None = None
):
    """A distribution as pip leaves it: its files, and a dist-info with the igym entry point."""
    info = site / f"{name}-{version}.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[igym]\n{name} = {name}.plugin\n")
    if editable is not None:
        url = editable.resolve().as_uri()
        (info / "direct_url.json").write_text(
            json.dumps({"url": url, "dir_info": {"editable": True}})
        )
        root = editable
    else:
        root = site
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    (info / "RECORD").write_text("".join(f"{rel},,\n" for rel in files))


def touch(path: Path, text: str) -> None:
    path.write_text(text)
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # a visibly later mtime


@pytest.fixture
def site(tmp_path, monkeypatch) -> Path:
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    return site


def test_a_changed_file_version_or_new_plugin_is_named(site, tmp_path):
    install(site, "wplug", "1.0", {"wplug/__init__.py": "", "wplug/env.py": "A = 1\n"})
    before = watch.take()
    assert "wplug" in before.plugins
    assert watch.differences(before, watch.take()) == []
    touch(site / "wplug" / "env.py", "A = 2\n")
    assert watch.differences(before, watch.take()) == ["plugin wplug changed (wplug/env.py)"]
    (site / "wplug-1.0.dist-info").rename(site / "wplug-1.1.dist-info")
    (site / "wplug-1.1.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: wplug\nVersion: 1.1\n"
    )
    install(site, "wother", "0.1", {"wother/__init__.py": ""})
    said = watch.differences(before, watch.take())
    assert "plugin wplug went from version 1.0 to 1.1" in said
    assert "plugin wother was installed" in said


def test_an_editable_plugin_is_watched_in_its_project(site, tmp_path):
    project = tmp_path / "project"
    install(
        site, "wedit", "0.1", {"wedit/__init__.py": "", "wedit/env.py": "B = 1\n"}, editable=project
    )
    (project / "wedit" / "__pycache__").mkdir()
    before = watch.take()
    assert sorted(Path(p).name for p in before.plugins["wedit"][1]) == ["__init__.py", "env.py"]
    touch(project / "wedit" / "__pycache__" / "env.cpython-311.pyc", "x")
    assert watch.differences(before, watch.take()) == []
    touch(project / "wedit" / "env.py", "B = 2\n")
    assert watch.differences(before, watch.take()) == ["plugin wedit changed (wedit/env.py)"]


def test_the_experiment_and_its_neighbours_are_watched(tmp_path):
    study = tmp_path / "study.py"
    study.write_text("experiment = None\n")
    (tmp_path / "helpers.py").write_text("X = 1\n")
    before = watch.take(study)
    touch(tmp_path / "helpers.py", "X = 2\n")
    assert watch.differences(before, watch.take(study))[-1] == "the experiment changed (helpers.py)"


def test_a_server_warns_once_per_change(site, caplog):
    install(site, "wwarn", "1.0", {"wwarn/__init__.py": "", "wwarn/env.py": "C = 1\n"})
    plugin_watch = watch.PluginWatch()
    assert plugin_watch.check() == []
    touch(site / "wwarn" / "env.py", "C = 2\n")
    with caplog.at_level(logging.WARNING, logger="igym.watch"):
        assert plugin_watch.check() == ["plugin wwarn changed (wwarn/env.py)"]
        plugin_watch.check()
    [record] = [r for r in caplog.records if r.name == "igym.watch"]
    assert record.getMessage().startswith("plugin wwarn changed (wwarn/env.py) since the server")
    assert "igym run --reload" in record.getMessage()
