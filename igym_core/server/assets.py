"""The assets blueprint: the built client and the Pyodide runtime under ``/static/``, and the
self-test page at ``/selftest``.

The files are produced by ``node client/build.mjs`` (``make setup``) into ``igym_core/static/``
(or ``Settings.static_dir``). Every response is revalidated (``Cache-Control: no-cache`` with an
ETag), so a rebuilt client is picked up on the next load and an unchanged one costs a 304.
Where the build wrote a gzip twin (``NAME.gz``, the big Pyodide files), browsers that accept gzip
get it with ``Content-Encoding: gzip``: about half the bytes to download.
The COOP/COEP headers Pyodide needs are added to every response by the app factory.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from quart import Blueprint, Response, current_app, request, send_from_directory
from werkzeug.exceptions import NotFound

DEFAULT_STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

#: Content types by file suffix. Served explicitly: the platform's mimetypes table varies (some
#: systems know neither ``.mjs`` nor ``.wasm``, and WebAssembly streaming compilation needs
#: ``application/wasm``).
MIME_TYPES: dict[str, str] = {
    ".html": "text/html",
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".css": "text/css",
    ".json": "application/json",
    ".map": "application/json",
    ".wasm": "application/wasm",
    ".zip": "application/zip",
    ".whl": "application/zip",
    ".tar": "application/x-tar",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".svg": "image/svg+xml",
    ".ico": "image/x-icon",
    ".txt": "text/plain",
    ".woff2": "font/woff2",
}
FALLBACK_MIME_TYPE = "application/octet-stream"

NOT_BUILT_MESSAGE = (
    "The igym client has not been built ({missing} is missing).\n"
    "Run `make setup`, or `cd client && npm ci && cd .. && node client/build.mjs`, "
    "then reload this page.\n"
)


def mime_type_for(name: str) -> str:
    """The Content-Type igym serves a file name with."""
    return MIME_TYPES.get(PurePosixPath(name).suffix.lower(), FALLBACK_MIME_TYPE)


def make_assets_blueprint(static_dir: Path | None = None) -> Blueprint:
    """A blueprint serving ``static_dir`` under ``/static/`` and the self-test at ``/selftest``.

    Without ``static_dir``, each request uses the app's ``static_dir`` setting (the ``igym``
    extension's ``static_dir``) or else ``igym_core/static``.
    """
    blueprint = Blueprint("assets", __name__)

    def root() -> Path:
        if static_dir is not None:
            return Path(static_dir)
        state = current_app.extensions.get("igym")
        configured = getattr(state, "static_dir", None)
        return Path(configured) if configured else DEFAULT_STATIC_DIR

    async def serve(directory: Path, name: str) -> Response:
        if not (directory / "build.json").is_file():
            return _not_built(directory / "build.json")
        mimetype = mime_type_for(name)
        try:
            gzipped = await _gzip_twin(directory, name, mimetype)
            response = gzipped or await send_from_directory(directory, name, mimetype=mimetype)
        except (NotFound, FileNotFoundError, IsADirectoryError):
            return Response(f"Not found: /static/{name}\n", status=404, mimetype="text/plain")
        response.headers["Cache-Control"] = "no-cache"
        response.headers["Vary"] = "Accept-Encoding"
        response.headers.pop("Expires", None)
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    @blueprint.get("/static/<path:filename>")
    async def static_file(filename: str) -> Response:
        if filename.split("/", 1)[0] == "admin":  # the admin page: /admin/static/, after login
            return Response(f"Not found: /static/{filename}\n", status=404, mimetype="text/plain")
        return await serve(root(), filename)

    @blueprint.get("/selftest")
    async def selftest() -> Response:
        return await serve(root(), "selftest.html")

    return blueprint


async def _gzip_twin(directory: Path, name: str, mimetype: str) -> Response | None:
    """``NAME.gz`` as ``NAME`` with ``Content-Encoding: gzip``, if it exists and the browser
    accepts gzip; None otherwise."""
    if not _accepts_gzip(request.headers.get("Accept-Encoding", "")):
        return None
    try:
        response = await send_from_directory(directory, f"{name}.gz", mimetype=mimetype)
    except (NotFound, FileNotFoundError, IsADirectoryError):
        return None
    response.headers["Content-Encoding"] = "gzip"
    return response


def _accepts_gzip(header: str) -> bool:
    for item in header.split(","):
        coding, _, params = item.strip().partition(";")
        if coding.strip().lower() in ("gzip", "*"):
            q = params.strip().lower()
            return not (q.startswith("q=") and _float(q[2:]) == 0.0)
    return False


def _float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _not_built(missing: Path) -> Response:
    return Response(
        NOT_BUILT_MESSAGE.format(missing=missing),
        status=503,
        mimetype="text/plain",
        headers={"Retry-After": "30", "Cache-Control": "no-store"},
    )


#: The blueprint the app factory registers (it reads the static folder from the app's settings).
assets_blueprint = make_assets_blueprint()
