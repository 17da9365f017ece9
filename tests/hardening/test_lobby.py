"""Item 4 of issue 10: nobody is stranded in a match, and a message that does not fit the
match's phase changes nothing."""

from __future__ import annotations

import sqlite3

from tests.hardening.conftest import legit_pair, p99
from tests.hardening.test_transport import under_attack


async def test_a_silent_member_and_a_late_failed_check_strand_nobody(hardened):
    server = hardened("mp")  # mp_study.py: validation_timeout_s=2
    results, rtts, _baseline, _peak, _after = await under_attack(
        server, "stranding", legit=legit_pair, attack_first=True
    )
    # the member that sent its check goes back to waiting once the deadline passed
    assert results["requeued"]["reason"] == "validation_timeout"
    assert 1.5 < results["requeued"]["after_s"] < 4, results
    assert results["silent_told"] == "validation_timeout"  # and the silent one is dropped
    # a failed check after play began is refused, and the game goes on: relay still works
    assert results["late_probe"]["code"] == "wrong_phase", results
    assert results["relayed"] == ["AA=="]
    with sqlite3.connect(f"file:{server.store_path}?mode=ro", uri=True) as db:
        statuses = dict(
            db.execute(
                "SELECT m.status, m.end_reason FROM matches m WHERE m.members LIKE '%late-a%'"
            ).fetchall()
        )
    assert statuses == {"playing": None}, statuses
    assert p99(rtts) < 100
