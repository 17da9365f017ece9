"""How an igym server is hosted (as opposed to what the experiment is)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs


def _positive(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ValueError(f"Settings.{attribute.name} must be a positive number, got {value!r}")


@attrs.frozen
class Settings:
    """Hosting settings for :func:`igym_core.server.app.create_app`.

    ``data_dir`` holds the store (``<experiment id>.sqlite3``); ``static_dir`` the built client
    and Pyodide runtime (``igym_core/static`` unless given).
    """

    data_dir: Path = attrs.field(default=Path("igym-data"), converter=Path)
    static_dir: Path | None = attrs.field(default=None, converter=attrs.converters.optional(Path))
    max_message_bytes: int = attrs.field(default=64 * 1024, validator=_positive)
    max_bad_messages_logged: int = attrs.field(default=1000, validator=_positive)

    def store_path(self, experiment_id: str) -> Path:
        return self.data_dir / f"{experiment_id}.sqlite3"
