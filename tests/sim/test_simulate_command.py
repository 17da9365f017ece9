"""``igym simulate``: the summary line, exit codes, the default kitchens, failure reports."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from igym_core.commands import CommandError, simulate


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    simulate.register(sub)
    args = parser.parse_args(["simulate", *argv])
    code = args.handler(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_default_is_cramped_room_and_all_matches_keep_parity(
    capsys: pytest.CaptureFixture[str],
) -> None:
    pytest.importorskip("igym_overcooked")
    code, out, _ = run(capsys, "--matches", "4", "--jobs", "1", "--seed", "100")
    assert code == 0
    assert out.startswith("simulate overcooked.cramped_room x2 peers: 4 matches, 4 with identical")
    assert "0 desyncs" in out and "matches/min" in out
    assert out.count("\n") == 1


def test_three_peers_default_to_the_three_chef_kitchen(
    capsys: pytest.CaptureFixture[str],
) -> None:
    pytest.importorskip("igym_overcooked")
    code, out, _ = run(capsys, "--matches", "2", "--peers", "3", "--jobs", "1")
    assert code == 0
    assert "overcooked.three_chefs x3 peers: 2 matches, 2 with identical" in out


def test_worker_processes_give_the_same_totals(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ("--env", "igym_core.runtime.toygame:make", "--matches", "6", "--seed", "7")
    code1, out1, _ = run(capsys, *argv, "--jobs", "1")
    code2, out2, _ = run(capsys, *argv, "--jobs", "2")
    assert code1 == code2 == 0
    assert out1.split(";")[0] == out2.split(";")[0]


def test_fixed_network_options(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "--env", "igym_core.runtime.toygame:make",
        "--matches", "2", "--jobs", "1",
        "--latency", "120", "--jitter", "0", "--loss", "0.2", "--input-delay", "0",
        "--no-focus-loss", "--inputs", "random",
    )  # fmt: skip
    assert code == 0
    rollbacks = int(out.split(" rollbacks")[0].rsplit(" ", 1)[1])
    assert rollbacks > 0


def test_outages_long_enough_to_pause_and_reloads_keep_parity(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(
        capsys,
        "--env", "igym_core.runtime.toygame:make",
        "--matches", "4", "--jobs", "1", "--seed", "3", "--offline", "1", "--reloads", "1",
    )  # fmt: skip
    assert code == 0 and "4 matches, 4 with identical" in out
    pauses = int(out.split(" pauses")[0].rsplit(" ", 1)[1])
    reloads = int(out.split(" reloads rebuilt")[0].rsplit(" ", 1)[1])
    assert pauses >= 4 and reloads >= 3, out  # a reload may come after the end: nothing to do


def test_lost_parity_exits_1_and_is_reported(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    report = tmp_path / "failed.json"
    code, out, err = run(
        capsys,
        "--env", "tests.sim.badgames:make_unseeded",
        "--matches", "2", "--jobs", "1", "--report", str(report),
    )  # fmt: skip
    assert code == 1
    assert "0 with identical" in out
    assert "parity lost in 2 match(es)" in err
    doc = json.loads(report.read_text())
    assert len(doc["failed"]) == 2
    assert doc["failed"][0]["first_difference"] is not None
    assert doc["validation"]["identical"] is False
    assert set(doc["validation"]["peers"]) == {"0", "1"}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("--matches", "0"), "--matches"),
        (("--peers", "1"), "--peers"),
        (("--loss", "2"), "--loss"),
        (("--reloads", "1.5"), "--reloads"),
        (("--latency", "-5"), "--latency"),
        (("--env", "igym_core.runtime.toygame:make", "--peers", "3"), "agents"),
    ],
)
def test_bad_options_are_user_errors(
    capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], message: str
) -> None:
    with pytest.raises(CommandError, match=message):
        run(capsys, *argv)
