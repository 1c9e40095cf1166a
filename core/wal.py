"""SQLite's write-ahead log, copied back into the database file off the event loop.

By default SQLite checkpoints in the commit that takes the log past 1,000 pages: that commit copies
them into the database file and waits for two fsyncs, on the event loop's thread (core/db.py runs
SQLite inline), for 5–10 ms while nothing else runs. A serving process instead switches that off
(`PRAGMA wal_autocheckpoint=0`, see `core.db.make_engine`) and runs a `Checkpointer`, which every
`interval_s` copies the log back on a thread of its own, with a connection of its own:

1. a PASSIVE checkpoint while writers go on: the bulk of the copying and the fsyncs, in parallel;
2. another with this process's writers held back (core/uow.py `WriterQueue`): it copies only what
   was committed during the first, a millisecond or two, and leaves the log wholly copied, so the
   next writer starts it again from the beginning (sqlite.org/wal.html, "Checkpointing"). Without
   that pause the log would only ever grow, since it restarts only when nothing in it is left
   uncopied.

A page written by many commits between two rounds is copied once. A process that stops with
pages left uncopied loses nothing: they are in the log, which the next connection reads, and the
last connection to close copies them. On a power cut, synchronous=NORMAL may lose the commits
since the last round (up to `interval_s` of them), as it may lose those since the last checkpoint
without this; the database stays consistent either way.
"""
from __future__ import annotations

import asyncio
import logging
import sqlite3

from core.db import SQLITE_BUSY_TIMEOUT_S

log = logging.getLogger("orderdesk.wal")


class Checkpointer:
    def __init__(self, path: str, writers, *, interval_s: float = 0.2, complaint=log) -> None:
        """`complaint`: what logs a failed round (`.exception(message)`); the server's holds back
        repeats, which at 5 rounds a second would otherwise flood the log."""
        self.path, self.writers, self.interval_s, self.complaint = path, writers, interval_s, complaint
        self._stop = asyncio.Event()
        self._connection: sqlite3.Connection | None = None

    async def run(self) -> None:
        """Copy the log back every `interval_s` until `stop()`; a failed round is logged and retried."""
        try:
            while not self._stop.is_set():
                try:
                    await asyncio.wait_for(self._stop.wait(), self.interval_s)
                except asyncio.TimeoutError:
                    pass
                try:
                    await self.copy_back()
                except Exception:  # a full disk, say: the next round tries again, and commits go on
                    self.complaint.exception("could not copy SQLite's write-ahead log back into the database file")
        finally:
            if self._connection is not None:
                self._connection.close()

    def stop(self) -> None:
        self._stop.set()

    async def copy_back(self) -> tuple[int, int]:
        """One round; returns (pages in the log, pages of it copied) as the second checkpoint left them."""
        await asyncio.to_thread(self._checkpoint)
        await self.writers.acquire()
        try:
            self.writers.end_batch()  # what this process's writers committed is in the log first
            return await asyncio.to_thread(self._checkpoint)
        finally:
            self.writers.release()

    def _checkpoint(self) -> tuple[int, int]:
        if self._connection is None:
            # Its own connection, used by one thread at a time; autocommit, so it holds no snapshot.
            self._connection = sqlite3.connect(self.path, timeout=SQLITE_BUSY_TIMEOUT_S, isolation_level=None,
                                               check_same_thread=False)
        _busy, pages, copied = self._connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()[0]
        return pages, copied
