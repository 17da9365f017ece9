"""Where a store keeps its records: an SQLite file (the embedded default) or a PostgreSQL
database (several igym processes or machines sharing one study).

The store's SQL is written once, in the subset both engines run (``INSERT … ON CONFLICT``,
``?`` placeholders, savepoints), and each backend gives it a connection that speaks it: for
SQLite the :mod:`sqlite3` connection itself, for PostgreSQL a thin :class:`PgConnection` over
psycopg that turns ``?`` into ``%s`` and rows into :class:`Row` (indexable by name and by
position, as :class:`sqlite3.Row`). The schema is the same text with the few types that differ
filled in per engine (:meth:`Backend.ddl`), and its versions are applied by the store's own
migrations for both (``igym_core.storage.store``).
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

#: how long SQLite waits for another program's lock per attempt (ms)
BUSY_STEP_MS = 200
_SQLITE_MAGIC = b"SQLite format 3\x00"


class BackendError(Exception):
    """The database cannot be reached or used; the message says which and why."""


def backend_for(target: str | Path) -> Backend:
    """The backend for a store: a ``postgresql://`` URL, or an SQLite file's path."""
    text = str(target)
    if is_database_url(text):
        return PostgresBackend(text)
    if "://" in text and not text.startswith("sqlite:"):
        scheme = text.split("://", 1)[0]
        raise BackendError(f"a store is an SQLite file or a postgresql:// URL, not {scheme}://")
    if text.startswith("sqlite:///"):
        text = text[len("sqlite:///") :]
    return SqliteBackend(Path(text))


def study_url(database: str, experiment_id: str) -> str:
    """An experiment's store in a shared PostgreSQL database: its own schema, ``igym_<id>``
    (a URL that names a schema already is returned as it is)."""
    if "schema=" in urlsplit(database).query:
        return database
    schema = "igym_" + re.sub(r"[^A-Za-z0-9_]", "_", experiment_id)[:58]
    joiner = "&" if "?" in database else "?"
    return f"{database}{joiner}schema={schema}"


def is_database_url(target: str | Path) -> bool:
    return str(target).startswith(("postgresql://", "postgres://"))


class Backend:
    """What the store needs of an engine."""

    dialect = ""
    #: the statement that starts a write transaction
    begin = "BEGIN"
    #: the engine's error base class (what the writer catches)
    errors: tuple[type[BaseException], ...] = ()
    #: types that differ between engines, filled into the schema's ``{NAME}`` slots
    types: dict[str, str] = {}

    @property
    def location(self) -> str:
        """Where the records are, for messages (no password)."""
        raise NotImplementedError

    def check(self) -> None:
        """Refuse, before connecting, what cannot be a store."""

    def lock_setup(self, db: Any) -> None:
        """Inside the set-up transaction: keep other processes' set-up of this store out."""

    def connect_writer(self) -> Any:
        raise NotImplementedError

    def connect_reader(self) -> Any:
        raise NotImplementedError

    def retryable(self, exc: BaseException) -> bool:
        """A failed write that can be tried again unchanged (locks, lost connection)."""
        return False

    def lost(self, exc: BaseException) -> bool:
        """The connection itself is gone: connect again before retrying."""
        return False

    def tables(self, db: Any) -> set[str]:
        raise NotImplementedError

    def columns(self, db: Any, table: str) -> set[str]:
        raise NotImplementedError

    def ddl(self, schema: str) -> list[str]:
        """The schema's statements for this engine."""
        text = schema
        for name, value in self.types.items():
            text = text.replace("{" + name + "}", value)
        return [s.strip() for s in text.split(";") if s.strip()]


