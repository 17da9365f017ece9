"""The self-test page boots Python 3.14 in a module Web Worker, from this server only."""

from __future__ import annotations

import json

import pytest

from tests.e2e.conftest import ROOT, STATIC_DIR

pytestmark = pytest.mark.e2e

EXPERIMENT = ROOT / "examples" / "static_study.py"
BOOT_TIMEOUT_MS = 90_000
#: SPEC §2: a 500 ms main-thread heartbeat never misses a beat while Pyodide starts.
HEARTBEAT_PERIOD_MS = 500
MAX_HEARTBEAT_LATE_MS = 50
MAX_MAIN_THREAD_TASK_MS = 250


def run_selftest(page, url: str) -> dict:
    page.goto(url)
    page.wait_for_function(
        "() => ['ok', 'error'].includes(document.body.dataset.status)", timeout=BOOT_TIMEOUT_MS
    )
    result = page.evaluate("() => window.igymSelftest")
    assert result["status"] == "ok", f"self-test failed: {result.get('error')}"
    return result


def test_selftest_boots_python_in_a_worker_from_loopback_only(
    igym_server, page, requests_seen, record_property
):
    server = igym_server(EXPERIMENT)
    cold = run_selftest(page, server.url("/selftest"))

    assert cold["python_version"].startswith("3.14"), cold["python_version"]
    assert page.locator("#python-version").inner_text().startswith("3.14")
    assert cold["cross_origin_isolated"] is True
    assert cold["visibility"] == "visible", "headless page reports hidden: timers may throttle"
    # The main thread stays free while Python boots (SPEC §2). Booting it there instead would
    # freeze it for a second or more (TESTING.md: 1.4 s): a long task, and several beats late.
    # One beat may be late by an OS hiccup on a busy 2-core machine (measured here: up to
    # ~110 ms with no main-thread task at all), so the 50 ms bound is on the second-worst beat.
    heartbeat = cold["heartbeat"]
    assert heartbeat["beats"] >= 2, heartbeat
    assert heartbeat["max_late_ms"] < HEARTBEAT_PERIOD_MS, f"a beat was missed: {heartbeat}"
    assert heartbeat["worst_late_ms"][1] <= MAX_HEARTBEAT_LATE_MS, heartbeat
    assert cold["longest_main_thread_task_ms"] < MAX_MAIN_THREAD_TASK_MS, cold

    # Pyodide came from /static/pyodide/ and nothing else of it was needed.
    built = json.loads((STATIC_DIR / "build.json").read_text())["pyodide_files"]
    fetched = {p.rsplit("/", 1)[1] for p in requests_seen.paths() if "/static/pyodide/" in p}
    assert fetched, requests_seen.urls
    assert fetched <= set(built), f"requested but not built: {fetched - set(built)}"

    warm = run_selftest(page, server.url("/selftest"))
    assert warm["python_version"] == cold["python_version"]

    figures = {
        "ready_ms_cold": cold["ready_ms"],
        "ready_ms_warm": warm["ready_ms"],
        "heartbeat_max_late_ms_cold": heartbeat["max_late_ms"],
        "heartbeat_worst_late_ms_cold": heartbeat["worst_late_ms"],
        "heartbeat_max_late_ms_warm": warm["heartbeat"]["max_late_ms"],
        "timer_50ms_max_late_ms_cold": cold["heartbeat_50ms"]["max_late_ms"],
        "longest_main_thread_task_ms_cold": cold["longest_main_thread_task_ms"],
        "worker_import_ms_cold": cold["worker_import_ms"],
        "worker_load_ms_cold": cold["worker_load_ms"],
        "round_trip_median_us": warm["round_trip"]["median_us"],
        "round_trip_p95_us": warm["round_trip"]["p95_us"],
        "pyodide_files_fetched": sorted(fetched),
    }
    for key, value in figures.items():
        record_property(key, value)
    print("selftest figures:", json.dumps(figures))


def test_selftest_says_clearly_when_python_cannot_start(igym_server, page):
    server = igym_server(EXPERIMENT)
    page.goto(server.url("/selftest?indexURL=/static/no-pyodide-here/"))
    page.wait_for_function(
        "() => ['ok', 'error'].includes(document.body.dataset.status)", timeout=BOOT_TIMEOUT_MS
    )
    result = page.evaluate("() => window.igymSelftest")
    assert result["status"] == "error"
    message = page.locator("#selftest-status").inner_text()
    assert message.startswith("Python could not start:")
    assert "make setup" in message
