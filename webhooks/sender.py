"""The outbox sender: wakes after each commit (and sweeps on a timer), claims due messages, looks
up at Twilio those whose earlier send is in doubt, sends the rest outside any transaction, and
records the answers."""
from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from core import logcontext, outbox, window
from webhooks import delivery, observe
from webhooks.in_doubt import Listed, lookup_days, match

log = logging.getLogger("orderdesk.sender")
MAX_BACKOFF_S = 10  # between passes while they fail (the database away): it is retried, never given up
# How long a pass goes on starting sends. One recipient's messages go one after another, each waiting
# for Twilio's answer to the one before, so a backlog to one number (a flood of admin alerts) would
# hold the pass — and every reply queued meanwhile — for backlog × Twilio's answer time. What a pass
# did not get to is given back, first in line for the next pass, which starts at once.
PASS_SENDING_S = 0.5


@dataclass
class Sent:
    sid: str
    status: str


class ConsoleTransport:
    """No Twilio credentials: log the message and call it sent, so the whole flow can be tried
    (the log lines mask phone numbers, the message's text included: orderdesk/logs.py)."""

    async def send(self, message: outbox.Claimed, status_callback: str) -> Sent:
        if message.content_sid:
            log.info("WhatsApp template %s to %s (%s): %s", message.content_sid, message.to_phone,
                     message.kind, message.content_variables)
        else:
            log.info("WhatsApp to %s (%s):\n%s", message.to_phone, message.kind, message.body)
        return Sent(sid=f"console-{message.id}", status="sent")

    async def sent_to(self, phone: str, days: list[date]) -> list[Listed]:
        return []  # the log keeps no list: a message in doubt is logged again

    async def close(self) -> None:
        pass


class TwilioTransport:
    """Twilio's own async client, pointed at TWILIO_API_BASE_URL (tests point it at a loopback fake)."""

    def __init__(self, settings) -> None:
        from twilio.http.async_http_client import AsyncTwilioHttpClient
        from twilio.rest import Client

        self._http = AsyncTwilioHttpClient()  # must be made inside the running loop (it opens a session)
        self._client = Client(settings.twilio_account_sid, settings.twilio_auth_token, http_client=self._http)
        self._client.api.base_url = settings.twilio_api_base_url.rstrip("/")
        self._from = settings.twilio_whatsapp_from

    async def send(self, message: outbox.Claimed, status_callback: str) -> Sent:
        from twilio.base.exceptions import TwilioRestException

        try:
            # The async client ignores its own timeout setting, so the deadline is ours.
            # Outside the 24-hour window the approved template goes in place of the text.
            content = ({"content_sid": message.content_sid, "content_variables": message.content_variables}
                       if message.content_sid else {"body": message.body})
            async with asyncio.timeout(delivery.SEND_TIMEOUT_S):
                sent = await self._client.messages.create_async(
                    to=f"whatsapp:{message.to_phone}", from_=self._from, status_callback=status_callback, **content)
        except TwilioRestException as exc:
            raise delivery.classify(exc.status, exc.code, exc.msg or str(exc)) from None
        except (asyncio.TimeoutError, OSError) as exc:
            raise delivery.SendFailure(True, None, f"no answer from Twilio ({type(exc).__name__})",
                                       in_doubt=True) from None
        except Exception as exc:  # aiohttp errors and anything the client raises: Twilio may have it
            raise delivery.SendFailure(True, None, f"{type(exc).__name__}: {exc}", in_doubt=True) from None
        return Sent(sid=sent.sid, status=sent.status or "queued")

    async def sent_to(self, phone: str, days: list[date]) -> list[Listed]:
        """Twilio's messages to `phone` sent on these (UTC) days: GET Messages.json with To and
        DateSent, every page. Raises SendFailure (in doubt) when Twilio does not answer."""
        try:
            async with asyncio.timeout(delivery.SEND_TIMEOUT_S):
                listed = [m for day in days for m in await self._client.messages.list_async(
                    to=f"whatsapp:{phone}", date_sent=day.isoformat(), page_size=1000)]
        except Exception as exc:  # Twilio down or slow: the messages stay in doubt, never sent blindly
            raise delivery.SendFailure(True, None, f"lookup at Twilio failed ({type(exc).__name__}: {exc})",
                                       in_doubt=True) from None
        return [Listed(m.sid, m.status or "sent", m.body or "", m.date_created) for m in listed
                if isinstance(m.date_created, datetime)]

    async def close(self) -> None:
        await self._http.close()


