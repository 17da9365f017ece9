"""The built-in CSV and JSONL exporters, run through the exporter hook."""

from __future__ import annotations

import csv
import json

from igym_core import Exporter, hookimpl
from igym_core.cli import main
from igym_core.export import export_store
from igym_core.storage.store import Store


def _fill(store: Store) -> None:
    store.create_participant("p2", "h", {"PROLIFIC_PID": "p2", "STUDY_ID": "s"}, 2.0).result()
    store.create_participant("p1", "h", {"subject_id": "p1"}, 1.0).result()
    store.start_scene("p1", "consent", 0, 1.1).result()
    store.finish_scene("p1", "consent", 0, {"agree": True}, 1, "active", 1.2).result()
    store.finish_scene(
        "p1",
        "survey",
        1,
        {"age": 30, "langs": ["en", "fr"], "note": 'a,"b"\n'},
        2,
        "completed",
        1.3,
    ).result()
    store.add_event("p1", "joined", {"nested": {"a": 1}}, 1.05).result()
    excluded = {"rule": "tab_hidden", "phase": "continuous", "reason": "hidden for 31.2 s"}
    excluded |= {"message": "You left the game.", "scene_id": "g", "episode": 0, "frame": 90}
    assert store.exclude("p2", excluded, 2.5).result()
    assert not store.exclude("p2", excluded, 2.6).result()  # once only
    start = {"episode": 0, "start_frame": 10, "start_ms": 1000.0}
    store.save_focus_period("p1", "g", 0, start, 1.4).result()
    end = start | {"end_frame": 40, "end_ms": 1500.0, "duration_ms": 500.0}
    store.save_focus_period("p1", "g", 0, end, 1.5).result()
    store.save_focus_period("p1", "g", 0, start, 1.6).result()  # a late copy forgets nothing


