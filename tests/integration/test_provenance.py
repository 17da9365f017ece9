"""The store records which igym, plugins and experiment produced the data when a study starts,
and again when any of them changed; exports carry it."""

from __future__ import annotations

import csv
import hashlib
import json

import igym_core
from igym_core.experiment import load_experiment
from igym_core.export import export_store
from igym_core.plugins import PluginManager
from igym_core.server.app import create_app
from igym_core.settings import Settings
from igym_core.storage.store import Store
from tests.unit.test_watch import install

STUDY = """\
from igym_core.config import EndScene, Experiment, StaticScene
experiment = Experiment(id="prov", scenes=[StaticScene(id="hi", title="{title}"), EndScene(id="end")])
"""


def start(path, data_dir):
    """What ``igym run FILE`` does before it serves anyone: load the file, build the server."""
    app = create_app(load_experiment(path), Settings(data_dir=data_dir), plugins=PluginManager())
    store = app.extensions["igym"].store
    rows = list(store.reader().provenance())
    store.close()
    return rows


def test_a_study_start_records_igym_the_plugins_and_the_experiment(tmp_path):
    path = tmp_path / "study.py"
    path.write_text(STUDY.format(title="One"))
    [row] = start(path, tmp_path / "data")
    assert row["provenance_id"] == 1 and row["recorded_at"] > 0
    assert row["igym_version"] == igym_core.__version__
    assert row["experiment_file"] == str(path.resolve())
    assert row["experiment_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert len(row["config_sha256"]) == 64
    assert row["plugins"]["overcooked"] == {"distribution": "igym-overcooked", "version": "0.1.0"}
    assert row["plugins"]["fifo_matchmaker"]["distribution"] == "igym-fifo-matchmaker"
    assert not any(name.startswith("igym_core.") for name in row["plugins"])  # built-ins


def test_a_restart_with_the_same_software_adds_nothing_a_change_adds_a_row(tmp_path, monkeypatch):
    path = tmp_path / "study.py"
    path.write_text(STUDY.format(title="One"))
    data = tmp_path / "data"
    assert len(start(path, data)) == 1
    assert len(start(path, data)) == 1  # restarted, nothing changed
    path.write_text(STUDY.format(title="Two"))
    rows = start(path, data)
    assert len(rows) == 2 and rows[0]["experiment_sha256"] != rows[1]["experiment_sha256"]
    assert rows[0]["config_sha256"] != rows[1]["config_sha256"]
    # a plugin is installed (then upgraded) between two runs of the study
    site = tmp_path / "site"
    monkeypatch.syspath_prepend(str(site))
    files = {"pplug/__init__.py": "", "pplug/plugin.py": ""}
    install(site, "pplug", "1.0", files)
    rows = start(path, data)
    assert rows[-1]["plugins"]["pplug"] == {"distribution": "pplug", "version": "1.0"}
    (site / "pplug-1.0.dist-info").rename(site / "pplug-1.1.dist-info")
    (site / "pplug-1.1.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: pplug\nVersion: 1.1\n"
    )
    rows = start(path, data)
    assert [r["plugins"].get("pplug", {}).get("version") for r in rows] == [
        None,
        None,
        "1.0",
        "1.1",
    ]
    assert [r["provenance_id"] for r in rows] == [1, 2, 3, 4]


def test_exports_include_the_provenance(tmp_path):
    path = tmp_path / "study.py"
    path.write_text(STUDY.format(title="One"))
    start(path, tmp_path / "data")
    store = Store(tmp_path / "data" / "prov.sqlite3", "prov")
    try:
        export_store(store, tmp_path / "out", PluginManager())
    finally:
        store.close()
    with (tmp_path / "out" / "csv" / "provenance.csv").open() as f:
        [row] = list(csv.DictReader(f))
    assert row["igym_version"] == igym_core.__version__
    assert row["experiment_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert row["plugins.overcooked.distribution"] == "igym-overcooked"
    assert row["plugins.overcooked.version"] == "0.1.0"
    [line] = (tmp_path / "out" / "jsonl" / "provenance.jsonl").read_text().splitlines()
    assert json.loads(line)["plugins"]["exclusion"]["distribution"] == "igym-exclusion"


def test_an_experiment_built_in_code_has_no_file_but_a_config_digest(tmp_path, experiment):
    app = create_app(experiment, Settings(data_dir=tmp_path))
    [row] = app.extensions["igym"].store.reader().provenance()
    app.extensions["igym"].store.close()
    assert row["experiment_file"] is None and row["experiment_sha256"] is None
    assert len(row["config_sha256"]) == 64
