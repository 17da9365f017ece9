"""Read-only, deterministic views of the store for exporters: rows always come sorted."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

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
        for row in self._rows(
            "SELECT participant_id, scene_id, episode, seed, status, reason, frames, summary, "
            "started_at, ended_at FROM episodes ORDER BY participant_id, scene_id, episode"
        ):
            row["summary"] = json.loads(row["summary"])
            row["partial"] = row["status"] != "complete"
            yield row

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
            "matches": self.matches(),
            "parity": self.parity(),
        }
