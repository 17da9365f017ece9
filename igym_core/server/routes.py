"""The participant blueprint: the page at ``/`` and its websocket at ``/ws``."""

from __future__ import annotations

from quart import Blueprint, Response, current_app, request, websocket

from igym_core.server.gate import client_address
from igym_core.server.socket import serve_participant
from igym_core.server.state import igym_state

participant_blueprint = Blueprint("participant", __name__)


@participant_blueprint.get("/")
async def index() -> Response:
    state = igym_state()
    # a reload asks for the page before the old one says goodbye: the lobby then knows that
    # goodbye is no closed tab (see ParticipantService.page_requested)
    scope = request.scope
    peer = (scope.get("client") or [None])[0]
    address = client_address(peer, scope.get("headers", []), state.settings.trusted_proxies)
    state.participants.page_requested(address, request.args, request.cookies.get("igym_pid"))
    page = state.static_dir / "index.html"
    if not page.is_file():
        return Response(
            "The participant page has not been built: run `make setup` "
            "(or `node client/build.mjs`).",
            status=503,
            mimetype="text/plain",
        )
    response = Response(page.read_bytes(), mimetype="text/html")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Content-Security-Policy"] = participant_page_policy(
        state.settings.frame_ancestors
    )
    return response


def participant_page_policy(frame_ancestors: str) -> str:
    """The participant page's Content-Security-Policy: scripts, workers and connections only
    from this server (Pyodide needs ``wasm-unsafe-eval`` to compile WebAssembly); researcher
    markup may style itself and show images; only ``frame_ancestors`` may embed the page."""
    return "; ".join(
        (
            "default-src 'self'",
            "script-src 'self' 'wasm-unsafe-eval'",
            "worker-src 'self' blob:",
            "connect-src 'self'",
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data: blob: https:",
            "font-src 'self' data:",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            f"frame-ancestors {frame_ancestors}",
        )
    )


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
    await serve_participant(websocket, state.participants, state.settings.limits)


__all__ = ["current_app", "participant_blueprint"]
