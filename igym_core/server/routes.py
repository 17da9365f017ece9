"""The participant blueprint: the page at ``/`` and its websocket at ``/ws``."""

from __future__ import annotations

import asyncio
import logging

from quart import Blueprint, Response, current_app, websocket

from igym_core.server.participants import Connection
from igym_core.server.protocol import Error, Outgoing, ProtocolError, decode, encode
from igym_core.server.state import igym_state

log = logging.getLogger("igym.server")

participant_blueprint = Blueprint("participant", __name__)


@participant_blueprint.get("/")
async def index() -> Response:
    page = igym_state().static_dir / "index.html"
    if not page.is_file():
        return Response(
            "The participant page has not been built: run `make setup` "
            "(or `node client/build.mjs`).",
            status=503,
            mimetype="text/plain",
        )
    response = Response(page.read_bytes(), mimetype="text/html")
    response.headers["Cache-Control"] = "no-cache"
    return response


@participant_blueprint.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok", "experiment": igym_state().experiment.id}


@participant_blueprint.get("/packages/<digest>.zip")
async def package_bundle(digest: str) -> Response:
    bundle = igym_state().bundles.get(digest)
    if bundle is None:
        return Response(f"no package bundle {digest!r}", status=404, mimetype="text/plain")
    response = Response(bundle.data, mimetype="application/zip")
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    return response


@participant_blueprint.get("/assets/<env>/<name>")
async def env_asset(env: str, name: str) -> Response:
    found = igym_state().assets(env).get(name)
    if found is None:
        return Response(
            f"environment {env!r} has no asset {name!r}", status=404, mimetype="text/plain"
        )
    data, mimetype = found
    response = Response(data, mimetype=mimetype)
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


@participant_blueprint.websocket("/ws")
async def ws() -> None:
    state = igym_state()
    service = state.participants
    outbox: asyncio.Queue[Outgoing] = asyncio.Queue()
    conn = Connection(send=outbox.put_nowait)

    async def sender() -> None:
        while True:
            message = await outbox.get()
            await websocket.send(encode(message))

    send_task = asyncio.ensure_future(sender())
    try:
        while True:
            raw = await websocket.receive()
            seq = None
            try:
                message = decode(raw, state.settings.max_message_bytes)
                seq = getattr(message, "seq", None)
                for reply in await service.handle(conn, message):
                    conn.send(reply)
            except ProtocolError as exc:
                conn.send(Error(exc.code, exc.message, exc.seq if exc.seq is not None else seq))
                await service.record_bad_message(conn, exc)
            except Exception:  # a bug must cost one reply, not the connection or the server
                log.exception("error handling a message from %s", conn.participant_id)
                conn.send(Error("server_error", "the server could not handle this message", seq))
    finally:
        await service.disconnected(conn)
        # let queued replies go out before the task ends (the socket may already be gone)
        try:
            await asyncio.wait_for(_drain(outbox), timeout=1)
        except (TimeoutError, asyncio.CancelledError):
            pass
        send_task.cancel()


async def _drain(outbox: asyncio.Queue[Outgoing]) -> None:
    while not outbox.empty():
        await asyncio.sleep(0.01)


__all__ = ["current_app", "participant_blueprint"]