class SqliteBackend(Backend):
    dialect = "sqlite"
    begin = "BEGIN IMMEDIATE"
    errors = (sqlite3.Error,)
    types = {
        "REAL": "REAL",
        "AUTO_ID": "INTEGER PRIMARY KEY AUTOINCREMENT",
        "WITHOUT_ROWID": "WITHOUT ROWID",
    }

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @property
    def location(self) -> str:
        return str(self.path)

    def check(self) -> None:
        if self.path.is_dir():
            raise BackendError(f"{self.path} is a folder, not an igym store")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.path.exists() or self.path.stat().st_size == 0:
            return
        with self.path.open("rb") as f:
            if f.read(16) != _SQLITE_MAGIC:
                raise BackendError(f"{self.path} is not an SQLite database, so not an igym store")

    def connect_writer(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA busy_timeout=5000")  # set-up may wait a little longer
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("PRAGMA foreign_keys=ON")
        return db

    def after_setup(self, db: sqlite3.Connection) -> None:
        db.execute(f"PRAGMA busy_timeout={BUSY_STEP_MS}")

    def connect_reader(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA busy_timeout=2000")
        db.execute("PRAGMA query_only=1")
        return db

    def retryable(self, exc: BaseException) -> bool:
        text = str(exc).lower()
        return isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text)

    def tables(self, db: sqlite3.Connection) -> set[str]:
        return {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}

    def columns(self, db: sqlite3.Connection, table: str) -> set[str]:
        return {r[1] for r in db.execute(f"PRAGMA table_info({table})")}


# -- PostgreSQL -----------------------------------------------------------------------------------


class Row(tuple):
    """A result row by position and by column name (what :class:`sqlite3.Row` gives)."""

    _names: tuple[str, ...] = ()

    def __new__(cls, names: tuple[str, ...], values: Sequence[Any]) -> Row:
        row = super().__new__(cls, values)
        row._names = names
        return row

    def __getitem__(self, key: Any) -> Any:  # type: ignore[override]
        if isinstance(key, str):
            try:
                return tuple.__getitem__(self, self._names.index(key))
            except ValueError:
                raise IndexError(f"no column {key!r}") from None
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._names)


def _row_factory(cursor: Any) -> Any:
    names = tuple(c.name for c in cursor.description or ())
    return lambda values: Row(names, values)


_PLACEHOLDER = re.compile(r"\?")
_SCHEMA_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


def _pg_sql(sql: str) -> str:
    """``?`` placeholders as psycopg's ``%s`` (and a literal ``%`` doubled)."""
    if "INSERT OR " in sql.upper():
        raise BackendError(f"not portable SQL (INSERT OR …): {sql[:80]}")
    return _PLACEHOLDER.sub("%s", sql.replace("%", "%%"))


class PgConnection:
    """A psycopg connection speaking the store's SQL: ``execute`` and ``executemany`` with
    ``?`` placeholders, returning a cursor whose rows are :class:`Row`."""

    def __init__(self, raw: Any) -> None:
        self.raw = raw

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        cursor = self.raw.cursor(row_factory=_row_factory)
        cursor.execute(_pg_sql(sql), tuple(params) or None)
        return cursor

    def executemany(self, sql: str, seq: Iterable[Sequence[Any]]) -> Any:
        cursor = self.raw.cursor(row_factory=_row_factory)
        cursor.executemany(_pg_sql(sql), [tuple(p) for p in seq])
        return cursor

    def close(self) -> None:
        self.raw.close()

    def __iter__(self) -> Iterator[Any]:  # not a cursor: make misuse loud
        raise TypeError("iterate over execute(...), not the connection")


