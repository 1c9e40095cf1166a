"""The unit of work: one transaction, rolled back unless `commit()` is called."""
from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import SystemClock
from core.db import READONLY
from core.settings import Settings


class UnitOfWork:
    """`async with uow:` opens a session; leaving without `commit()` rolls everything back.

    It also carries what the operations need besides the database: settings, the clock, the
    texts that word queued messages (bot.replies, given by the composition root, since core
    must not import bot), and the hook to call after a commit (waking the outbox sender).
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        clock=None,
        after_commit: Callable[[], None] | None = None,
        render: Callable[[str, dict], str] | None = None,
    ) -> None:
        self._sessionmaker = sessionmaker
        self.render = render or _plain
        self.settings = settings
        self.clock = clock or SystemClock()
        self._after_commit = after_commit
        self.session: AsyncSession | None = None

    def __call__(self, *, readonly: bool = False) -> UnitOfWork:
        """A fresh unit of work with the same wiring: `async with uow() as tx:`. A `readonly` one
        only reads, so on SQLite it does not queue for the write lock."""
        fresh = UnitOfWork(self._sessionmaker, self.settings, self.clock, self._after_commit, self.render)
        fresh.readonly = readonly
        return fresh

    readonly = False

    async def __aenter__(self) -> UnitOfWork:
        self.session = self._sessionmaker()
        await self.session.begin()
        if self.readonly:
            await self.session.connection(execution_options={READONLY: True})
        return self

    async def __aexit__(self, *exc) -> None:
        # close() rolls back whatever was not committed and detaches the loaded objects
        # unexpired, so a handler can still read them to build its answer.
        await self.session.close()
        self.session = None

    async def commit(self) -> None:
        await self.session.commit()
        if self._after_commit:
            self._after_commit()

    def now(self):
        return self.clock.now()


def _plain(kind: str, variables: dict) -> str:
    """Used only where no texts were wired (a bare script): the facts, unworded."""
    return f"{kind}: " + ", ".join(f"{k}={v}" for k, v in variables.items())
