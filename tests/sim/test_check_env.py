"""``igym check-env``: good games pass, broken ones fail with a reason, Overcooked passes."""

from __future__ import annotations

import argparse

import pytest

from igym_core.commands import CommandError, check_env
from igym_core.runtime import toygame
from igym_core.runtime.synctest import SyncTestSession, check_game, run_sync_test
from tests.sim import badgames

OVERCOOKED_LAYOUTS = (
    "cramped_room",
    "asymmetric_advantages",
    "coordination_ring",
    "forced_coordination",
    "counter_circuit",
)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    check_env.register(sub)
    args = parser.parse_args(["check-env", *argv])
    code = args.handler(args)
    return code, capsys.readouterr().out


def test_a_deterministic_game_passes(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "igym_core.runtime.toygame:make", "--frames", "120")
    assert code == 0
    assert "deterministic and rollback-safe" in out
    assert "FAIL" not in out


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("tests.sim.badgames:make_unseeded", "not deterministic"),
        ("tests.sim.badgames:make_hidden", "not rollback-safe"),
        ("tests.sim.badgames:make_aliasing", "does not restore"),
        ("tests.sim.badgames:make_set_infos", "infos are not plain data"),
    ],
)
def test_broken_games_fail_with_the_reason(
    capsys: pytest.CaptureFixture[str], target: str, reason: str
) -> None:
    code, out = run(capsys, target, "--frames", "120")
    assert code == 1
    assert "NOT rollback-safe" in out
    assert reason in out


def test_unknown_targets_are_user_errors(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(CommandError, match="no plugin provides"):
        run(capsys, "no_such_env")
    with pytest.raises(CommandError, match="cannot import"):
        run(capsys, "no_such_module:make")
    with pytest.raises(CommandError, match="no attribute"):
        run(capsys, "igym_core.runtime.toygame:nothing")


@pytest.mark.parametrize("layout", OVERCOOKED_LAYOUTS)
def test_overcooked_layouts_are_rollback_safe(
    capsys: pytest.CaptureFixture[str], layout: str
) -> None:
    pytest.importorskip("igym_overcooked")
    code, out = run(capsys, f"overcooked.{layout}", "--frames", "200")
    assert code == 0, out
    assert f"overcooked.{layout}: deterministic and rollback-safe" in out


def test_three_chefs_by_layout_name(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("igym_overcooked")
    code, out = run(capsys, "three_chefs", "--frames", "150", "--quiet")
    assert code == 0, out


def test_sync_test_session_catches_the_frame() -> None:
    game = badgames.make_hidden()
    played, mismatches = run_sync_test(game, lambda f: (f % 7, 6), 40, check_distance=3)
    assert played == 40
    assert mismatches and mismatches[0].frame <= 10


def test_sync_test_session_is_quiet_for_a_good_game() -> None:
    game = toygame.make()
    played, mismatches = run_sync_test(game, lambda f: (f % 7, (f * 3) % 7), 100, 4)
    assert (played, mismatches) == (100, [])


def test_sync_test_session_replays_the_distance() -> None:
    session = SyncTestSession(check_distance=2)
    for _ in range(3):
        session.add_local_input((1,))
        reqs = session.advance_frame()
        for r in reqs:
            if hasattr(r, "cell") and type(r).__name__ == "SaveState":
                r.cell.save(r.frame, None, b"h" * 16)
    names = [type(r).__name__ for r in reqs]
    assert names == [
        "LoadState",
        "AdvanceFrame",
        "SaveState",
        "AdvanceFrame",
        "SaveState",
        "AdvanceFrame",
        "SaveState",
    ]


def test_check_game_reports_every_check() -> None:
    report = check_game(lambda seed: toygame.make(seed=seed), seeds=(3,), frames=50)
    assert report.ok and report.frames == 50
    assert any("two instances agree" in c for c in report.checks)
