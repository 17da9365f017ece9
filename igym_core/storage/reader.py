"""Read-only, deterministic views of the store for exporters: rows always come sorted."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from igym_core.storage.termination import match_outcome, quantiles, termination

if TYPE_CHECKING:
    from igym_core.storage.store import Store


class StoreReader:
    """Read-only, deterministic views of the store for exporters: rows always come sorted."""

    def __init__(self, store: Store) -> None:
        self._store = store

    @property
    def experiment_id(self) -> str:
        return self._store.experiment_id

    def _rows(self, sql: str) -> Iterator[dict[str, Any]]:
        for row in self._store.rows(sql):
            yield dict(row)

    def participants(self) -> Iterator[dict[str, Any]]:
        for row in self._rows(
            "SELECT participant_id, params, scene_index, status, created_at, updated_at "
            "FROM participants ORDER BY created_at, participant_id"
        ):
            row["params"] = json.loads(row["params"])
            yield row

    def scene_progress(self) -> Iterator[dict[str, Any]]:
        yield from self._rows(
            "SELECT participant_id, scene_index, scene_id, status, started_at, finished_at "
            "FROM scene_progress ORDER BY participant_id, scene_index, scene_id"
        )

    def responses(self) -> Iterator[dict[str, Any]]:
        for row in self._rows(
            "SELECT r.participant_id, r.scene_id, r.field, r.value, r.submitted_at "
            "FROM responses r LEFT JOIN scene_progress p "
            "ON p.participant_id = r.participant_id AND p.scene_id = r.scene_id "
            "ORDER BY r.participant_id, p.scene_index, r.scene_id, r.field"
        ):
            row["value"] = json.loads(row["value"])
            yield row

    def events(self) -> Iterator[dict[str, Any]]:
        for row in self._rows(
            "SELECT event_id, participant_id, kind, data, at FROM events ORDER BY event_id"
        ):
            row["data"] = json.loads(row["data"])
            yield row

    def episodes(self) -> Iterator[dict[str, Any]]:
        """Every episode, with how it ended (``termination``: see
        :func:`~igym_core.storage.termination.termination`) and, for episodes with latency
        telemetry, p50/p95/max per numeric metric (``telemetry.<metric>.p50``...)."""
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
            yield row

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
            value = row["value"]
            if isinstance(value, int | float) and not isinstance(value, bool):
                values.setdefault(row["metric"], []).append(float(value))
        return {metric: quantiles(v) for metric, v in values.items()}

    def telemetry(self) -> Iterator[dict[str, Any]]:
        """Latency telemetry in long format: participant, scene, episode, t (Unix seconds, the
        page's clock), metric, value."""
        yield from self._rows(
            "SELECT participant_id, scene_id, episode, t, metric, value FROM telemetry "
            "ORDER BY participant_id, scene_id, episode, t, metric"
        )

    def disconnections(self) -> Iterator[dict[str, Any]]:
        """Every disconnection of a member during a match, in the order they began."""
        yield from self._rows(
            "SELECT match_id, scene_id, participant_id, episode, kind, started_at, frame, "
            "ended_at, outcome, pause_ms FROM disconnections ORDER BY match_id, started_at, "
            "participant_id"
        )

    def frames(self) -> Iterator[dict[str, Any]]:
        """One row per recorded frame: the keys of the record follow the ids."""
        for row in self._rows(
            "SELECT participant_id, scene_id, episode, frame, data FROM frames "
            "ORDER BY participant_id, scene_id, episode, frame"
        ):
            data = json.loads(row.pop("data"))
            yield {**row, **data}

    def matches(self) -> Iterator[dict[str, Any]]:
        for row in self._rows(
            "SELECT match_id, scene_id, members, matchmaker, status, end_reason, created_at, "
            "updated_at FROM matches ORDER BY created_at, match_id"
        ):
            row["members"] = json.loads(row["members"])
            yield row

    def match_outcomes(self) -> Iterator[dict[str, Any]]:
        """:meth:`matches` with who left, disconnections, reloads and pause time (the
        exported ``matches`` file)."""
        records = self._records_by_match()
        for row in self.matches():
            yield {**row, **match_outcome(row, records.get(row["match_id"], []))}

    def parity(self) -> Iterator[dict[str, Any]]:
        for row in self._rows(
            "SELECT match_id, scene_id, episode, status, hashes, first_difference, checked_at "
            "FROM parity ORDER BY match_id, episode"
        ):
            row["hashes"] = json.loads(row["hashes"])
            row["first_difference"] = (
                json.loads(row["first_difference"]) if row["first_difference"] else None
            )
            yield row

    def validations(self) -> Iterator[dict[str, Any]]:
        """Validation documents of multiplayer episodes, by match and episode."""
        for row in self._rows(
            "SELECT match_id, episode, document FROM validations ORDER BY match_id, episode"
        ):
            yield {**row, "document": json.loads(row["document"])}

    def tables(self) -> dict[str, Iterator[dict[str, Any]]]:
        """Every table an exporter writes, by file stem, in a fixed order."""
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
        }