class Sender:
    """The outbox's one worker in this process.

    Woken by a commit that queued messages (then gathering for `gather_seconds`), and every
    `sweep_seconds` (retries that came due, messages queued by another process). An idle sweep is
    one read. A pass claims up to `batch` messages in one transaction; looks up at Twilio, one
    recipient at a time, those whose earlier send is in doubt (found: recorded, not sent); sends the
    rest with no transaction open (one recipient's in queue order, different recipients side by
    side), renewing its claims while it runs; and records every answer in one more transaction.
    """

    def __init__(self, uow, transport, *, status_callback: str, batch: int = 100, gather_seconds: float = 0.05,
                 lease: timedelta = delivery.LEASE, sweep_seconds: float = 1.0,
                 policy: delivery.Policy = delivery.Policy(), sole_sender: bool = False,
                 meters: observe.Meters | None = None, pass_sending_s: float = PASS_SENDING_S) -> None:
        self.pass_sending_s = pass_sending_s
        self.uow, self.transport, self.policy = uow, transport, policy
        self.meters = meters or observe.Meters()
        self.status_callback = status_callback
        self.batch, self.lease, self.sweep_seconds = batch, lease, sweep_seconds
        # Woken, the sender waits this long for more messages: at 400 confirms a second a pass then
        # carries about 20 of them instead of one, and its three transactions are shared.
        self.gather_seconds = gather_seconds
        self.sole_sender = sole_sender
        self._wake = asyncio.Event()
        self._stopping = False

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        """Finish the pass under way, then return: a send is never cut between Twilio and the database."""
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        if self.sole_sender:
            await self._release_leftover_claims()
        failures, complaint = 0, observe.Throttled(log)
        while not self._stopping:
            self._wake.clear()
            try:
                while not self._stopping and await self.send_due():
                    pass
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception:  # the worker outlives any bad pass (a database gone); the rows stay queued
                failures += 1
                complaint.exception("outbox pass failed (%d in a row); trying again with backoff", failures)
            try:  # after failures, back off: up to MAX_BACKOFF_S between passes while the database is away
                pause = min(self.sweep_seconds * 2 ** failures, MAX_BACKOFF_S)
                await asyncio.wait_for(self._wake.wait(), pause)
            except asyncio.TimeoutError:
                pass
            else:
                await asyncio.sleep(self.gather_seconds)

    async def _release_leftover_claims(self) -> None:
        try:
            async with self.uow() as tx:
                released = await outbox.release_claims(tx)
                await tx.commit()
        except Exception:  # the database may not answer yet; the lease frees them later anyway
            log.exception("could not release the claims of an earlier process")
            return
        if released:
            log.info("%d message(s) claimed by a process that stopped are queued again, in doubt", released)

    async def send_due(self) -> int:
        """One pass: claim, look up those in doubt, send (no transaction open), record. Returns how
        many were claimed."""
        async with self.uow(readonly=True) as tx:
            if not await outbox.any_due(tx):
                return 0
        async with self.uow() as tx:
            claimed = await outbox.claim_due(tx, limit=self.batch, lease=self.lease)
            sendable = await window.fit_to_window(tx, claimed)
            await tx.commit()  # wakes us again only if alerts about refused messages were queued
        if not sendable:
            return len(claimed)
        async with self._renewing([message.id for message in sendable]):
            sendable = await self._settle_doubts(sendable)
            # One recipient's messages go one after another, in the order they were queued (WhatsApp
            # shows them as they arrive); different recipients go side by side.
            until = asyncio.get_running_loop().time() + self.pass_sending_s
            outcomes = await asyncio.gather(*(self._send_in_order(messages, until)
                                              for messages in _by_recipient(sendable).values()))
        sent = [(message.id, answer.sid, answer.status)
                for pairs, _ in outcomes for message, answer in pairs if isinstance(answer, Sent)]
        failed = [(message, answer) for pairs, _ in outcomes for message, answer in pairs
                  if isinstance(answer, delivery.SendFailure)]
        left = [message for _, unsent in outcomes for message in unsent]
        if sent or left:
            async with self.uow() as tx:
                await outbox.record_sent_many(tx, sent)
                await outbox.give_back(tx, left)
                await tx.commit()
            self.meters.sends.labels("sent", "").inc(len(sent))
        for message, failure in failed:
            await self._failed(message, failure)
        return len(claimed)

    async def _settle_doubts(self, messages: list[outbox.Claimed]) -> list[outbox.Claimed]:
        """Look up at Twilio the messages whose earlier send is in doubt, one list per recipient:
        found, its SID is recorded; not found, it is returned to be sent, with its attempt begun now;
        the lookup failing, it stays in doubt for a later try. Returns what to send."""
        doubtful = [m for m in messages if m.in_doubt_since is not None]
        if not doubtful:
            return messages
        recipients = _by_recipient(doubtful)
        lists = await asyncio.gather(*(self._listed(phone, group) for phone, group in recipients.items()))
        unsure = [(m, result) for group, result in zip(recipients.values(), lists)
                  if isinstance(result, delivery.SendFailure) for m in group]
        looked_up = [(group, result) for group, result in zip(recipients.values(), lists)
                     if not isinstance(result, delivery.SendFailure)]
        async with self.uow() as tx:
            known = await outbox.known_sids(tx, [m.sid for _, listed in looked_up for m in listed])
            found = {}
            for group, listed in looked_up:
                found.update(match(group, listed, known))
            await outbox.record_sent_many(tx, [(i, twin.sid, twin.status) for i, twin in found.items()])
            await outbox.record_attempts(tx, [m.id for group, _ in looked_up for m in group if m.id not in found])
            await tx.commit()
        log.info("%d message(s) in doubt looked up at Twilio (%d recipient(s)): %d found there, %d to send, "
                 "%d still in doubt", len(doubtful), len(recipients), len(found),
                 len(doubtful) - len(found) - len(unsure), len(unsure))
        for message, failure in unsure:
            await self._failed(message, failure)
        settled = {m.id for m, _ in unsure} | set(found)
        return [m for m in messages if m.id not in settled]

    async def _listed(self, phone: str, messages: list[outbox.Claimed]) -> list[Listed] | delivery.SendFailure:
        days = lookup_days(min(m.in_doubt_since for m in messages), self.uow.now())
        try:
            return await self.transport.sent_to(phone, days)
        except delivery.SendFailure as failure:
            return failure

    @asynccontextmanager
    async def _renewing(self, ids: list[int]):
        """Renew the claims on `ids` every third of the lease while the block runs."""
        done = asyncio.Event()

        async def renew() -> None:
            while True:
                try:
                    await asyncio.wait_for(done.wait(), self.lease.total_seconds() / 3)
                    return
                except asyncio.TimeoutError:
                    pass
                try:
                    async with self.uow() as tx:
                        await outbox.renew_claims(tx, ids, self.lease)
                        await tx.commit()
                except Exception:  # the next renewal may get through; else the claims expire, in doubt
                    log.exception("could not renew the claims of the messages being sent")

        task = asyncio.create_task(renew(), name="outbox-lease")
        try:
            yield
        finally:
            done.set()
            await task

    async def _send_in_order(self, messages: list[outbox.Claimed], until: float
                             ) -> tuple[list[tuple[outbox.Claimed, object]], list[outbox.Claimed]]:
        """Send one recipient's messages in order until the loop's clock passes `until` (the first
        always goes): ([(message, Sent or SendFailure)], the messages not started)."""
        answers = []
        for n, message in enumerate(messages):
            if n and asyncio.get_running_loop().time() > until:
                return answers, messages[n:]
            with _about(message):
                try:
                    answers.append((message, await self.transport.send(message, self.status_callback)))
                except delivery.SendFailure as failure:
                    answers.append((message, failure))
        return answers, []

    async def _failed(self, message: outbox.Claimed, failure: delivery.SendFailure) -> None:
        with _about(message):
            async with self.uow() as tx:
                if failure.transient and message.attempts < self.policy.max_attempts:
                    at = tx.now() + self.policy.backoff(message.attempts)
                    await outbox.record_retry(tx, message.id, at, str(failure), in_doubt=failure.in_doubt)
                    log.warning("message %s to %s: %s; retry %d at %s", message.id, message.to_phone, failure,
                                message.attempts, at.isoformat())
                    result = "retry"
                else:
                    code = str(failure.code) if failure.code else None
                    failed = await outbox.record_failed(tx, message.id, code, failure.reason)
                    log.error("message %s to %s failed for good: %s", message.id, message.to_phone, failure)
                    await window.not_delivered(tx, failed, code, failure.reason)
                    result = "failed"
                await tx.commit()
        self.meters.sent(result, failure.code)


def _about(message: outbox.Claimed):
    """The log context of a message's sending: its outbound id and the request that queued it."""
    return logcontext.bound(outbound_id=message.id, request_id=message.request_id)


def _by_recipient(messages: list[outbox.Claimed]) -> dict[str, list[outbox.Claimed]]:
    by_recipient: dict[str, list[outbox.Claimed]] = {}
    for message in messages:
        by_recipient.setdefault(message.to_phone, []).append(message)
    return by_recipient
