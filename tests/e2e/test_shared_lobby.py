"""Two igym processes share the lobby through Redis and the store in PostgreSQL: a participant
whose page is served by one process and one served by the other are matched, connect over
WebRTC, signal and relay through their own processes, and play P2P Overcooked with parity."""

from __future__ import annotations

import json

import pytest

from tests.e2e.test_p2p_overcooked import (
    check_matches,
    participants,
    short_copy,
    wait_until_done,
)

pytestmark = pytest.mark.e2e


def test_participants_on_two_processes_play_together_with_parity(
    browser, igym_server, tmp_path, postgres_url, redis_url
):
    path = short_copy(tmp_path, 90)
    first = igym_server(path, database=postgres_url, args=("--redis", redis_url))
    second = igym_server(path, database=postgres_url, args=("--redis", redis_url))
    assert first.port != second.port
    with participants(browser, 2) as people:
        for p, server in zip(people, (first, second), strict=True):
            p.open(server.url(f"/?PROLIFIC_PID=split-{p.name}"))
        for p in people:
            p.enter_lobby()
        wait_until_done(people)
        states = check_matches(people, first, path, tmp_path, 90)
        [match] = {s["match"]["match_id"] for s in states.values()}
        for p, server in zip(people, (first, second), strict=True):
            assert p.page.url.startswith(server.base_url)
            press = p.page.evaluate("() => window.__press")
            assert press["sockets"] == {"opened": 1, "closed": 0}, "the websocket dropped"
            assert p.scene_id() == "survey"
        # signaling crossed the processes (or there would be no data channel), and so did the
        # relay: each member's end-of-episode report goes through the server
        relayed = [e["relayed_out"] for s in states.values() for e in s["summaries"]]
        assert all(1 <= n <= 10 for n in relayed), relayed
        print(
            "two processes:",
            match,
            json.dumps({n: s["summaries"] for n, s in states.items()})[:1500],
        )
