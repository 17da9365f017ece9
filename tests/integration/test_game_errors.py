"""A failure in a participant's game: the page shows a short message and a reference number
(client/test/game.test.mjs, tests/e2e/test_game_failures.py); the server stores the page's
report and writes its detail to the log under that reference, once."""

from __future__ import annotations

import logging

from tests.integration.conftest import Page

TRACEBACK = 'Traceback (most recent call last):\n  File "env.py", line 9, in step\nValueError: boom'


async def test_the_detail_goes_to_the_log_and_the_store_under_the_reference(app, caplog):
    state = app.extensions["igym"]
    report = {
        "code": "game_error",
        "ref": "3F9A-07C2",
        "message": "The game stopped because of an error. (Reference 3F9A-07C2)",
        "detail": f"The game stopped because of an error: {TRACEBACK}",
        "episode": 0,
    }
    async with app.test_client().websocket("/ws") as ws:
        page = Page(ws)
        await page.hello(subject_id="p-err")
        with caplog.at_level(logging.ERROR, logger="igym.games"):
            for _ in range(2):  # the outbox re-sends until acked: stored and logged once
                await page.send(
                    {
                        "type": "event",
                        "token": page.token,
                        "seq": 7,
                        "name": "game_error",
                        "data": report,
                    }
                )
                assert (await page.recv()) == {"type": "ack", "seq": 7}
    [record] = [r for r in caplog.records if r.name == "igym.games"]
    text = record.getMessage()
    assert "reference 3F9A-07C2, participant p-err, code game_error, episode 0" in text
    assert text.endswith(TRACEBACK)
    [event] = [e for e in state.store.reader().events() if e["kind"] == "client:game_error"]
    assert event["participant_id"] == "p-err" and event["data"] == report
