"""Read-only, deterministic views of the store for exporters: rows always come sorted."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, cast

from igym_core.storage.rows import (
    DisconnectionRow,
    EpisodeRow,
    EventRow,
    ExclusionRow,
    FocusPeriodRow,
    FrameRow,
    MatchOutcomeRow,
    MatchRow,
    ParityRow,
    ParticipantRow,
    ProvenanceRow,
    ResponseRow,
    SceneProgressRow,
    TelemetryRow,
    ValidationRow,
)
from igym_core.storage.termination import match_outcome, quantiles, termination

if TYPE_CHECKING:
    from igym_core.storage.store import Store


class StoreReader:
    """What an :class:`igym_core.Exporter` reads: every table of one experiment's store.

    Each method yields typed rows (the records of :mod:`igym_core.storage.rows`, plain dicts)
    in a fixed order, so the same store always gives the same rows in the same order: an
    exporter that writes them as they come writes byte-identical files. Iterators read lazily:
    a table larger than memory can be streamed. The reader never writes.
    """

    def __init__(self, store: Store) -> None:
        self._store = store

    @property
    def experiment_id(self) -> str:
        """The id of the experiment whose records these are."""
        return self._store.experiment_id

    def _rows(self, sql: str) -> Iterator[dict[str, Any]]:
        for row in self._store.rows(sql):
            yield dict(row)

    def participants(self) -> Iterator[ParticipantRow]:
        """Every participant, in the order they arrived."""
        for row in self._rows(
            "SELECT participant_id, params, scene_index, status, created_at, updated_at "
            "FROM participants ORDER BY created_at, participant_id"
        ):
            row["params"] = json.loads(row["params"])
            yield cast(ParticipantRow, row)

    def scene_progress(self) -> Iterator[SceneProgressRow]:
        """Scenes shown and finished, by participant and scene position."""
        for row in self._rows(
            "SELECT participant_id, scene_index, scene_id, status, started_at, finished_at "
            "FROM scene_progress ORDER BY participant_id, scene_index, scene_id"
        ):
            yield cast(SceneProgressRow, row)

    def responses(self) -> Iterator[ResponseRow]:
        """Form answers, by participant, scene position and field name."""
        for row in self._rows(
            "SELECT r.participant_id, r.scene_id, r.field, r.value, r.submitted_at "
            "FROM responses r LEFT JOIN scene_progress p "
            "ON p.participant_id = r.participant_id AND p.scene_id = r.scene_id "
            "ORDER BY r.participant_id, p.scene_index, r.scene_id, r.field"
        ):
            row["value"] = json.loads(row["value"])
            yield cast(ResponseRow, row)

    def events(self) -> Iterator[EventRow]:
        """Every event, in the order it was stored."""
        for row in self._rows(
            "SELECT event_id, participant_id, kind, data, at FROM events ORDER BY event_id"
        ):
            row["data"] = json.loads(row["data"])
            yield cast(EventRow, row)

    def episodes(self) -> Iterator[EpisodeRow]:
        """Episodes, by participant, scene and episode number, with how each ended
        (``termination``: see :func:`~igym_core.storage.termination.termination`) and, for
        episodes with latency telemetry, p50/p95/max per numeric metric (``telemetry``)."""
        played = self._played_matches()
        records = self._records_by_match()
        for row in self._rows(
            "SELECT participant_id, scene_id, episode, seed, status, reason, frames, summary, "
            "started_at, ended_at FROM episodes ORDER BY participant_id, scene_id, episode"
        ):
            row["summary"] = json.loads(row["summary"])
            row["partial"] = row["status"] != "complete"
            match = played.get((row["participant_id"], row["scene_id"]))
            if match is not None:
                match_id, end_reason = match
                row["termination"] = termination(
                    row["participant_id"], row, end_reason, records.get(match_id, [])
                )
            summary = self._telemetry_summary(
                row["participant_id"], row["scene_id"], row["episode"]
            )
            if summary:
                row["telemetry"] = summary
            yield cast(EpisodeRow, row)

    def _played_matches(self) -> dict[tuple[str, str], tuple[str, str | None]]:
        """(participant, scene) → (match id, end reason) of the match they played (not one
        they were re-queued from)."""
        out = {}
        for m in self.matches():
            if m["status"] in ("playing", "ended"):
                for pid in m["members"]:
                    out[(pid, m["scene_id"])] = (m["match_id"], m["end_reason"])
        return out

    def _records_by_match(self) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        for r in self.disconnections():
            out.setdefault(r["match_id"], []).append(r)
        return out

    def _telemetry_summary(self, participant_id: str, scene_id: str, episode: int) -> dict:
        values: dict[str, list[float]] = {}
        for row in self._store.rows_where(
            "SELECT metric, value FROM telemetry WHERE participant_id = ? AND scene_id = ? "
            "AND episode = ? ORDER BY metric, t",
            (participant_id, scene_id, episode),
        ):
            value = json.loads(row["value"])
            if isinstance(value, int | float) and not isinstance(value, bool):
                values.setdefault(row["metric"], []).append(float(value))
        return {metric: quantiles(v) for metric, v in values.items()}

    def telemetry(self) -> Iterator[TelemetryRow]:
        """Latency telemetry in long format, by participant, scene, episode, time and metric."""
        for row in self._rows(
            "SELECT participant_id, scene_id, episode, t, metric, value FROM telemetry "
            "ORDER BY participant_id, scene_id, episode, t, metric"
        ):
            row["value"] = json.loads(row["value"])
            yield cast(TelemetryRow, row)

    def disconnections(self) -> Iterator[DisconnectionRow]:
        """Every disconnection of a member during a match, by match and in the order they
        began."""
        for row in self._rows(
            "SELECT match_id, scene_id, participant_id, episode, kind, started_at, frame, "
            "ended_at, outcome, pause_ms FROM disconnections ORDER BY match_id, started_at, "
            "participant_id"
        ):
            yield cast(DisconnectionRow, row)

    def frames(self) -> Iterator[FrameRow]:
        """One row per recorded frame, by participant, scene, episode and frame: the ids
        first, then the keys of the frame record (its ``focused`` as ``isFocused``)."""
        for row in self._rows(
            "SELECT participant_id, scene_id, episode, frame, data FROM frames "
            "ORDER BY participant_id, scene_id, episode, frame"
        ):
            data = json.loads(row.pop("data"))
            out = {**row}
            for key, value in data.items():
                out["isFocused" if key == "focused" else key] = value
            yield cast(FrameRow, out)

    def matches(self) -> Iterator[MatchRow]:
        """Matches, in the order they were created."""
        for row in self._rows(
            "SELECT match_id, scene_id, members, matchmaker, status, end_reason, created_at, "
            "updated_at FROM matches ORDER BY created_at, match_id"
        ):
            row["members"] = json.loads(row["members"])
            yield cast(MatchRow, row)

    def match_outcomes(self) -> Iterator[MatchOutcomeRow]:
        """:meth:`matches` with who left, disconnections, reloads and pause time (the
        exported ``matches`` file)."""
        records = self._records_by_match()
        for row in self.matches():
            yield cast(
                MatchOutcomeRow, {**row, **match_outcome(row, records.get(row["match_id"], []))}
            )

    def parity(self) -> Iterator[ParityRow]:
        """Parity checks of multiplayer episodes, by match and episode."""
        for row in self._rows(
            "SELECT match_id, scene_id, episode, status, hashes, first_difference, checked_at "
            "FROM parity ORDER BY match_id, episode"
        ):
            row["hashes"] = json.loads(row["hashes"])
            row["first_difference"] = (
                json.loads(row["first_difference"]) if row["first_difference"] else None
            )
            yield cast(ParityRow, row)

    def validations(self) -> Iterator[ValidationRow]:
        """Validation documents of multiplayer episodes, by match and episode."""
        for row in self._rows(
            "SELECT match_id, episode, document FROM validations ORDER BY match_id, episode"
        ):
            yield cast(ValidationRow, {**row, "document": json.loads(row["document"])})

    def provenance(self) -> Iterator[ProvenanceRow]:
        """What produced the data (igym, plugins, experiment), each from when it was first
        used, in that order."""
        for row in self._rows(
            "SELECT provenance_id, recorded_at, record FROM provenance ORDER BY provenance_id"
        ):
            record = json.loads(row.pop("record"))
            yield cast(ProvenanceRow, {**row, **record})

    def exclusions(self) -> Iterator[ExclusionRow]:
        """Excluded participants, in the order they were excluded."""
        for row in self._rows(
            "SELECT participant_id, rule, phase, reason, message, scene_id, episode, frame, "
            "redirect_url, completion_code, at FROM exclusions ORDER BY at, participant_id"
        ):
            yield cast(ExclusionRow, row)

    def focus_periods(self) -> Iterator[FocusPeriodRow]:
        """Focus-loss periods, by participant, scene and period."""
        for row in self._rows(
            "SELECT participant_id, scene_id, period, episode, start_frame, end_frame, start_ms, "
            "end_ms, duration_ms, started_at, ended_at FROM focus_periods "
            "ORDER BY participant_id, scene_id, period"
        ):
            yield cast(FocusPeriodRow, row)

    def tables(self) -> dict[str, Iterator[Any]]:
        """Every table the built-in exporters write, by file stem, in a fixed order (all but
        the validation documents)."""
        return {
            "participants": self.participants(),
            "scene_progress": self.scene_progress(),
            "responses": self.responses(),
            "events": self.events(),
            "episodes": self.episodes(),
            "frames": self.frames(),
            "matches": self.match_outcomes(),
            "parity": self.parity(),
            "disconnections": self.disconnections(),
            "telemetry": self.telemetry(),
            "provenance": self.provenance(),
            "exclusions": self.exclusions(),
            "focus_periods": self.focus_periods(),
        }
