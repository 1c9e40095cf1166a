"""The unit of work: one transaction, rolled back unless `commit()` is called.

On SQLite this process's writers share their transactions (group commit): a unit of work writes
inside a savepoint of the one open transaction; its commit releases the savepoint, and leaving it
waits until the transaction is committed, once, for every unit of work that joined it while the
event loop went round (`WriterQueue`). Each keeps its own all-or-nothing: one that does not commit
is rolled back to its savepoint alone. A COMMIT costs about as much as a whole order's statements
(the log append of every page it changed); shared, it is paid once for several.
"""
from __future__ import annotations

import asyncio
import os
import weakref
from collections.abc import Callable
from contextlib import asynccontextmanager

from sqlalchemy.exc import MissingGreenlet
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from core.clock import SystemClock
from core.db import READONLY
from core.statements import Rows, statements_for
from core.settings import Settings


class _Batch:
    """SQLite: the open transaction this process's writers take turns in, and who waits for its COMMIT."""

    __slots__ = ("engine", "conn", "waiters")

    def __init__(self, engine, conn: AsyncConnection) -> None:
        self.engine, self.conn = engine, conn
        self.waiters: list[asyncio.Future] = []  # of the units of work that committed in it

    def wait(self) -> asyncio.Future:
        """A future of this unit of work's own for the COMMIT: one waiter cancelled cancels no other."""
        waiter = asyncio.get_running_loop().create_future()
        self.waiters.append(waiter)
        return waiter

    def end(self, error: BaseException | None = None) -> None:
        """COMMIT, or roll back if the transaction broke (`error`) or nobody committed in it; hand
        the connection back; the waiting units of work get the outcome."""
        connection = self.conn.sync_connection
        try:
            if error is None and self.waiters:
                connection.commit()
            else:
                connection.rollback()
        except BaseException as exc:
            error = error or exc
        finally:
            try:
                driver = connection.connection.dbapi_connection
                if driver.in_transaction:  # a failed COMMIT leaves the transaction open: the pool must not get it
                    driver.execute("ROLLBACK")
            finally:
                connection.close()
        for waiter in self.waiters:
            if not waiter.done():
                if error is None:
                    waiter.set_result(None)
                else:
                    waiter.set_exception(error)


class WriterQueue:
    """This process's writers, one at a time, first come first served.

    On SQLite a writer holds the database's only write lock from BEGIN IMMEDIATE to COMMIT; the
    others wait here, in order, instead of polling in SQLite's busy handler (which sleeps up to
    100 ms between tries, unfairly, and inline would stop the event loop). The writers that come
    while a transaction is open write in it too (`batch`), and it is committed once the writers
    already waiting have had their turn. On PostgreSQL row locks do this job, so `serial` is False
    and writers run side by side, each in its own transaction.
    """

    def __init__(self, serial: bool) -> None:
        self.serial = serial
        self._loop = self._lock = None
        self._holder: asyncio.Task | None = None
        self.batch: _Batch | None = None
        self._committing: set[asyncio.Task] = set()

    async def acquire(self) -> None:
        if not self.serial:
            return
        if (loop := asyncio.get_running_loop()) is not self._loop:  # a lock serves one event loop
            self._loop, self._lock, self._holder, self.batch = loop, asyncio.Lock(), None, None
        task = asyncio.current_task()
        if self._holder is task:
            raise RuntimeError("a write unit of work was opened inside another one of the same task")
        await self._lock.acquire()
        self._holder = task

    def release(self) -> None:
        if self.serial:
            self._holder = None
            self._lock.release()

    def end_batch(self) -> None:
        """With the queue held: commit the open transaction, if any (the checkpointer wants none open)."""
        batch, self.batch = self.batch, None
        if batch is not None:
            batch.end()

    def commit_soon(self) -> None:
        """Commit the open transaction after the writers waiting now: its turn comes after theirs."""
        task = asyncio.get_running_loop().create_task(self._commit_in_turn())
        self._committing.add(task)
        task.add_done_callback(self._committing.discard)

    async def _commit_in_turn(self) -> None:
        await self.acquire()
        try:
            self.end_batch()
        finally:
            self.release()


_QUEUES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_SQLITE_QUEUES: dict[str, WriterQueue] = {}


def writers_for(engine) -> WriterQueue:
    """The one queue of writers of `engine`, however many units of work are wired to it. On SQLite,
    of its file, whatever engine writes it: a transaction left open for others to join must never
    make another engine of this process wait for the file's lock inline, in SQLite's busy handler,
    with the event loop (and so the COMMIT it waits for) stopped."""
    if engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
        return _SQLITE_QUEUES.setdefault(os.path.abspath(engine.url.database), WriterQueue(serial=True))
    if engine not in _QUEUES:
        _QUEUES[engine] = WriterQueue(serial=engine.dialect.name == "sqlite")
    return _QUEUES[engine]