class PostgresBackend(Backend):
    dialect = "postgresql"
    begin = "BEGIN"
    types = {
        "REAL": "DOUBLE PRECISION",
        "AUTO_ID": "BIGSERIAL PRIMARY KEY",
        "WITHOUT_ROWID": "",
    }

    def __init__(self, url: str) -> None:
        parts = urlsplit(url.replace("postgres://", "postgresql://", 1))
        query = parse_qsl(parts.query, keep_blank_values=True)
        #: the PostgreSQL schema holding the store (``?schema=`` in the URL; one per experiment
        #: when several share a database), or None for the connection's default
        self.schema: str | None = None
        for key, value in query:
            if key == "schema":
                if not _SCHEMA_NAME.fullmatch(value):
                    raise BackendError(
                        f"schema={value[:40]!r}: a schema name is letters, digits and _ "
                        "(at most 63, not starting with a digit)"
                    )
                self.schema = value
        rest = [(k, v) for k, v in query if k != "schema"]
        self.url = urlunsplit(parts._replace(query=urlencode(rest)))
        self._display = urlunsplit(
            parts._replace(query=f"schema={self.schema}" if self.schema else "")
        )
        try:
            import psycopg
        except ImportError:
            raise BackendError(
                "a postgresql:// store needs psycopg: pip install 'igym[postgres]'"
            ) from None
        self.psycopg = psycopg
        self.errors = (psycopg.Error,)

    @property
    def location(self) -> str:
        parts = urlsplit(self._display)
        host = parts.hostname or ""
        netloc = f"{parts.username}@{host}" if parts.username else host
        if parts.port:
            netloc += f":{parts.port}"
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))

    def _connect(self, *, create_schema: bool = False) -> PgConnection:
        try:
            raw = self.psycopg.connect(self.url, autocommit=True, connect_timeout=10)
        except self.psycopg.Error as exc:
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise BackendError(f"cannot reach the database {self.location}: {message}") from None
        db = PgConnection(raw)
        if self.schema:
            if create_schema:
                self._create_schema(db)
            db.execute(f'SET search_path TO "{self.schema}"')
        return db

    def _create_schema(self, db: PgConnection) -> None:
        # CREATE SCHEMA IF NOT EXISTS is not safe against itself: two processes opening one
        # study at once both find it missing, and one fails on the catalog's unique index
        key = f"igym schema {self.schema}"
        db.execute("SELECT pg_advisory_lock(hashtext(?))", (key,))
        try:
            db.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
        finally:
            db.execute("SELECT pg_advisory_unlock(hashtext(?))", (key,))

    def connect_writer(self) -> PgConnection:
        db = self._connect(create_schema=True)
        db.execute("SET lock_timeout = 5000")  # set-up may wait a little longer
        return db

    def lock_setup(self, db: PgConnection) -> None:
        # several processes may open one study at once: one sets its schema up at a time
        db.execute("SELECT pg_advisory_xact_lock(hashtext(current_schema()))")

    def after_setup(self, db: PgConnection) -> None:
        # a lock another program holds fails a statement in a short step (LockNotAvailable,
        # retryable) instead of blocking the writer: it waits with a deadline, as for SQLite
        db.execute(f"SET lock_timeout = {BUSY_STEP_MS}")

    def connect_reader(self) -> PgConnection:
        db = self._connect()
        db.execute("SET default_transaction_read_only = on")
        return db

    def retryable(self, exc: BaseException) -> bool:
        errors = self.psycopg.errors
        return isinstance(
            exc,
            errors.SerializationFailure | errors.DeadlockDetected | errors.LockNotAvailable,
        ) or self.lost(exc)

    def lost(self, exc: BaseException) -> bool:
        # LockNotAvailable is an OperationalError too: only a connection error (class 08), the
        # server shutting the session down (57P) or a client-side failure (no SQLSTATE) is lost
        if isinstance(exc, self.psycopg.InterfaceError):
            return True
        if not isinstance(exc, self.psycopg.OperationalError):
            return False
        state = getattr(exc, "sqlstate", None)
        return state is None or state.startswith(("08", "57P"))

    def tables(self, db: PgConnection) -> set[str]:
        rows = db.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        )
        return {r[0] for r in rows}

    def columns(self, db: PgConnection, table: str) -> set[str]:
        rows = db.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = "
            "current_schema() AND table_name = ?",
            (table,),
        )
        return {r[0] for r in rows}
