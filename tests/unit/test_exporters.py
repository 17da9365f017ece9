"""The built-in CSV and JSONL exporters, run through the exporter hook."""

from __future__ import annotations

import csv
import json

from igym_core import Exporter, hookimpl
from igym_core.cli import main
from igym_core.export import export_store
from igym_core.storage.store import Store


def _fill(store: Store) -> None:
    store.create_participant("p2", "h", {"PROLIFIC_PID": "p2", "STUDY_ID": "s"}, 2.0)
    store.create_participant("p1", "h", {"subject_id": "p1"}, 1.0)
    store.start_scene("p1", "consent", 0, 1.1)
    store.finish_scene("p1", "consent", 0, {"agree": True}, 1, "active", 1.2)
    store.finish_scene(
        "p1",
        "survey",
        1,
        {"age": 30, "langs": ["en", "fr"], "note": 'a,"b"\n'},
        2,
        "completed",
        1.3,
    )
    store.add_event("p1", "joined", {"nested": {"a": 1}}, 1.05)


def test_csv_and_jsonl_files(tmp_path, plugins):
    store = Store(tmp_path / "s.sqlite3", "study")
    _fill(store)
    result = export_store(store, tmp_path / "out", plugins)
    assert not result.problems
    names = sorted(p.relative_to(tmp_path / "out").as_posix() for p in result.files)
    assert names == sorted(
        f"{fmt}/{stem}.{fmt}"
        for fmt in ("csv", "jsonl")
        for stem in (
            "participants",
            "scene_progress",
            "responses",
            "events",
            "episodes",
            "frames",
            "matches",
            "parity",
        )
    )
    with (tmp_path / "out/csv/participants.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [r["participant_id"] for r in rows] == ["p1", "p2"]
    assert rows[1]["params.PROLIFIC_PID"] == "p2" and rows[0]["params.PROLIFIC_PID"] == ""
    with (tmp_path / "out/csv/responses.csv").open() as f:
        responses = {r["field"]: r["value"] for r in csv.DictReader(f)}
    assert responses == {"agree": "True", "age": "30", "langs": '["en","fr"]', "note": 'a,"b"\n'}
    lines = (tmp_path / "out/jsonl/responses.jsonl").read_text().splitlines()
    assert json.loads(lines[1])["value"] == 30
    events = [json.loads(x) for x in (tmp_path / "out/jsonl/events.jsonl").read_text().splitlines()]
    assert events[0]["data"] == {"nested": {"a": 1}}


def test_exporting_twice_gives_identical_files(tmp_path, plugins):
    store = Store(tmp_path / "s.sqlite3", "study")
    _fill(store)
    first = export_store(store, tmp_path / "a", plugins)
    second = export_store(store, tmp_path / "b", plugins)
    for a, b in zip(first.files, second.files, strict=True):
        assert a.read_bytes() == b.read_bytes()


def test_a_failing_exporter_is_named_and_the_others_still_write(tmp_path, plugins):
    class Broken(Exporter):
        name = "broken"

        def export(self, reader, out_dir):
            raise OSError("disk full")

    class Plugin:
        @hookimpl
        def igym_exporters(self):
            return [Broken()]

    plugins.register(Plugin(), name="broken-plugin")
    store = Store(tmp_path / "s.sqlite3", "study")
    _fill(store)
    result = export_store(store, tmp_path / "out", plugins)
    assert result.problems == ("exporter 'broken' failed: OSError: disk full",)
    assert (tmp_path / "out/csv/participants.csv").is_file()


def test_igym_export_command(tmp_path, capsys):
    from tests.conftest import ROOT

    store = Store(tmp_path / "data" / "static_study.sqlite3", "static_study")
    _fill(store)
    store.close()
    argv = ["export", str(ROOT / "examples/static_study.py"), "--data-dir", str(tmp_path / "data")]
    assert main([*argv, "--out", str(tmp_path / "x")]) == 0
    assert main([*argv, "--out", str(tmp_path / "y")]) == 0
    for path in sorted((tmp_path / "x").rglob("*.*")):
        twin = tmp_path / "y" / path.relative_to(tmp_path / "x")
        assert path.read_bytes() == twin.read_bytes()
    assert (
        main(
            ["export", str(ROOT / "examples/static_study.py"), "--data-dir", str(tmp_path / "none")]
        )
        == 2
    )
    assert "does not exist" in capsys.readouterr().err
