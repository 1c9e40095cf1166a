"""The unit of work: one transaction, rolled back unless `commit()` is called."""
from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from contextlib import asynccontextmanager

from sqlalchemy.exc import MissingGreenlet
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from core.clock import SystemClock
from core.db import READONLY
from core.statements import Rows, statements_for
from core.settings import Settings


class WriterQueue:
    """This process's writers, one at a time, first come first served.

    On SQLite a writer holds the database's only write lock from BEGIN IMMEDIATE to COMMIT; the
    others wait here, in order, instead of polling in SQLite's busy handler (which sleeps up to
    100 ms between tries, unfairly, and inline would stop the event loop). On PostgreSQL row locks
    do this job, so `serial` is False and writers run side by side.
    """

    def __init__(self, serial: bool) -> None:
        self.serial = serial
        self._lock = asyncio.Lock()
        self._holder: asyncio.Task | None = None

    async def acquire(self) -> None:
        if not self.serial:
            return
        task = asyncio.current_task()
        if self._holder is task:
            raise RuntimeError("a write unit of work was opened inside another one of the same task")
        await self._lock.acquire()
        self._holder = task

    def release(self) -> None:
        if self.serial:
            self._holder = None
            self._lock.release()


_QUEUES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def writers_for(engine) -> WriterQueue:
    """The one queue of writers of `engine`, however many units of work are wired to it."""
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
            self._session = self._sessionmaker(bind=self.conn)
        return self._session

    async def __aenter__(self) -> UnitOfWork:
        if not self.readonly:
            await self._writers.acquire()
        try:
            if self._writers.serial:
                # SQLite's driver is synchronous (core/db.py): its connection is taken, its transaction
                # begun, committed and closed directly, with no greenlet hand-off. A deferred BEGIN when
                # read-only: one snapshot, no write lock.
                self.conn = _connect_inline(self._engine) or await self._engine.connect()
                self._inline = self.conn.sync_connection
                if self.readonly:
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

    async def __aexit__(self, *exc) -> None:
        await self._close()

    async def _close(self) -> None:
        # Closing rolls back whatever was not committed; the session's objects stay readable
        # (detached, unexpired), so a handler can still build its answer from them.
        try:
            if self._session is not None:
                await self._session.close()
            if self._inline is not None:
                self._inline.close()
            elif self.conn is not None:
                await self.conn.close()
        finally:
            self._session = self.conn = self._inline = self._direct = None
            if not self.readonly:
                self._writers.release()

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
        await self.flush()
        if self._inline is not None:
            self._inline.commit()
        else:
            await self.conn.commit()
        queued, self.queued = self.queued, 0
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