def test_csv_and_jsonl_files(tmp_path, plugins):
    store = Store(tmp_path / "s.sqlite3", "study")
    _fill(store)
    result = export_store(store, tmp_path / "out", plugins)
    assert not result.problems
    names = sorted(p.relative_to(tmp_path / "out").as_posix() for p in result.files)
    assert names == sorted(
        f"{fmt}/{stem}.{fmt}"
        for fmt in ("csv", "jsonl", "parquet")
        for stem in (
            "participants",
            "scene_progress",
            "responses",
            "events",
            "episodes",
            "frames",
            "matches",
            "parity",
            "disconnections",
            "telemetry",
            "provenance",
            "exclusions",
            "focus_periods",
        )
    )
    with (tmp_path / "out/csv/participants.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [r["participant_id"] for r in rows] == ["p1", "p2"]
    # URL parameters are free-form: one JSON column, never a column per parameter
    assert json.loads(rows[1]["params"]) == {"PROLIFIC_PID": "p2", "STUDY_ID": "s"}
    assert not [c for c in rows[0] if c.startswith("params.")]
    with (tmp_path / "out/csv/responses.csv").open() as f:
        responses = {r["field"]: r["value"] for r in csv.DictReader(f)}
    assert responses == {"agree": "True", "age": "30", "langs": '["en","fr"]', "note": 'a,"b"\n'}
    lines = (tmp_path / "out/jsonl/responses.jsonl").read_text().splitlines()
    assert json.loads(lines[1])["value"] == 30
    events = [json.loads(x) for x in (tmp_path / "out/jsonl/events.jsonl").read_text().splitlines()]
    assert events[0]["data"] == {"nested": {"a": 1}}
    with (tmp_path / "out/csv/exclusions.csv").open() as f:
        (exclusion,) = csv.DictReader(f)
    assert (exclusion["participant_id"], exclusion["rule"], exclusion["frame"]) == (
        "p2",
        "tab_hidden",
        "90",
    )
    lines = (tmp_path / "out/jsonl/focus_periods.jsonl").read_text().splitlines()
    (period,) = [json.loads(x) for x in lines]
    assert (period["start_frame"], period["end_frame"], period["duration_ms"]) == (10, 40, 500.0)


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


def test_participants_cannot_choose_the_columns_or_plant_formulas(tmp_path, plugins):
    """Keys a page invents stay inside JSON (or in a bounded number of columns), and text that
    a spreadsheet would run as a formula is written inert."""
    store = Store(tmp_path / "s.sqlite3", "study")
    params = {f"k{i}": "v" for i in range(50)}
    store.create_participant("p1", "h", params, 1.0).result()
    for i in range(30):
        store.add_event("p1", "client:x", {f"key{i}_{j}": j for j in range(30)}, 2.0 + i).result()
    store.finish_scene("p1", "s1", 0, {"a": "=HYPERLINK(1)", "b": "-1", "c": "@x"}, 1, "active", 3)
    store.flush()
    export_store(store, tmp_path / "out", plugins)
    with (tmp_path / "out/csv/participants.csv").open() as f:
        header = next(csv.reader(f))
    assert "params" in header and len(header) < 10
    with (tmp_path / "out/csv/events.csv").open() as f:
        events = list(csv.DictReader(f))
    assert set(events[0]) == {"event_id", "participant_id", "kind", "data", "at"}
    assert json.loads(events[0]["data"])["key0_29"] == 29
    with (tmp_path / "out/csv/responses.csv").open() as f:
        values = {r["field"]: r["value"] for r in csv.DictReader(f)}
    assert values == {"a": "'=HYPERLINK(1)", "b": "'-1", "c": "'@x"}


def test_a_nested_field_gives_at_most_a_hundred_columns():
    from igym_core.export.flatten import capped, flatten

    rows = [flatten({"id": i, "infos": {f"x{i}_{j}": j for j in range(30)}}) for i in range(10)]
    names, out = capped(rows)
    infos = [n for n in names if n.startswith("infos.")]
    assert len(infos) == 101 and infos[-1] == "infos.more"
    assert json.loads(out[9]["infos.more"]) == {f"x9_{j}": j for j in range(30)}
    assert out[0]["infos.x0_0"] == 0 and "infos.more" not in out[0]


def test_a_postgresql_study_exports_the_same_files_as_an_sqlite_one(
    tmp_path, postgres_url, capsys, monkeypatch
):
    """The same records in either backend give byte-identical exports (types, order, JSON)."""
    from igym_core.settings import Settings
    from tests.conftest import ROOT

    study = str(ROOT / "examples/static_study.py")
    local = Store(tmp_path / "data" / "static_study.sqlite3", "static_study")
    shared = Store(Settings(database=postgres_url).store_target("static_study"), "static_study")
    for store in (local, shared):
        _fill(store)
        store.start_episode("p1", "g", 0, 7, 1.5).result()
        record = {"actions": {"a": 1}, "rewards": {"a": 0.25}, "t": {"tick": 1 / 3}}
        store.add_frames("p1", "g", 0, [(0, record), (1, record)]).result()
        samples = [(2.5, "ws_rtt_ms", 12.25), (2.5, "candidate_type", "host"), (3.5, "paused", 0)]
        assert store.add_telemetry("p1", "g", 0, samples).result() == 3
        assert store.add_telemetry("p1", "g", 0, samples[:1]).result() == 0  # kept once
        gone = {"record_id": "r1", "match_id": "m1", "scene_id": "g", "participant_id": "p1"}
        store.save_disconnection({**gone, "episode": 0, "kind": "network", "started_at": 2.0})
        store.save_disconnection({**gone, "kind": "network", "started_at": 2.0, "frame": 1,
                                  "episode": 0, "ended_at": 4.0, "outcome": "resumed",
                                  "pause_ms": 2000.0})  # fmt: skip
        store.close()
    assert (
        main(["export", study, "--data-dir", str(tmp_path / "data"), "--out", str(tmp_path / "sq")])
        == 0
    )
    monkeypatch.setenv("IGYM_DATABASE", postgres_url)
    assert main(["export", study, "--out", str(tmp_path / "pg")]) == 0
    files = sorted(p.relative_to(tmp_path / "pg") for p in (tmp_path / "pg").rglob("*.*"))
    assert len(files) == 39
    for name in files:
        assert (tmp_path / "pg" / name).read_bytes() == (tmp_path / "sq" / name).read_bytes(), name
    monkeypatch.setenv("IGYM_DATABASE", postgres_url.rsplit("/", 1)[0] + "/postgres")
    capsys.readouterr()
    assert main(["export", study, "--out", str(tmp_path / "none")]) == 2
    assert "does not exist (no igym store)" in capsys.readouterr().err
