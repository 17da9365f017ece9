"""Real PostgreSQL and Redis servers for tests: Debian's binaries started as local processes on
127.0.0.1, on free ports, with temporary data folders (``make test`` installs the packages).

Nothing here is a stand-in: a test that asks for a database gets a real server, and a machine
without one fails loudly unless it is not CI (then the test is skipped with the reason).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import attrs
import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _missing(what: str) -> None:
    message = f"{what} is not installed (make test installs it: apt-get install {what})"
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _wait_for_port(port: int, proc: subprocess.Popen, what: str, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited ({proc.returncode}): {log.read_text()[-2000:]}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port} in 30 s")


def _postgres_bin() -> Path | None:
    if env := os.environ.get("IGYM_PG_BIN"):
        return Path(env)
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4])
    )
    return Path(found[-1]).parent if found else None


@attrs.define
class Postgres:
    """A running PostgreSQL server: ``url(dbname)`` names a database on it."""

    port: int
    user: str
    proc: subprocess.Popen
    folder: Path
    _count: int = 0

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{dbname}"

    def new_database(self) -> str:
        """A fresh, empty database's URL."""
        import psycopg

        self._count += 1
        name = f"t{os.getpid()}_{self._count}"
        with psycopg.connect(self.url(), autocommit=True) as db:
            db.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        """Drop a database made by :meth:`new_database`, ending any session still open on it
        (a test's app that was never shut down)."""
        import psycopg

        name = url.rsplit("/", 1)[1].split("?")[0]
        with psycopg.connect(self.url(), autocommit=True) as db:
            db.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _wait_until_accepting(server: Postgres) -> None:
    """The port opens before the server takes sessions ("the database system is starting up")."""
    import psycopg

    deadline = time.monotonic() + 30
    while True:
        try:
            psycopg.connect(server.url(), connect_timeout=5).close()
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@contextmanager
def postgres() -> Iterator[Postgres]:
    """Start a PostgreSQL server for the duration of the block."""
    bindir = _postgres_bin()
    if bindir is None:
        _missing("postgresql")
    folder = Path(tempfile.mkdtemp(prefix="igym-pg-"))
    data = folder / "data"
    as_user: dict = {}
    user = pwd.getpwuid(os.getuid()).pw_name
    if os.getuid() == 0:  # PostgreSQL refuses to run as root: run it as Debian's postgres user
        user = "postgres"
        entry = pwd.getpwnam(user)
        os.chown(folder, entry.pw_uid, entry.pw_gid)
        as_user = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
    log = folder / "log"
    subprocess.run(
        [str(bindir / "initdb"), "-D", str(data), "-U", user, "-A", "trust", "-E", "UTF8"],
        check=True,
        capture_output=True,
        cwd=folder,
        **as_user,
    )
    port = _free_port()
    options = [
        "-c", f"port={port}",
        "-c", "listen_addresses=127.0.0.1",
        "-c", f"unix_socket_directories={folder}",
        "-c", "fsync=off",  # test data need not outlive a power cut: faster set-up
        "-c", "full_page_writes=off",
        "-c", "max_connections=200",
        "-c", "shared_buffers=64MB",
    ]  # fmt: skip
    with open(os.open(log, os.O_WRONLY | os.O_CREAT, 0o666), "w") as out:
        proc = subprocess.Popen(
            [str(bindir / "postgres"), "-D", str(data), *options],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=folder,
            **as_user,
        )
    try:
        _wait_for_port(port, proc, "postgres", log)
        server = Postgres(port=port, user=user, proc=proc, folder=folder)
        _wait_until_accepting(server)
        yield server
    finally:
        proc.send_signal(signal.SIGINT)  # a "fast" shutdown: ends open sessions
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(folder, ignore_errors=True)


@attrs.define
class Redis:
    """A running Redis server."""

    port: int
    proc: subprocess.Popen
    _count: int = 0

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def new_database(self) -> str:
        """A URL to one of the server's numbered databases, emptied first."""
        import redis

        self._count += 1
        number = self._count % 16
        client = redis.Redis.from_url(self.url(number))
        client.flushdb()
        client.close()
        return self.url(number)


@contextmanager
def redis_server() -> Iterator[Redis]:
    """Start a Redis server (no persistence) for the duration of the block."""
    binary = shutil.which("redis-server") or (
        "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None
    )
    if binary is None:
        _missing("redis-server")
    folder = Path(tempfile.mkdtemp(prefix="igym-redis-"))
    log = folder / "log"
    port = _free_port()
    with log.open("w") as out:
        options = {"port": port, "bind": "127.0.0.1", "save": "", "appendonly": "no"}
        options |= {"dir": folder, "databases": 16}
        argv = [binary, *(x for k, v in options.items() for x in (f"--{k}", str(v)))]
        proc = subprocess.Popen(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_for_port(port, proc, "redis-server", log)
        yield Redis(port=port, proc=proc)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(folder, ignore_errors=True)