class UnitOfWork:
    """`async with uow:` opens a session; leaving without `commit()` rolls everything back.

    It also carries what the operations need besides the database: settings, the clock, the
    texts that word queued messages (bot.replies, given by the composition root, since core
    must not import bot), and the hook to call after a commit that queued messages (waking the
    outbox sender).
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        clock=None,
        after_commit: Callable[[], None] | None = None,
        render: Callable[[str, dict], str] | None = None,
        writers: WriterQueue | None = None,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._engine = sessionmaker.kw["bind"]
        self.render = render or _plain
        self.settings = settings
        self.clock = clock or SystemClock()
        self._after_commit = after_commit
        self._writers = writers or writers_for(self._engine)
        self.conn: AsyncConnection | None = None
        self._session: AsyncSession | None = None
        self._inline = self._direct = None
        self._batch: _Batch | None = None
        self._committed = self._wake = False
        self.readonly = False
        self.queued = 0  # outbox rows this transaction added (core/outbox.py counts them)

    def __call__(self, *, readonly: bool = False) -> UnitOfWork:
        """A fresh unit of work with the same wiring: `async with uow() as tx:`. A `readonly` one
        only reads, so on SQLite it does not queue for the write lock."""
        fresh = UnitOfWork(self._sessionmaker, self.settings, self.clock, self._after_commit, self.render,
                           self._writers)
        fresh.readonly = readonly
        return fresh

    @property
    def session(self) -> AsyncSession:
        """An ORM session in this unit of work's transaction, made on first use: the hot paths need
        none (they run SQL through `execute`), and a session costs more than their statements."""
        if self._session is None:
            if self.conn is None:
                raise RuntimeError("the unit of work is not open: use `async with uow() as tx`")
            # In a shared transaction (SQLite) the session keeps to a savepoint of its own: a failed
            # flush rolls back to it, never the transaction that other units of work wrote in too.
            joining = {"join_transaction_mode": "create_savepoint"} if self._batch is not None else {}
            self._session = self._sessionmaker(bind=self.conn, **joining)
        return self._session

    async def __aenter__(self) -> UnitOfWork:
        if not self.readonly:
            await self._writers.acquire()
        try:
            if self._writers.serial and not self.readonly:
                await self._join_batch()
            elif self._writers.serial:
                # SQLite's driver is synchronous (core/db.py): its connection is taken, its transaction
                # begun and closed directly, with no greenlet hand-off. A deferred BEGIN: one
                # snapshot, no write lock.
                self.conn = _connect_inline(self._engine) or await self._engine.connect()
                self._inline = self.conn.sync_connection
                self._inline.execution_options(**{READONLY: True})
                self._inline.begin()
            else:
                conn = await self._engine.connect()
                if self.readonly:
                    # Autocommit, which saves the BEGIN and ROLLBACK round trips; each read sees the
                    # latest committed rows.
                    conn = await conn.execution_options(**{READONLY: True}, isolation_level="AUTOCOMMIT")
                self.conn = conn
                await conn.begin()
            # A statement run again and again skips SQLAlchemy's execution path (core/statements.py),
            # unless something listens to each statement, as a test counting them does.
            if not self.conn.sync_connection.dispatch.before_cursor_execute:
                self._direct = statements_for(self._engine)
        except BaseException:
            await self._close()
            raise
        return self

    async def _join_batch(self) -> None:
        """SQLite: write in the open transaction (BEGIN IMMEDIATE now if none is), in a savepoint."""
        batch = self._writers.batch
        if batch is not None and batch.engine is not self._engine:  # another engine's, on this file
            self._writers.end_batch()
            batch = None
        if batch is None:
            conn = _connect_inline(self._engine) or await self._engine.connect()
            try:
                conn.sync_connection.begin()
            except BaseException:
                conn.sync_connection.close()
                raise
            batch = self._writers.batch = _Batch(self._engine, conn)
        self._batch, self.conn, self._inline = batch, batch.conn, batch.conn.sync_connection
        self._driver().execute("SAVEPOINT uow")

    def _driver(self):
        return self._inline.connection.dbapi_connection

    async def __aexit__(self, *exc) -> None:
        await self._close()

    async def _close(self) -> None:
        # Closing rolls back whatever was not committed; the session's objects stay readable
        # (detached, unexpired), so a handler can still build its answer from them.
        batch, committed, waiter = self._batch, self._committed, None
        try:
            try:
                if self._session is not None:
                    await self._session.close()
            finally:  # whatever the session did, the transaction is left as it must be
                if batch is not None:
                    waiter = self._leave_batch(batch, committed)
                elif self._inline is not None:
                    self._inline.close()
                elif self.conn is not None:
                    await self.conn.close()
        finally:
            self._session = self.conn = self._inline = self._direct = self._batch = None
            self._committed = False
            if not self.readonly:
                self._writers.release()
        if waiter is not None:
            # Durable once this returns: an answer never tells of a change that could still be lost.
            await waiter
            wake, self._wake = self._wake, False
            if wake and self._after_commit:
                self._after_commit()

    def _leave_batch(self, batch: _Batch, committed: bool) -> asyncio.Future | None:
        """Undo what came after the last commit; then wait in the batch for its COMMIT (`committed`:
        the future to await), or end it if nobody has anything in it."""
        try:
            self._driver().execute("ROLLBACK TO uow")
            self._driver().execute("RELEASE uow")
        except Exception as exc:  # the transaction itself is gone (SQLite ends it on a full disk, I/O errors)
            self._writers.batch = None
            batch.end(exc)
            raise
        waiter = batch.wait() if committed else None
        if committed and len(batch.waiters) == 1:
            self._writers.commit_soon()
        elif not batch.waiters:  # nothing in it to keep: the write lock goes back at once
            self._writers.batch = None
            batch.end()
        return waiter

    @asynccontextmanager
    async def savepoint(self):
        """`async with tx.savepoint():` everything inside, ORM changes and SQL run with `execute`
        alike, is undone if it raises. (The session's own begin_nested sets its SAVEPOINT only when
        the ORM first needs the connection, which SQL run with `execute` never makes it do.)"""
        async with self.session.begin_nested():
            await self.session.connection()
            yield

    async def flush(self) -> None:
        """Write the ORM session's pending changes, if a session was made at all."""
        if self._session is not None:
            await self._session.flush()

    async def execute(self, statement, parameters=None):
        """Run Core SQL in this transaction (bypassing the ORM session); returns its result."""
        if self._direct is not None:
            compiled = self._direct.get(statement, parameters)
            if compiled is not None:
                if self._inline is not None:
                    return compiled.run_sqlite(self._inline.connection.dbapi_connection, parameters)
                return await compiled.run_asyncpg(self.conn.sync_connection, parameters)
        if self._inline is not None:
            return self._inline.execute(statement, parameters)
        return await self.conn.execute(statement, parameters)

    async def execute_each(self, statement, rows: list[dict]) -> Rows:
        """Run `statement` once for each of `rows` (its parameters), in order, each its own statement,
        and return the rows they all return, in that order. On PostgreSQL they are sent together and
        the server runs them one after the other: one round trip instead of one each."""
        if not rows:
            return Rows([], 0)
        if self._direct is not None:
            compiled = self._direct.get(statement, rows, each=True)
            if compiled is not None:
                if self._inline is not None:
                    return compiled.run_sqlite(self._inline.connection.dbapi_connection, rows)
                return await compiled.run_asyncpg(self.conn.sync_connection, rows, each=True)
        found = []
        for parameters in rows:
            found += (await self.execute(statement, parameters)).all()
        return Rows(found, len(found))

    async def scalar(self, statement, parameters=None):
        return (await self.execute(statement, parameters)).scalar()

    async def commit(self) -> None:
        """Keep what this unit of work wrote. On SQLite it is durable when the unit of work is left
        (the shared COMMIT); a commit error is raised there."""
        queued, self.queued = self.queued, 0
        if self._batch is not None:
            if self._session is not None:
                await self._session.commit()  # writes its changes and releases its own savepoint
            self._driver().execute("RELEASE uow")
            self._driver().execute("SAVEPOINT uow")  # what comes after is kept only if committed too
            self._committed, self._wake = True, self._wake or bool(queued)
            return
        await self.flush()
        if self._inline is not None:
            self._inline.commit()
        else:
            await self.conn.commit()
        if queued and self._after_commit:
            self._after_commit()

    def now(self):
        return self.clock.now()


def _connect_inline(engine) -> AsyncConnection | None:
    """A pooled SQLite connection taken without a greenlet hand-off; None when every one is in use
    (waiting for one needs SQLAlchemy's asyncio path)."""
    try:
        return AsyncConnection(engine, engine.sync_engine.connect())
    except MissingGreenlet:
        return None


def _plain(kind: str, variables: dict) -> str:
    """Used only where no texts were wired (a bare script): the facts, unworded."""
    return f"{kind}: " + ", ".join(f"{k}={v}" for k, v in variables.items())
