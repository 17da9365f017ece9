"""The admin blueprint under ``/admin``: login, the page, its JSON data, live updates (server-sent
events), the actions and the export.

Nothing here answers without a logged-in session except the login form itself: pages redirect
to it, data, streams and exports answer 401. Every POST must come from this origin and, once
logged in, carry the session's CSRF token in ``X-CSRF-Token``. Every response has a strict
Content-Security-Policy, so a participant's text can never run as code on an admin page (the
page also only ever inserts it as text).
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
import secrets
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from quart import Blueprint, Response, current_app, g, redirect, request

from igym_core.config import GameScene
from igym_core.server.admin import queries, views
from igym_core.server.admin.auth import csrf_ok, verify_password
from igym_core.server.admin.console import AdminConsole
from igym_core.server.admin.controls import ActionError
from igym_core.server.admin.export import export_zip
from igym_core.server.assets import mime_type_for
from igym_core.server.state import igym_state

log = logging.getLogger("igym.admin")

admin_blueprint = Blueprint("admin", __name__, url_prefix="/admin")

COOKIE = "igym_admin"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; worker-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
DISABLED = (
    "The admin console is disabled: no admin password is set. Start the server with "
    "IGYM_ADMIN_PASSWORD (or IGYM_ADMIN_PASSWORD_HASH, made by `igym admin-password`) to "
    "enable it.\n"
)
PUBLIC = frozenset({"admin.login_form", "admin.login"})
KEEPALIVE_S = 15.0
MAX_PASSWORD_FIELD = 1024


def console() -> AdminConsole:
    return current_app.extensions["igym_admin"]


def _same_origin() -> bool:
    origin = request.headers.get("Origin")
    if origin is None:  # not sent by a browser: nothing to check (SameSite cookies still apply)
        return True
    return origin == f"{request.scheme}://{request.host}" or origin == _forwarded_origin()


def _forwarded_origin() -> str | None:
    proto = request.headers.get("X-Forwarded-Proto")
    return f"{proto}://{request.host}" if proto in ("http", "https") else None


def _secure() -> bool:
    return request.scheme == "https" or request.headers.get("X-Forwarded-Proto") == "https"


def _refuse(status: int, message: str) -> Response:
    return Response(json.dumps({"error": message}), status=status, mimetype="application/json")


@admin_blueprint.before_request
async def require_login() -> Response | None:
    admin = console()
    if not admin.enabled:
        return Response(DISABLED, status=404, mimetype="text/plain")
    if request.method == "POST" and not _same_origin():
        return _refuse(403, "cross-origin requests are refused")
    if request.endpoint in PUBLIC:
        return None
    session = admin.sessions.get(request.cookies.get(COOKIE))
    if session is None:
        if request.path.startswith(("/admin/api/", "/admin/export")) or request.method == "POST":
            return _refuse(401, "log in to the admin console first")
        return redirect("/admin/login", 303)
    if request.method == "POST" and not csrf_ok(session, request.headers.get("X-CSRF-Token")):
        return _refuse(403, "missing or wrong CSRF token (reload the page)")
    g.admin_session = session
    return None


@admin_blueprint.after_request
async def protect(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"  # "no-referrer" would send Origin: null
    response.headers.setdefault("Cache-Control", "no-store")
    return response


# -- login --------------------------------------------------------------------------------------


def _login_page(message: str = "", status: int = 200) -> Response:
    nonce = secrets.token_urlsafe(16)
    title = html.escape(igym_state().experiment.title or igym_state().experiment.id)
    note = f'<p class="error" role="alert">{html.escape(message)}</p>' if message else ""
    body = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Admin login · {title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<style nonce="{nonce}">
body {{ font-family: system-ui, sans-serif; background: #f3f4f7; color: #1d2330; margin: 0; }}
form {{ max-width: 22rem; margin: 12vh auto; background: #fff; padding: 1.5rem 2rem;
  border: 1px solid #d5d9e0; border-radius: 8px; }}
h1 {{ font-size: 1.2rem; margin: 0 0 1rem; }}
label {{ display: block; font-weight: 600; margin-bottom: .3rem; }}
input {{ width: 100%; box-sizing: border-box; padding: .5rem; font: inherit; margin-bottom: 1rem; }}
button {{ font: inherit; font-weight: 600; padding: .5rem 1.2rem; border: 0; border-radius: 4px;
  background: #2556c4; color: #fff; cursor: pointer; }}
.error {{ color: #8a1c1c; background: #fde5e5; padding: .4rem .6rem; border-radius: 4px; }}
</style></head><body>
<form method="post" action="/admin/login" id="login">
<h1>igym admin · {title}</h1>{note}
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required autofocus>
<button type="submit">Log in</button>
</form></body></html>"""
    response = Response(body, status=status, mimetype="text/html")
    response.headers["Content-Security-Policy"] = CSP.replace(
        "style-src 'self'", f"style-src 'nonce-{nonce}'"
    )
    return response


