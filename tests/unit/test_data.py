"""Analysis tooling: the pandas loader, the Parquet exporter, and ``igym validate --data``
finding a planted gap, a duplicate and a parity mismatch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from igym_core.cli import main
from igym_core.data import load
from igym_core.data.checks import check_study
from igym_core.data.tables import StudyNotFound, open_study
from igym_core.experiment import load_experiment
from igym_core.export import export_store
from igym_core.storage.store import Store

STUDY = Path(__file__).resolve().parents[1] / "hardening" / "mp_study.py"  # max_steps 10
STEPS = 10


def frame(f: int, a1: int = 0) -> dict:
    return {
        "actions": {"agent_0": f % 6, "agent_1": a1},
        "rewards": {"agent_0": 0.0, "agent_1": 1.0 if f == 3 else 0.0},
        "terminated": False,
        "truncated": f == STEPS - 1,
        "focused": {"agent_0": True, "agent_1": True},
        "infos": {"score": f},
        "t": {"tick": float(f)},
    }


def make_study(path: Path, *, flip: int | None = None, skip: int | None = None) -> Store:
    """Two members of one match play episode 0 of the game scene."""
    store = Store(path / "mp_study.sqlite3", "mp_study")
    for pid in ("a", "b"):
        store.create_participant(pid, "h", {"PROLIFIC_PID": pid, "odd key": "x"}, 1.0).result()
        store.start_episode(pid, "game", 0, 7, 2.0).result()
        rows = [
            (f, frame(f, a1=1 if (pid == "b" and f == flip) else 0))
            for f in range(STEPS)
            if not (pid == "a" and f == skip)
        ]
        store.add_frames(pid, "game", 0, rows).result()
        store.end_episode(pid, "game", 0, STEPS, STEPS, {"score": 1}, 3.0).result()
        store.add_event(pid, "client:visibility", {"state": "hidden"}, 2.5).result()
    store.save_match("m1", "game", ["a", "b"], "fifo", "ended", "completed", 1.5, 4.0)
    store.flush()
    return store


def test_load_gives_every_table_as_a_dataframe_from_store_or_export(tmp_path, plugins):
    store = make_study(tmp_path / "data")
    result = export_store(store, tmp_path / "out", plugins)
    assert not result.problems
    store.close()
    for where in (tmp_path / "data", tmp_path / "data" / "mp_study.sqlite3", tmp_path / "out"):
        study = load(where)
        frames = study.frames
        assert len(frames) == 2 * STEPS and "actions.agent_0" in frames.columns
        assert frames["rewards.agent_1"].sum() == 2.0
        assert set(study.participants["params"].iloc[0]) == {"PROLIFIC_PID", "odd key"}
        assert list(study.events["data"]) == [{"state": "hidden"}] * 2
        assert list(study.episodes["status"]) == ["complete", "complete"]
        assert study.names[:3] == ["participants", "scene_progress", "responses"]
    with pytest.raises(AttributeError, match="has no table 'nope'"):
        _ = study.nope


def test_the_parquet_exporter_writes_typed_tables(tmp_path, plugins):
    import pyarrow.parquet

    store = make_study(tmp_path / "data")
    result = export_store(store, tmp_path / "out", plugins, ("parquet",))
    store.close()
    table = pyarrow.parquet.read_table(tmp_path / "out" / "parquet" / "frames.parquet")
    assert table.num_rows == 2 * STEPS
    assert str(table.schema.field("rewards.agent_0").type) == "double"
    assert str(table.schema.field("truncated").type) == "bool"
    assert [p.name for p in result.files if p.name.startswith("participants")] == [
        "participants.parquet"
    ]


def test_a_clean_study_has_no_problems(tmp_path):
    make_study(tmp_path / "data").close()
    report = check_study(open_study(tmp_path / "data"), load_experiment(STUDY))
    assert report.problems == []
    assert report.summary["compared"] == report.summary["identical"] == 1
    assert "no problems" in report.text()


def test_validate_data_reports_a_gap_a_duplicate_and_a_parity_mismatch(tmp_path, plugins, capsys):
    store = make_study(tmp_path / "data", flip=6, skip=4)
    export_store(store, tmp_path / "out", plugins, ("jsonl",))
    store.close()
    frames = tmp_path / "out" / "jsonl" / "frames.jsonl"
    lines = frames.read_text().splitlines()
    frames.write_text("\n".join([*lines, lines[-1]]) + "\n")  # b's last frame twice
    code = main(["validate", str(STUDY), "--data", str(tmp_path / "out")])
    out = capsys.readouterr().out
    assert code == 1
    assert "gap         a game episode 0: frames 4 missing" in out
    assert "duplicate   b game episode 0: frames 9 stored more than once" in out
    assert "parity      match m1 episode 0: members differ at frame" in out
    # a complete episode whose row says more frames than there are
    assert "frame_count" not in out  # the store closed a's episode as partial (the gap)
    assert main(["validate", str(STUDY), "--data", str(tmp_path / "data")]) == 1
    out = capsys.readouterr().out
    assert "gap" in out and "parity" in out and "duplicate" not in out


def test_a_folder_without_a_study_is_said_so(tmp_path, capsys):
    with pytest.raises(StudyNotFound, match="holds no igym store"):
        open_study(tmp_path)
    (tmp_path / "csv").mkdir()
    (tmp_path / "csv" / "participants.csv").write_text("participant_id\n")
    with pytest.raises(StudyNotFound, match="is a CSV export: give its jsonl/ folder"):
        open_study(tmp_path)
    assert main(["validate", str(STUDY), "--data", str(tmp_path / "csv" / "x")]) == 2
    assert "holds no igym store" in capsys.readouterr().err


def test_an_excluded_participant_needs_a_reason(tmp_path):
    store = make_study(tmp_path / "data")
    store.set_status("a", "excluded", 5.0).result()
    report = check_study(open_study(tmp_path / "data"), load_experiment(STUDY))
    assert [str(p) for p in report.problems] == [
        "exclusion   a: excluded, but no exclusion with a reason"
    ]
    store.add_event("a", "admin:exclude", {"reason": "walked away"}, 6.0).result()
    assert check_study(open_study(tmp_path / "data"), load_experiment(STUDY)).problems == []
    store.close()
    json.dumps(report.summary)  # the summary is plain data
