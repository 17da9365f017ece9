"""How an igym server is hosted (as opposed to what the experiment is)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from igym_core.server.admin.auth import check_hash, password_hash_from_env
from igym_core.server.limits import Limits
from igym_core.storage.backends import is_database_url, study_url


def _positive(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ValueError(f"Settings.{attribute.name} must be a positive number, got {value!r}")


def _database(value: Any) -> str | None:
    if value is None or value == "":
        return None
    text = str(value)
    if not is_database_url(text):
        raise ValueError(f"Settings.database must be a postgresql:// URL, got {text[:40]!r}")
    return text


def _redis(value: Any) -> str | None:
    if value is None or value == "":
        return None
    text = str(value)
    if not text.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError(
            f"Settings.redis must be a redis://, rediss:// or unix:// URL, got {text[:40]!r}"
        )
    return text


def _origins(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [v for v in value.split(",") if v.strip()]
    origins = []
    for origin in value:
        origin = str(origin).strip().rstrip("/")
        if not origin.startswith(("http://", "https://")) or "/" in origin.split("://", 1)[1]:
            raise ValueError(
                f"Settings.public_origins: {origin!r} must look like https://host[:port]"
            )
        origins.append(origin)
    return tuple(origins)


@attrs.frozen
class Settings:
    """Hosting settings for :func:`igym_core.server.app.create_app`.

    ``data_dir`` holds the store (``<experiment id>.sqlite3``); ``static_dir`` the built client
    and Pyodide runtime (``igym_core/static`` unless given). ``limits`` are the server's budgets
    (:class:`~igym_core.server.limits.Limits`). ``public_origins`` are the origins participants
    open the study at (``https://study.example.org``); a websocket from a page of any other
    origin is refused. Without them, a page must come from the host it connects to.
    ``trusted_proxies`` are addresses of reverse proxies whose ``X-Forwarded-For`` names the
    participant's address. ``store_write_timeout_s`` is how long a write waits for a database
    another program has locked before the page is told to send it again.
    ``disconnect_grace_s`` is how long a page whose connection dropped may take to come back
    before it leaves its waiting room or game; ``left_grace_s`` the same for a page that said
    goodbye while a reload of it was on its way (the page was requested again first; a page
    that said goodbye otherwise, a closed tab, is gone at once). ``frame_ancestors`` is the CSP source list of
    the pages allowed to embed the participant page in a frame (``'self'``; e.g.
    ``'self' https://*.qualtrics.com``; ``'none'``).
    """

    data_dir: Path = attrs.field(default=Path("igym-data"), converter=Path)
    static_dir: Path | None = attrs.field(default=None, converter=attrs.converters.optional(Path))
    limits: Limits = attrs.field(factory=Limits)
    public_origins: tuple[str, ...] = attrs.field(default=(), converter=_origins)
    trusted_proxies: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    store_write_timeout_s: float = attrs.field(default=5.0, validator=_positive)
    frame_ancestors: str = attrs.field(default="'self'")
    ice_servers: tuple[dict[str, Any], ...] = attrs.field(
        factory=lambda: ice_servers_from_env(os.environ), converter=tuple
    )
    disconnect_grace_s: float = attrs.field(default=20.0, validator=_positive)
    #: a page that said goodbye while its reload was on its way (the new page was requested)
    #: has this long to say hello again before it counts as gone
    left_grace_s: float = attrs.field(default=1.5, validator=_positive)
    #: the admin console's password as a scrypt hash (``igym admin-password``); by default from
    #: ``IGYM_ADMIN_PASSWORD_HASH`` or ``IGYM_ADMIN_PASSWORD``. None: the console is disabled.
    admin_password_hash: str | None = attrs.field(
        factory=lambda: password_hash_from_env(os.environ),
        repr=False,
        validator=lambda _s, _a, value: value is None or check_hash(value),
    )
    #: threads that step server-authoritative games (shared by all of them)
    server_game_threads: int = attrs.field(default=8, validator=_positive)
    #: how often the server checks whether an installed plugin changed since it started
    plugin_check_s: float = attrs.field(default=10.0, validator=_positive)

    #: where studies are stored: None for an SQLite file per experiment in ``data_dir``, or a
    #: ``postgresql://`` URL (each experiment in its own schema; several processes may share it)
    database: str | None = attrs.field(default=None, converter=_database)
    #: a ``redis://`` URL: the lobby (waiting rooms, matchmaking, signaling, relay) is shared
    #: by every igym process given the same Redis and ``database``; None: this process's own
    redis: str | None = attrs.field(default=None, converter=_redis)

    def store_path(self, experiment_id: str) -> Path:
        return self.data_dir / f"{experiment_id}.sqlite3"

    def store_target(self, experiment_id: str) -> Path | str:
        """What the experiment's :class:`~igym_core.storage.store.Store` opens: its SQLite
        file, or its own schema (``igym_<id>``) in the shared PostgreSQL database."""
        if not self.database:
            return self.store_path(experiment_id)
        return study_url(self.database, experiment_id)

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
