"""The store's single writer: one thread, one connection, group commits, bounded waiting.

Every write is a *job*: a function that gets the write connection inside a transaction. Jobs
are queued (never blocking the caller) and the writer thread runs whatever is queued in one
``BEGIN IMMEDIATE … COMMIT``, each job in its own savepoint, so one fsync serves many writes and
one failing job does not undo the others. A job's :class:`Pending` result is set only after the
commit, so a write that was acknowledged to a browser survives ``kill -9``.

When the database is locked by another program (a researcher's SQLite tool holding a write
lock), the writer waits in short steps and retries: nothing is lost and nothing hangs. A job
that a caller waits for gives up after its deadline with :class:`StoreBusy`; background jobs
(nobody waits for them) keep their place until the lock goes. The queue is bounded: when it is
full a new job fails at once with :class:`StoreBusy`, before any work is done.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import logging
import threading
import time
from collections.abc import Callable, Generator
from typing import Any

log = logging.getLogger("igym.store")

#: the most jobs committed in one transaction
MAX_BATCH = 512


class StoreError(Exception):
    """The store cannot do what was asked (bad file, episode not open, ...)."""


class StoreBusy(StoreError):
    """The write could not be done in time: the database is locked by another program, or too
    many writes are waiting. Nothing was written; the same write may be sent again."""


class Pending(concurrent.futures.Future):
    """The result of a queued write: ``await`` it on the event loop, ``.result()`` elsewhere,
    or leave it (a background write; a failure is logged).

    Awaiting registers an asyncio future that the writer settles together with the rest of
    its batch, in one call into the event loop per batch (not one wake-up per write)."""

    def __init__(self) -> None:
        super().__init__()
        self._aio_lock = threading.Lock()
        #: asyncio futures waiting for this write, by their loop (None once settled)
        self._aio: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[Any]]] | None = []

    def __await__(self) -> Generator[Any, None, Any]:
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[Any] = loop.create_future()
        with self._aio_lock:
            if self._aio is not None:
                self._aio.append((loop, waiter))
                return waiter.__await__()
        _copy_outcome(self, waiter)  # already settled
        return waiter.__await__()

    def _settle(self, value: Any, exc: BaseException | None) -> list[tuple[Any, Any]]:
        """Set the outcome (writer thread); the asyncio futures still to be told."""
        with self._aio_lock:
            if self.done():
                return []
            if exc is not None:
                self.set_exception(exc)
            else:
                self.set_result(value)
            waiters, self._aio = self._aio or [], None
        return waiters

    def __bool__(self) -> bool:  # `if store.create_participant(...)` would always be true
        raise TypeError("a Pending write has no truth value: await it or call .result()")

    def cancel(self) -> bool:
        """A queued write is done even when its caller stops waiting (a page disconnected
        while its frames were being stored): it cannot be cancelled."""
        return False


class _Gone:
    """Stands for a connection that could not be made again: every use fails, retryably."""

    def __init__(self, error: BaseException) -> None:
        self.error = error

    def execute(self, *args: Any) -> Any:
        raise self.error

    def close(self) -> None:
        pass


class _Job:
    """One queued write (a plain slotted class: it is internal and made for every write)."""

    __slots__ = ("args", "deadline", "function", "pending")

    def __init__(
        self,
        function: Callable[..., Any],
        args: tuple[Any, ...],
        deadline: float | None,
        pending: Pending,
    ) -> None:
        self.function = function
        self.args = args
        self.deadline = deadline
        self.pending = pending


class Writer:
    """Owns the write connection and the thread that uses it."""

    def __init__(
        self,
        connect: Callable[[], Any],
        backend: Any,
        *,
        name: str,
        timeout_s: float,
        max_pending: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._connect = connect
        self.backend = backend
        self.timeout_s = timeout_s
        self.max_pending = max_pending
        self.clock = clock
        self._queue: collections.deque[_Job] = collections.deque()
        self._cond = threading.Condition()
        self._closing = False
        self._close_by = 0.0
        #: jobs taken off the queue and not done yet (the batch being committed)
        self._in_flight = 0
        #: how often a batch found the database locked by someone else (for tests and the log)
        self.lock_waits = 0
        self.batches = 0
        self.committed = 0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._db: Any = None
        self._started = threading.Event()
        self._start_error: BaseException | None = None
        self._thread.start()
        self._started.wait()
        if self._start_error is not None:
            raise self._start_error

    # -- the callers' side ----------------------------------------------------------------------

    def submit(self, function: Callable[..., Any], *args: Any, background: bool = False) -> Pending:
        """Queue ``function(db, *args)``; never blocks. ``background`` jobs have no deadline."""
        pending = Pending()
        deadline = None if background else self.clock() + self.timeout_s
        with self._cond:
            if self._closing:
                pending.set_exception(StoreError("the store is closed"))
                return pending
            waiting = len(self._queue) + self._in_flight
            if waiting >= self.max_pending:
                pending.set_exception(
                    StoreBusy(f"{waiting} writes are waiting for the database; try again")
                )
                return pending
            self._queue.append(_Job(function, args, deadline, pending))
            self._cond.notify()
        if background:
            pending.add_done_callback(_log_failure)
        return pending

    @property
    def pending(self) -> int:
        with self._cond:
            return len(self._queue) + self._in_flight

    def close(self, timeout_s: float = 5.0) -> None:
        """Commit what is queued (waiting at most ``timeout_s`` for a lock), then stop."""
        with self._cond:
            self._closing = True
            self._close_by = self.clock() + timeout_s
            self._cond.notify()
        self._thread.join(timeout_s + 1.0)

    # -- the writer thread ----------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._db = self._connect()
        except BaseException as exc:  # reported to the constructor's caller
            self._start_error = exc
            self._started.set()
            return
        self._started.set()
        try:
            while True:
                with self._cond:
                    while not self._queue and not self._closing:
                        self._cond.wait()
                    if not self._queue and self._closing:
                        return
                    batch = [self._queue.popleft() for _ in range(min(MAX_BATCH, len(self._queue)))]
                    self._in_flight = len(batch)
                try:
                    self._commit(batch)
                except Exception as exc:  # never let the writer die: fail the batch, go on
                    log.exception("the store's writer failed a batch")
                    try:
                        self._db.execute("ROLLBACK")
                    except self.backend.errors:
                        pass
                    for job in batch:
                        _settle(job.pending, exc=StoreError(f"the write failed: {exc}"))
                with self._cond:
                    self._in_flight = 0
        finally:
            self._fail_all(StoreError("the store was closed before this write was done"))
            self._db.close()

    def _commit(self, batch: list[_Job]) -> None:
        """Run ``batch`` in one transaction; retry while another program holds the lock."""
        db = self._db
        assert db is not None
        delay = 0.01
        careful = False
        while batch:
            batch = self._expire(batch)
            if not batch:
                return
            try:
                db.execute(self.backend.begin)
            except self.backend.errors as exc:
                if not self.backend.retryable(exc):
                    self._fail(batch, StoreError(f"the database cannot be written: {exc}"))
                    return
                db = self._recover(db, exc)
                self.lock_waits += 1
                if self.lock_waits == 1 or self.lock_waits % 50 == 0:
                    log.warning(
                        "the store is locked by another program; %d writes wait (%s)",
                        len(batch) + self.pending,
                        exc,
                    )
                time.sleep(delay)
                delay = min(0.25, delay * 2)
                continue
            try:
                results = self._run_jobs(db, batch, careful, self.backend.retryable)
            except self.backend.errors as exc:  # a lock, or the connection went: try again
                try:
                    db.execute("ROLLBACK")
                except self.backend.errors:
                    pass
                db = self._recover(db, exc)
                self.lock_waits += 1
                time.sleep(delay)
                delay = min(0.25, delay * 2)
                continue
            if results is None:  # a job failed: run the batch again, each job in a savepoint
                db.execute("ROLLBACK")
                careful = True
                continue
            try:
                db.execute("COMMIT")
            except self.backend.errors as exc:
                # nothing was committed: roll back and run the whole batch again
                try:
                    db.execute("ROLLBACK")
                except self.backend.errors:
                    pass
                if not self.backend.retryable(exc):
                    self._fail(batch, StoreError(f"the database cannot be written: {exc}"))
                    return
                db = self._recover(db, exc)
                self.lock_waits += 1
                time.sleep(delay)
                delay = min(0.25, delay * 2)
                continue
            self.batches += 1
            self.committed += len(batch)
            _settle_batch(
                [(job.pending, value, None if ok else value) for job, ok, value in results]
            )
            return

    def _recover(self, db: Any, exc: BaseException) -> Any:
        """After a retryable failure: a new connection when the old one is gone (a restarted
        database server), the same one otherwise."""
        if not self.backend.lost(exc):
            return db
        try:
            db.close()
        except Exception:  # it is gone already
            pass
        try:
            self._db = self._connect()
        except Exception as error:  # not back yet: the next attempt tries again
            log.warning("the database cannot be reached yet: %s", error)
            self._db = _Gone(exc)
        return self._db

    @staticmethod
    def _run_jobs(
        db: Any, batch: list[_Job], careful: bool, retryable: Callable[[BaseException], bool]
    ) -> list[tuple[_Job, bool, Any]] | None:
        """Run every job of the batch in the open transaction. Optimistically (most writes
        succeed) without savepoints: None when one fails, and the batch is run again
        ``careful``, each job in a savepoint so that its failure undoes only its own work.
        A retryable failure (a lock, a lost connection) is raised: the whole batch waits."""
        results: list[tuple[_Job, bool, Any]] = []
        for i, job in enumerate(batch):
            if not careful:
                try:
                    results.append((job, True, job.function(db, *job.args)))
                except BaseException as exc:
                    if retryable(exc):
                        raise
                    return None
                continue
            db.execute(f"SAVEPOINT j{i}")
            try:
                value = job.function(db, *job.args)
            except BaseException as exc:  # the job's own error, e.g. StoreError
                if retryable(exc):
                    raise
                db.execute(f"ROLLBACK TO j{i}")
                db.execute(f"RELEASE j{i}")
                results.append((job, False, exc))
            else:
                db.execute(f"RELEASE j{i}")
                results.append((job, True, value))
        return results

    def _expire(self, batch: list[_Job]) -> list[_Job]:
        """Fail the jobs whose callers stopped waiting; keep the rest."""
        now = self.clock()
        closing_late = self._closing and now >= self._close_by
        keep = []
        for job in batch:
            if closing_late or (job.deadline is not None and now >= job.deadline):
                _settle(
                    job.pending,
                    exc=StoreBusy(
                        "the study's database is locked by another program; nothing was written"
                    ),
                )
            else:
                keep.append(job)
        return keep

    def _fail(self, batch: list[_Job], exc: StoreError) -> None:
        log.error("%s", exc)
        for job in batch:
            _settle(job.pending, exc=exc)

    def _fail_all(self, exc: StoreError) -> None:
        with self._cond:
            left = list(self._queue)
            self._queue.clear()
        for job in left:
            _settle(job.pending, exc=exc)


def _settle(pending: Pending, value: Any = None, exc: BaseException | None = None) -> None:
    _settle_batch([(pending, value, exc)])


def _settle_batch(outcomes: list[tuple[Pending, Any, BaseException | None]]) -> None:
    """Set the outcome of every write, then tell each event loop once about its futures."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], Pending]]] = {}
    for pending, value, exc in outcomes:
        for loop, waiter in pending._settle(value, exc):
            by_loop.setdefault(loop, []).append((waiter, pending))
    for loop, waiters in by_loop.items():
        try:
            loop.call_soon_threadsafe(_wake, waiters)
        except RuntimeError:  # that loop is closed: nobody waits any more
            pass


def _wake(waiters: list[tuple[asyncio.Future[Any], Pending]]) -> None:
    for waiter, pending in waiters:
        _copy_outcome(pending, waiter)


def _copy_outcome(pending: Pending, waiter: asyncio.Future[Any]) -> None:
    if waiter.done():  # its task was cancelled
        return
    exc = pending.exception()
    if exc is not None:
        waiter.set_exception(exc)
    else:
        waiter.set_result(pending.result())


def _log_failure(pending: concurrent.futures.Future) -> None:
    exc = pending.exception()
    if exc is not None:
        log.error("a background write to the store failed: %s: %s", type(exc).__name__, exc)
