"""Failures inside a participant's game, for the researcher.

The page shows the participant a short message and a reference number (client/src/game/phase.js)
and sends a ``game_error`` event with the full detail (a Python traceback, say). The event is
stored like every other (``client:game_error`` in the events table, so exports have it), and
this module writes it to the server log under the same reference, so a participant who quotes
the reference can be matched to what happened.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

log = logging.getLogger("igym.games")


def log_game_error(participant_id: str | None, data: Mapping[str, Any]) -> None:
    """Log a page's ``game_error`` event: reference, code, episode and detail."""
    log.error(
        "game error, reference %s, participant %s, code %s, episode %s:\n%s",
        data.get("ref", "?"),
        participant_id,
        data.get("code", "?"),
        data.get("episode", "?"),
        data.get("detail") or data.get("message") or "(no detail)",
    )
