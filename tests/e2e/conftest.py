"""Browser tests: Playwright drives a real Chromium against a real igym server (Hypercorn).

Run them with ``bash tests/run.sh tests/e2e`` (or ``make test``), which puts pytest in a
loopback-only network namespace (TESTING.md). Settings:

- ``IGYM_CHROMIUM``: the Chromium binary (default ``/usr/bin/chromium`` or ``chromium`` on PATH).
- ``CI=true``: a missing browser or an unbuilt client fails the tests instead of skipping them.
- ``IGYM_E2E_HEADED=1``: show the browser window (needs a display).

Every test that uses ``page``/``context`` also checks that the browser sent no request to a host
other than 127.0.0.1 / localhost.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import attrs
import pytest

# The shared helpers assert too: give their failures the same detail as the tests' own asserts.
pytest.register_assert_rewrite("tests.e2e.helpers")

ROOT = Path(__file__).resolve().parents[2]
STATIC_DIR = ROOT / "igym_core" / "static"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})

#: Flags from TESTING.md. Playwright adds --headless and its own --disable-features list;
#: a second --disable-features here would replace that list, so there is none.
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--allow-loopback-in-peer-connection",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
)

SERVER_START_TIMEOUT_S = 30.0


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def missing(reason: str) -> None:
    """Skip on a developer machine, fail under CI: CI must never pass by skipping."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true, so this is a failure, not a skip)", pytrace=False)
    pytest.skip(reason)


def chromium_executable() -> str | None:
    configured = os.environ.get("IGYM_CHROMIUM")
    if configured:
        return configured if Path(configured).is_file() else None
    if Path("/usr/bin/chromium").is_file():
        return "/usr/bin/chromium"
    return shutil.which("chromium")


# -- browser ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = chromium_executable()
    if path is None:
        where = os.environ.get("IGYM_CHROMIUM") or "/usr/bin/chromium"
        missing(f"no Chromium at {where}: `apt-get install chromium` or set IGYM_CHROMIUM")
    return str(path)


@pytest.fixture(scope="session")
def built_client() -> Path:
    """The built client; the tests need ``node client/build.mjs`` to have run."""
    if not (STATIC_DIR / "build.json").is_file():
        missing(f"{STATIC_DIR} is not built: run `make setup` (or `node client/build.mjs`)")
    return STATIC_DIR


# Playwright's sync API keeps an asyncio loop running in this thread while it is started, which
# stops pytest-asyncio (and asyncio.run) from working. So it lives for this package only, and
# the async tests of other folders, which run after it, are not affected.
@pytest.fixture(scope="package")
def playwright_sync() -> Iterator[object]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("playwright is not installed: `pip install -e '.[dev]'`")
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="package")
def browser(playwright_sync, chromium_path: str, built_client: Path):
    """One Chromium for the e2e tests, launched with a fresh temporary profile."""
    browser = playwright_sync.chromium.launch(
        executable_path=chromium_path,
        headless=not os.environ.get("IGYM_E2E_HEADED"),
        args=list(CHROMIUM_ARGS),
        timeout=60_000,
    )
    yield browser
    browser.close()


@attrs.define
class RequestRecorder:
    """Every URL the browser asked for (pages, workers, websockets), in order."""

    urls: list[str] = attrs.field(factory=list)

    def attach(self, context) -> None:
        context.on("request", lambda request: self.urls.append(request.url))
        context.on("page", lambda page: self.attach_page(page))

    def attach_page(self, page) -> None:
        page.on("websocket", lambda ws: self.urls.append(ws.url))

    def foreign(self) -> list[str]:
        """URLs that went anywhere but loopback (data:/blob: URLs have no host and are fine)."""
        bad = []
        for url in self.urls:
            parts = urlsplit(url)
            if parts.scheme in ("data", "blob", "about"):
                continue
            if parts.hostname not in LOOPBACK_HOSTS:
                bad.append(url)
        return bad

    def paths(self) -> list[str]:
        return [urlsplit(url).path for url in self.urls]


@pytest.fixture
def requests_seen() -> RequestRecorder:
    return RequestRecorder()


