"""The responder: answers stored inbound WhatsApp messages in the background, in arrival order.

The webhook stores a message and answers Twilio at once (CONTRACT §3); the conversation turn runs
here, from the database. One worker per process takes the ids the webhook hands it, first in,
first out, so one customer's messages are answered in the order they came. Every `sweep` it also
looks for messages nobody answered for a while (a process that died between storing and
answering, on this database), so a survivor or a restart answers them; each message is taken
under its row lock and marked processed in the same transaction, so it is answered once.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

from core import inbox

log = logging.getLogger("orderdesk.responder")


class Responder:
    def __init__(self, uow, process: Callable[[object, int], Awaitable[None]], *, sweep_seconds: float = 10.0,
                 stale_after: timedelta = timedelta(seconds=30)) -> None:
        self.uow, self._process = uow, process
        self.sweep_seconds, self.stale_after = sweep_seconds, stale_after
        self._queue: asyncio.Queue[tuple[int, Callable[[], None] | None]] = asyncio.Queue()
        self._idle = asyncio.Event()
        self._idle.set()
        self._stopping = False

    def submit(self, message_id: int, then: Callable[[], None] | None = None) -> None:
        """Answer this stored message soon (and call `then` after); returns at once."""
        self._idle.clear()
        self._queue.put_nowait((message_id, then))

    async def drained(self) -> None:
        """Until every message submitted so far has been answered (tests and shutdown wait on it)."""
        await self._idle.wait()

    def stop(self) -> None:
        """Answer what was already handed over, then return; what is left is answered after restart."""
        self._stopping = True
        self._queue.put_nowait((0, None))  # wakes the worker

    async def run(self) -> None:
        await self.sweep(older_than=timedelta(0))  # what an earlier process stored but never answered
        while True:
            try:
                message_id, then = await asyncio.wait_for(self._queue.get(), self.sweep_seconds)
            except asyncio.TimeoutError:
                await self.sweep(older_than=self.stale_after)
                continue
            if message_id:
                await self._answer(message_id, then)
                # On SQLite a turn runs without ever yielding to the loop; let the webhooks (and
                # everything else waiting) in between turns, so a backlog never delays Twilio's answers.
                await asyncio.sleep(0)
            if self._queue.empty():
                self._idle.set()
                if self._stopping:
                    return

    async def _answer(self, message_id: int, then: Callable[[], None] | None = None) -> None:
        try:
            await self._process(self.uow, message_id)
            if then is not None:
                then()
        except asyncio.CancelledError:
            raise
        except Exception:  # the worker must outlive any one message; `process` records its own failures
            log.exception("inbound message %s could not be answered; it is tried again later", message_id)

    async def sweep(self, *, older_than: timedelta) -> int:
        """Answer messages stored at least `older_than` ago and still unanswered; how many were found."""
        try:
            async with self.uow(readonly=True) as tx:
                ids = await inbox.unprocessed_ids(tx, older_than=tx.now() - older_than)
        except Exception:  # the database may not answer yet; /health says so, the next sweep tries again
            log.exception("could not look for inbound messages left unanswered")
            return 0
        for message_id in ids:
            await self._answer(message_id)
        if ids:
            log.info("answered %d inbound message(s) left unanswered", len(ids))
        return len(ids)
