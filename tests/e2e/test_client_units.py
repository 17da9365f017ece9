"""The client's DOM-free modules (outbox, session, connection) under node's own test runner.

``cd client && npm test`` runs the same tests; here they are part of ``make test``.
"""

from __future__ import annotations

import shutil
import subprocess

from tests.e2e.conftest import ROOT, missing


def test_client_unit_tests_pass():
    node = shutil.which("node")
    if node is None:
        missing("node is not installed (it also builds the client)")
    result = subprocess.run(
        [node, "--test", "test/"],
        cwd=ROOT / "client",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
