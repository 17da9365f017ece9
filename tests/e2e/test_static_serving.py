"""The assets blueprint, over Quart's test client (no browser): MIME types, caching, the
"not built" answer, and that nothing outside the static folder can be read.

Lives next to the browser tests because those depend on it; it needs neither Chromium nor a build.
The tests are plain functions that run their async body in a thread of its own: while the
browser tests' Playwright is started, this thread's event loop is taken.
"""

from __future__ import annotations

import asyncio
import functools
import gzip
import json
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from quart import Quart

from igym_core.server.assets import MIME_TYPES, make_assets_blueprint, mime_type_for


def in_own_loop(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async test with asyncio.run in a fresh thread."""

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, test(*args, **kwargs)).result()

    return run


FILES = {
    "index.html": "<!doctype html><title>x</title>",
    "selftest.html": "<!doctype html><title>self-test</title>",
    "participant.js": "export {};",
    "style.css": "body {}",
    "pyodide/pyodide.mjs": "export const x = 1;",
    "pyodide/pyodide.asm.mjs": "export default 1;",
    "pyodide/pyodide.asm.wasm": b"\0asm\1\0\0\0",
    "pyodide/python_stdlib.zip": b"PK\5\6" + bytes(18),
    "pyodide/pyodide-lock.json": "{}",
}
EXPECTED_TYPES = {
    "index.html": "text/html",
    "participant.js": "text/javascript",
    "style.css": "text/css",
    "pyodide/pyodide.mjs": "text/javascript",
    "pyodide/pyodide.asm.mjs": "text/javascript",
    "pyodide/pyodide.asm.wasm": "application/wasm",
    "pyodide/python_stdlib.zip": "application/zip",
    "pyodide/pyodide-lock.json": "application/json",
}


@pytest.fixture
def static_dir(tmp_path: Path) -> Path:
    root = tmp_path / "static"
    for name, content in FILES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    (root / "build.json").write_text(json.dumps({"pyodide_version": "test"}))
    (tmp_path / "secret.txt").write_text("outside the static folder")
    return root


def app_for(static_dir: Path) -> Quart:
    # as create_app does: the app has no static route of its own, the blueprint serves /static
    app = Quart(__name__, static_folder=None)
    app.register_blueprint(make_assets_blueprint(static_dir))
    return app


@in_own_loop
async def test_files_are_served_with_their_mime_types(static_dir: Path):
    client = app_for(static_dir).test_client()
    for name, mime in EXPECTED_TYPES.items():
        response = await client.get(f"/static/{name}")
        assert response.status_code == 200, name
        assert response.mimetype == mime, name
        assert response.headers["Cache-Control"] == "no-cache"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        body = await response.get_data()
        expected = FILES[name]
        assert body == (expected if isinstance(expected, bytes) else expected.encode())


@in_own_loop
async def test_selftest_route_serves_the_selftest_page(static_dir: Path):
    response = await app_for(static_dir).test_client().get("/selftest")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert b"self-test" in await response.get_data()


@in_own_loop
async def test_unchanged_files_revalidate_with_304(static_dir: Path):
    client = app_for(static_dir).test_client()
    first = await client.get("/static/pyodide/pyodide.asm.wasm")
    etag = first.headers["ETag"]
    again = await client.get("/static/pyodide/pyodide.asm.wasm", headers={"If-None-Match": etag})
    assert again.status_code == 304


@pytest.mark.parametrize(
    ("accept", "compressed"),
    [("gzip, deflate, br", True), ("br;q=1.0, gzip;q=0.5", True), ("gzip;q=0", False), ("", False)],
)
@in_own_loop
async def test_gzip_twins_go_to_browsers_that_accept_gzip(
    static_dir: Path, accept: str, compressed: bool
):
    wasm = FILES["pyodide/pyodide.asm.wasm"] * 1000
    (static_dir / "pyodide/pyodide.asm.wasm").write_bytes(wasm)
    (static_dir / "pyodide/pyodide.asm.wasm.gz").write_bytes(gzip.compress(wasm))
    client = app_for(static_dir).test_client()
    response = await client.get(
        "/static/pyodide/pyodide.asm.wasm", headers={"Accept-Encoding": accept}
    )
    assert response.status_code == 200
    assert response.mimetype == "application/wasm"
    assert response.headers["Vary"] == "Accept-Encoding"
    body = await response.get_data()
    if compressed:
        assert response.headers["Content-Encoding"] == "gzip"
        assert gzip.decompress(body) == wasm
    else:
        assert "Content-Encoding" not in response.headers
        assert body == wasm


@pytest.mark.parametrize(
    "path",
    [
        "/static/../secret.txt",
        "/static/%2e%2e/secret.txt",
        "/static/pyodide/../../secret.txt",
        "/static//etc/passwd",
        "/static/pyodide",
        "/static/missing.js",
    ],
)
@in_own_loop
async def test_nothing_outside_the_static_folder_and_no_directories(static_dir: Path, path: str):
    client = app_for(static_dir).test_client()
    response = await client.get(path, follow_redirects=True)
    assert response.status_code == 404
    assert b"outside the static folder" not in await response.get_data()


@pytest.mark.parametrize("path", ["/selftest", "/static/participant.js"])
@in_own_loop
async def test_an_unbuilt_client_gets_a_503_that_says_what_to_run(tmp_path: Path, path: str):
    app = app_for(tmp_path / "never-built")
    response = await app.test_client().get(path)
    assert response.status_code == 503
    text = (await response.get_data()).decode()
    assert "make setup" in text and "node client/build.mjs" in text


def test_mime_table_covers_what_the_build_produces():
    for suffix in (".html", ".js", ".mjs", ".css", ".json", ".wasm", ".zip"):
        assert suffix in MIME_TYPES
    assert mime_type_for("a/b/C.WASM") == "application/wasm"
    assert mime_type_for("noext") == "application/octet-stream"
