"""How an igym server is hosted (as opposed to what the experiment is)."""

from __future__ import annotations

import os
from collections.abc import Mapping
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
    ice_servers: tuple[dict[str, Any], ...] = attrs.field(
        factory=lambda: ice_servers_from_env(os.environ), converter=tuple
    )
    disconnect_grace_s: float = attrs.field(default=20.0, validator=_positive)
    #: how often the server checks whether an installed plugin changed since it started
    plugin_check_s: float = attrs.field(default=10.0, validator=_positive)

    def store_path(self, experiment_id: str) -> Path:
        return self.data_dir / f"{experiment_id}.sqlite3"

    def assignment_log(self, experiment_id: str) -> Path:
        return self.data_dir / f"{experiment_id}.assignments.jsonl"


def ice_servers_from_env(env: Mapping[str, str]) -> list[dict[str, Any]]:
    """ICE servers for WebRTC, from the environment (none by default).

    ``IGYM_STUN_URLS`` and ``IGYM_TURN_URLS`` are comma-separated URLs; the TURN credentials
    come from ``IGYM_TURN_USERNAME`` and ``IGYM_TURN_CREDENTIAL`` so they never sit in an
    experiment file.
    """
    servers: list[dict[str, Any]] = []
    stun = [u.strip() for u in env.get("IGYM_STUN_URLS", "").split(",") if u.strip()]
    if stun:
        servers.append({"urls": stun})
    turn = [u.strip() for u in env.get("IGYM_TURN_URLS", "").split(",") if u.strip()]
    if turn:
        username = env.get("IGYM_TURN_USERNAME")
        credential = env.get("IGYM_TURN_CREDENTIAL")
        if not username or not credential:
            raise ValueError(
                "IGYM_TURN_URLS is set, so IGYM_TURN_USERNAME and IGYM_TURN_CREDENTIAL must be too"
            )
        servers.append({"urls": turn, "username": username, "credential": credential})
    return servers