@admin_blueprint.get("/login")
async def login_form() -> Response:
    if console().sessions.get(request.cookies.get(COOKIE)) is not None:
        return redirect("/admin/", 303)
    return _login_page()


@admin_blueprint.post("/login")
async def login() -> Response:
    admin = console()
    address = request.remote_addr or "unknown"
    wait = admin.limiter.retry_after(address)
    if wait > 0:
        response = _login_page(
            f"Too many wrong passwords. Try again in {int(wait) + 1} seconds.", 429
        )
        response.headers["Retry-After"] = str(int(wait) + 1)
        return response
    form = await request.form
    password = form.get("password", "")[:MAX_PASSWORD_FIELD]
    assert admin.password_hash is not None
    ok = await asyncio.to_thread(verify_password, admin.password_hash, password)
    if not ok:
        admin.limiter.failed(address)
        log.warning("admin: a wrong password from %s", address)
        await admin.actions.record("login_failed", {"address": address})
        return _login_page("Wrong password.", 401)
    admin.limiter.succeeded(address)
    token, _ = admin.sessions.create(address)
    await admin.actions.record("login", {"address": address})
    response = redirect("/admin/", 303)
    response.set_cookie(
        COOKIE,
        token,
        path="/admin",
        httponly=True,
        samesite="Strict",
        secure=_secure(),
        max_age=int(admin.sessions.max_age_s),
    )
    return response


@admin_blueprint.post("/logout")
async def logout() -> Response:
    admin = console()
    admin.sessions.end(request.cookies.get(COOKIE))
    await admin.actions.record("logout", {"address": request.remote_addr})
    response = redirect("/admin/login", 303)
    response.delete_cookie(COOKIE, path="/admin")
    return response


# -- the page -----------------------------------------------------------------------------------


def _admin_dir() -> Path:
    return igym_state().static_dir / "admin"


@admin_blueprint.get("/")
async def page() -> Response:
    index = _admin_dir() / "index.html"
    if not index.is_file():
        return Response(
            "The admin page has not been built: run `make setup` (or `node client/build.mjs`).",
            status=503,
            mimetype="text/plain",
        )
    return Response(index.read_bytes(), mimetype="text/html")


@admin_blueprint.get("/static/<path:name>")
async def asset(name: str) -> Response:
    root = _admin_dir().resolve()
    path = (root / name).resolve()
    if root not in path.parents or not path.is_file():
        return Response(f"Not found: {name}\n", status=404, mimetype="text/plain")
    response = Response(path.read_bytes(), mimetype=mime_type_for(name))
    response.headers["Cache-Control"] = "no-cache"
    return response


# -- data ---------------------------------------------------------------------------------------


def _encode(value: Any) -> str:
    return json.dumps(value, allow_nan=False, default=str)


async def _page_data(function: Any, *args: Any, wrap: str | None = None) -> str | None:
    """A view's data as JSON text, built and encoded on the console's thread (big lists stay
    off the event loop); None when the view found nothing."""

    def build(ctx: views.Context) -> str | None:
        found = function(ctx, *args)
        if found is None:
            return None
        return _encode({wrap: found} if wrap else found)

    return await console().view(build)


