"""The gate in front of the participant websocket: who may open one, decided before Quart
spends anything on it.

:class:`Gate` is ASGI middleware around the app. A websocket handshake for ``/ws`` from a page
of a foreign origin is refused with 403; one from an address over its connection budget
(``Limits.connections_per_s``) with 429 and ``Retry-After``. Refusing here costs a fraction of
what a refused handshake costs once Quart made its contexts and tasks, so a flood of
connections from one address leaves the server free for everyone else.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from igym_core.server.limits import Limits

ASGIApp = Callable[
    [dict, Callable[[], Awaitable[dict]], Callable[[dict], Awaitable[None]]], Awaitable[None]
]


def client_address(
    peer: str | None, headers: Iterable[tuple[bytes, bytes]], trusted: tuple[str, ...]
) -> str:
    """Where a connection comes from: the peer's address, or, behind a trusted reverse proxy,
    the last address its ``X-Forwarded-For`` names."""
    peer = peer or "local"
    if peer in trusted:
        for name, value in headers:
            if name.lower() == b"x-forwarded-for":
                forwarded = [a.strip() for a in value.decode("latin1").split(",") if a.strip()]
                if forwarded:
                    return forwarded[-1][:64]
    return peer


def origin_problem(headers: Iterable[tuple[bytes, bytes]], allowed: tuple[str, ...]) -> str | None:
    """Why the handshake's ``Origin`` is refused, or None.

    A browser always sends ``Origin``; it must be one of ``allowed`` or, when none are
    configured, the origin of the host the page was served from. Programs that send no Origin
    (they cannot be a page on another site) are let through.
    """
    found = {name.lower(): value.decode("latin1") for name, value in headers}
    origin = found.get(b"origin")
    if origin is None:
        return None
    if allowed:
        if origin.rstrip("/") in allowed:
            return None
        return f"origin {origin[:100]!r} is not one of this study's origins"
    host = found.get(b"host", "")
    parts = urlsplit(origin)
    if parts.netloc and parts.netloc == host and parts.scheme in ("http", "https"):
        return None
    return f"origin {origin[:100]!r} does not match this server ({host[:100]!r})"


class Gate:
    """ASGI middleware: refuse unwanted websocket handshakes for ``path`` at once."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        path: str,
        limits: Limits,
        allowed_origins: tuple[str, ...],
        trusted_proxies: tuple[str, ...],
        admit: Callable[[str], bool],
    ) -> None:
        self.app = app
        self.path = path
        self.limits = limits
        self.allowed_origins = allowed_origins
        self.trusted_proxies = trusted_proxies
        self.admit = admit

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "websocket" or scope.get("path") != self.path:
            await self.app(scope, receive, send)
            return
        headers = scope.get("headers", [])
        address = client_address((scope.get("client") or [None])[0], headers, self.trusted_proxies)
        scope.setdefault("state", {})["igym_address"] = address
        problem = origin_problem(headers, self.allowed_origins)
        if problem is not None:
            await _refuse(scope, send, 403, problem)
            return
        if not self.admit(address):
            rate = f"{self.limits.connections_per_s:g}"
            await _refuse(scope, send, 429, f"more than {rate} connections a second from here")
            return
        await self.app(scope, receive, send)


async def _refuse(scope: dict, send: Any, status: int, text: str) -> None:
    body = text.encode("utf-8")
    if "websocket.http.response" in (scope.get("extensions") or {}):
        headers = [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
        ]
        if status == 429:
            headers.append((b"retry-after", b"5"))
        await send({"type": "websocket.http.response.start", "status": status, "headers": headers})
        await send({"type": "websocket.http.response.body", "body": body, "more_body": False})
    else:
        await send({"type": "websocket.close", "code": 1008})