@pytest.fixture
def context(browser, requests_seen: RequestRecorder):
    """A fresh browser context (own storage and HTTP cache) that must stay on loopback."""
    ctx = browser.new_context(permissions=["camera", "microphone"])
    ctx.set_default_timeout(30_000)
    requests_seen.attach(ctx)
    yield ctx
    ctx.close()
    foreign = requests_seen.foreign()
    assert not foreign, f"the browser contacted non-loopback hosts: {foreign}"


@pytest.fixture
def page(context, requests_seen: RequestRecorder):
    page = context.new_page()
    requests_seen.attach_page(page)
    messages: list[str] = []
    page.on("console", lambda msg: messages.append(f"[{msg.type}] {msg.text}"))
    page.on("pageerror", lambda err: messages.append(f"[pageerror] {err}"))
    yield page
    if messages:
        print("browser console:\n  " + "\n  ".join(messages))


# -- server -------------------------------------------------------------------------------------


def igym_command() -> list[str]:
    script = Path(sys.executable).parent / "igym"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "igym_core.cli"]


@attrs.define
class IgymServer:
    """``igym run FILE`` in a subprocess on 127.0.0.1; restartable on the same port and store."""

    experiment_file: Path
    data_dir: Path
    log_path: Path
    port: int = 0
    #: a postgresql:// URL: the study is stored there instead of data_dir
    database: str | None = None
    #: more ``igym run`` options (e.g. ``--redis URL``)
    args: tuple[str, ...] = ()
    process: subprocess.Popen | None = None
    _log_lines: list[str] = attrs.field(factory=list)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str = "/") -> str:
        return self.base_url + path

    def start(self) -> IgymServer:
        """Start (or restart) the server and wait until it answers."""
        assert self.process is None, "already running"
        cmd = [
            *igym_command(),
            "run",
            str(self.experiment_file),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--data-dir",
            str(self.data_dir),
            *(["--database", self.database] if self.database else []),
            *self.args,
        ]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        announced = threading.Event()
        threading.Thread(target=self._pump, args=(self.process, announced), daemon=True).start()
        if not announced.wait(SERVER_START_TIMEOUT_S) or self.port == 0:
            self.stop()
            pytest.fail(f"igym run did not start:\n{self.log()}", pytrace=False)
        self._wait_until_healthy()
        return self

    def _pump(self, process: subprocess.Popen, announced: threading.Event) -> None:
        assert process.stdout is not None
        with self.log_path.open("a") as log:
            for line in process.stdout:
                self._log_lines.append(line)
                log.write(line)
                log.flush()
                if "hosting" in line and "http://" in line and not announced.is_set():
                    address = line.split("http://", 1)[1].split("/", 1)[0]
                    self.port = int(address.rsplit(":", 1)[1])
                    announced.set()
        announced.set()

    def _wait_until_healthy(self) -> None:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                break
            try:
                with urllib.request.urlopen(self.url("/static/build.json"), timeout=2) as reply:
                    if reply.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        self.stop()
        pytest.fail(f"igym run did not become healthy:\n{self.log()}", pytrace=False)

    def stop(self) -> None:
        """Stop gracefully (SIGTERM), or kill if it does not stop in time."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process = None

    def kill(self) -> None:
        """SIGKILL: the crash a store must survive."""
        if self.process is None:
            return
        self.process.kill()
        self.process.wait(10)
        self.process = None

    def log(self) -> str:
        return "".join(self._log_lines) or "(no output)"


@pytest.fixture
def igym_server(tmp_path: Path, built_client: Path):
    """Factory: ``igym_server(FILE)`` hosts an experiment file and returns the running server."""
    servers: list[IgymServer] = []

    def start(
        experiment_file: Path | str, *, database: str | None = None, args: tuple[str, ...] = ()
    ) -> IgymServer:
        n = len(servers)
        server = IgymServer(
            experiment_file=Path(experiment_file).resolve(),
            data_dir=tmp_path / f"data{n}",
            log_path=tmp_path / f"server{n}.log",
            database=database,
            args=args,
        )
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.stop()