def _json_text(text: str) -> Response:
    return Response(text, mimetype="application/json")


def _json_response(value: Any, status: int = 200) -> Response:
    return Response(_encode(value), status=status, mimetype="application/json")


@admin_blueprint.get("/api/me")
async def me() -> Response:
    state = igym_state()
    return _json_response(
        {
            "csrf": g.admin_session.csrf,
            "experiment": {"id": state.experiment.id, "title": state.experiment.title},
            "scenes": [{"id": s.id, "kind": views.scene_kind(s)} for s in state.experiment.scenes],
        }
    )


@admin_blueprint.get("/api/summary")
async def summary() -> Response:
    admin = console()
    snapshot = await admin.view(views.dashboard)
    return _json_response({**snapshot, "version": admin.version, "study": admin.gate.view()})


@admin_blueprint.get("/api/stream")
async def stream() -> Response:
    """Server-sent events: ``summary`` (the dashboard) whenever it changed, a comment every
    15 s to keep proxies from closing the stream, ``logout`` when the session ended."""
    admin = console()
    token = request.cookies.get(COOKIE)

    async def events() -> AsyncIterator[bytes]:
        admin.watching(+1)
        try:
            yield b"retry: 2000\n\n"
            version = 0
            if admin.snapshot is None:
                admin.publish(await admin.view(views.dashboard))
            while True:
                if admin.sessions.get(token) is None:
                    yield b"event: logout\ndata: {}\n\n"
                    return
                snapshot = await admin.next_snapshot(version, KEEPALIVE_S)
                if admin.closing:
                    return
                if snapshot is None:
                    yield b": keep-alive\n\n"
                    continue
                version = snapshot["version"]
                yield admin.snapshot_event
        finally:
            admin.watching(-1)

    response = Response(events(), mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Accel-Buffering"] = "no"
    response.timeout = None
    return response


@admin_blueprint.get("/api/participants")
async def participants() -> Response:
    return _json_text(await _page_data(views.participant_list, wrap="participants"))


@admin_blueprint.get("/api/participants/<participant_id>")
async def participant(participant_id: str) -> Response:
    found = await _page_data(views.participant_detail, participant_id)
    if found is None:
        return _refuse(404, f"there is no participant {participant_id[:80]!r}")
    return _json_text(found)


@admin_blueprint.get("/api/matches")
async def matches() -> Response:
    return _json_text(await _page_data(views.match_list, wrap="matches"))


@admin_blueprint.get("/api/matches/<match_id>")
async def match(match_id: str) -> Response:
    found = await _page_data(views.match_detail, match_id)
    if found is None:
        return _refuse(404, f"there is no match {match_id[:80]!r}")
    return _json_text(found)


@admin_blueprint.get("/api/assignments")
async def assignments() -> Response:
    offset = max(0, request.args.get("offset", 0, type=int) or 0)
    limit = min(500, max(1, request.args.get("limit", 200, type=int) or 200))

    def read(ctx: views.Context) -> dict[str, Any]:
        return {
            "records": ctx.log.tail(limit, offset),
            "total": ctx.log.records,
            "bad_lines": ctx.log.bad_lines,
            "offset": offset,
        }

    return _json_response(await console().view(read))


@admin_blueprint.get("/api/replay/<participant_id>/<scene_id>/<int:episode>")
async def replay(participant_id: str, scene_id: str, episode: int) -> Response:
    """What the page needs to replay a stored episode: the scene as the participant's page got
    it (environment, packages, assets), the episode's seed and every stored frame."""
    state = igym_state()
    scene = next((s for s in state.experiment.scenes if s.id == scene_id), None)
    if not isinstance(scene, GameScene):
        return _refuse(404, f"there is no game scene {scene_id[:80]!r}")
    description = state.games.describe(scene, participant_id)

    def read(ctx: views.Context) -> dict[str, Any] | None:
        found = [
            e
            for e in queries.episodes(ctx.db, [scene_id], [participant_id])
            if e["episode"] == episode
        ]
        if not found:
            return None
        frames = queries.episode_frames(ctx.db, participant_id, scene_id, episode)
        return {"episode": views.episode_view(found[0]), "frames": frames}

    data = await console().view(read)
    if data is None:
        return _refuse(404, f"{participant_id[:80]!r} has no episode {episode} of {scene_id!r}")
    return _json_response({"scene": description, **data})


# -- actions ------------------------------------------------------------------------------------


async def _body() -> dict[str, Any]:
    try:
        body = await request.get_json(force=True, silent=False)
    except Exception:
        raise ActionError("the request body must be JSON") from None
    if not isinstance(body, dict):
        raise ActionError("the request body must be a JSON object")
    return body


async def _act(work) -> Response:
    admin = console()
    try:
        result = await work(await _body())
    except ActionError as exc:
        return _refuse(400, str(exc))
    admin.changed()
    return _json_response({"ok": True, "result": result, "study": admin.gate.view()})


@admin_blueprint.get("/api/study")
async def study() -> Response:
    return _json_response(console().gate.view())


@admin_blueprint.post("/api/study")
async def change_study() -> Response:
    actions = console().actions

    async def work(body: dict[str, Any]) -> dict[str, Any]:
        known = {"open", "cap", "full_message"}
        if not body or set(body) - known:
            raise ActionError(f"send one or more of {sorted(known)}")
        if "full_message" in body:
            await actions.set_message(body["full_message"])
        if "cap" in body:
            await actions.set_cap(body["cap"])
        if "open" in body:
            if not isinstance(body["open"], bool):
                raise ActionError("open must be true or false")
            await actions.set_open(body["open"])
        return actions.gate.view()

    return await _act(work)


@admin_blueprint.post("/api/participants/<participant_id>/exclude")
async def exclude(participant_id: str) -> Response:
    return await _act(lambda body: console().actions.exclude(participant_id, body.get("reason")))


@admin_blueprint.post("/api/participants/<participant_id>/end")
async def end_session(participant_id: str) -> Response:
    return await _act(
        lambda body: console().actions.end_session(participant_id, body.get("reason"))
    )


# -- export -------------------------------------------------------------------------------------


@admin_blueprint.get("/export.zip")
async def export() -> Response:
    """Every exporter's files for the study so far, as one zip (built in a temporary file)."""
    state = igym_state()
    admin = console()
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(admin.clock()))
    name = f"{state.experiment.id}-{stamp}.zip"
    path, problems = await asyncio.to_thread(
        export_zip, state.store.location_for_readers, state.experiment.id, state.plugins, name
    )
    await admin.actions.record("export", {"file": name, "problems": list(problems)})

    async def chunks() -> AsyncIterator[bytes]:
        try:
            with path.open("rb") as f:
                while chunk := await asyncio.to_thread(f.read, 1 << 20):
                    yield chunk
        finally:
            path.unlink(missing_ok=True)

    response = Response(chunks(), mimetype="application/zip")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Content-Length"] = str(path.stat().st_size)
    response.timeout = None
    return response


# -- installing ---------------------------------------------------------------------------------


def install_admin(app: Any, gate: Any) -> AdminConsole:
    """Add the console to an app whose ``igym`` state is set up; says at start-up whether it
    is enabled (it is only with a password)."""
    state = app.extensions["igym"]
    admin = AdminConsole(state, gate)
    app.extensions["igym_admin"] = admin
    app.register_blueprint(admin_blueprint)
    if admin.enabled:
        log.info("admin console at /admin/ (password from the server settings)")
    else:
        log.warning(
            "admin console disabled: set IGYM_ADMIN_PASSWORD (or IGYM_ADMIN_PASSWORD_HASH) to "
            "enable it at /admin/"
        )
    if not gate.open or gate.full:
        log.warning(
            "the study is closed to new participants (set in the admin console): %s",
            "closed" if not gate.open else f"full at {gate.cap}",
        )

    @app.before_serving
    async def start_admin() -> None:
        if admin.enabled:
            admin.start()

    @app.after_serving
    async def stop_admin() -> None:
        await admin.stop()

    return admin
