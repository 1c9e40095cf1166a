"""Scheduled work with a clock moved by hand: each job's effect, and that it does not repeat."""
from datetime import timedelta

import pytest
from sqlalchemy import event, select

from core import jobs
from core.db import READONLY
from core.models import OutboundMessage
from core.uow import UnitOfWork
from tests.conftest import ADMIN_PHONE, CUSTOMER_PHONE, open_windows
from tests.helpers import make_product, order_body, place_order
from webhooks import scheduler


def with_settings(uow, **changes) -> UnitOfWork:
    """The same database and clock, with other settings (as a shop would set them)."""
    return UnitOfWork(uow._sessionmaker, uow.settings.model_copy(update=changes), uow.clock,
                      uow._after_commit, uow.render)


async def run(uow, job, operation, **settings):
    return await scheduler.run(with_settings(uow, **settings), job, operation)


@pytest.fixture
async def pending(wa, admin, uow):
    """A customer who wrote to us, and their pending unpaid order of 2 (the admin's alert is out)."""
    await open_windows(uow, [CUSTOMER_PHONE])
    product = await make_product(wa.client, admin, stock=10)
    order = await (await wa.client.post("/api/orders/", json=order_body((product, 2)))).json()
    await wa.replies_to(ADMIN_PHONE)
    return order


async def test_a_payment_reminder_goes_once_per_order(wa, uow, clock, pending):
    assert await run(uow, jobs.REMINDERS, jobs.remind_unpaid) == "0 reminder(s) queued"  # too soon

    clock.advance(hours=7)
    first = await run(uow, jobs.REMINDERS, jobs.remind_unpaid)
    clock.advance(minutes=5)
    second = await run(uow, jobs.REMINDERS, jobs.remind_unpaid)

    assert first == "1 reminder(s) queued" and second == "0 reminder(s) queued"
    [reminder] = await wa.replies_to(CUSTOMER_PHONE)
    assert pending["orderReference"] in reminder and "waiting for payment" in reminder


async def test_the_messages_a_job_run_queues_keep_its_run_id_for_their_log_lines(wa, uow, clock, pending):
    clock.advance(hours=7)
    await run(uow, jobs.REMINDERS, jobs.remind_unpaid)

    async with uow(readonly=True) as tx:
        kept = (await tx.execute(select(OutboundMessage.request_id).where(OutboundMessage.kind == "payment_reminder"))
                ).scalars().all()
    assert len(kept) == 1 and kept[0].startswith(f"{jobs.REMINDERS.name}-")


async def test_a_due_time_runs_once_even_when_asked_twice(wa, uow, clock, pending):
    clock.advance(hours=7)

    results = [await run(uow, jobs.REMINDERS, jobs.remind_unpaid) for _ in range(3)]

    assert results == ["1 reminder(s) queued", None, None]  # None: this due time already ran


async def test_reminders_respect_stop(wa, uow, clock, pending):
    await wa.say("STOP")
    await wa.replies_to(CUSTOMER_PHONE)
    clock.advance(hours=7)

    assert await run(uow, jobs.REMINDERS, jobs.remind_unpaid) == "0 reminder(s) queued"


async def test_reminders_wait_while_the_shop_talks_to_the_customer(wa, uow, clock, pending):
    await wa.say(f"reply {pending['orderReference']} Checking your size, one moment", phone=ADMIN_PHONE)
    await wa.replies_to(CUSTOMER_PHONE)  # the bot's own prompts are quiet for HANDOVER_QUIET (2 h)
    soon = {"payment_reminder_after": timedelta(minutes=30)}

    clock.advance(hours=1)
    quiet = await run(uow, jobs.REMINDERS, jobs.remind_unpaid, **soon)
    clock.advance(hours=2)
    after = await run(uow, jobs.REMINDERS, jobs.remind_unpaid, **soon)

    assert (quiet, after) == ("0 reminder(s) queued", "1 reminder(s) queued")


async def test_expiry_cancels_an_unpaid_order_once_and_tells_the_customer(wa, admin, uow, clock, pending):
    clock.advance(hours=25)
    await open_windows(uow, [CUSTOMER_PHONE])  # they wrote again today: the window is open

    first = await run(uow, jobs.EXPIRY, jobs.expire_unpaid, pending_expiry_after=timedelta(hours=24))
    clock.advance(minutes=5)
    second = await run(uow, jobs.EXPIRY, jobs.expire_unpaid, pending_expiry_after=timedelta(hours=24))

    assert (first, second) == ("1 order(s) expired", "0 order(s) expired")
    order = await (await wa.client.get(f"/api/orders/{pending['id']}/", headers=admin)).json()
    assert order["status"] == "cancelled" and order["history"][-1]["by"] == "system"
    [told] = await wa.replies_to(CUSTOMER_PHONE)
    assert "cancelled" in told and pending["orderReference"] in told


async def test_expiry_never_cancels_an_order_with_a_payment_proof(wa, admin, uow, clock, pending):
    await wa.say("I have paid")
    await wa.replies_to(CUSTOMER_PHONE)
    clock.advance(hours=25)

    assert await run(uow, jobs.EXPIRY, jobs.expire_unpaid, pending_expiry_after=timedelta(hours=24)) == "0 order(s) expired"
    order = await (await wa.client.get(f"/api/orders/{pending['id']}/", headers=admin)).json()
    assert order["status"] == "pending"


async def test_a_payment_report_after_expiry_alerts_the_admins(wa, uow, clock, pending):
    clock.advance(hours=25)
    await open_windows(uow, [ADMIN_PHONE])  # the admin wrote today
    await run(uow, jobs.EXPIRY, jobs.expire_unpaid, pending_expiry_after=timedelta(hours=24))
    # The customer's window is closed, so the cancellation notice cannot go and the admins hear why;
    # waiting for that keeps the notice from racing the customer's message below.
    await wa.twilio.wait_for(lambda: [m for m in wa.twilio.messages_to(ADMIN_PHONE) if m["Body"].startswith("📵")])

    await wa.say(f"I have paid for {pending['orderReference']}")

    [alert] = await wa.twilio.wait_for(lambda: [m["Body"] for m in wa.twilio.messages_to(ADMIN_PHONE)
                                                if m["Body"].startswith("⚠")])
    assert pending["orderReference"] in alert and "cancelled" in alert
    [reply] = await wa.replies_to(CUSTOMER_PHONE)
    assert "cancelled before your payment report" in reply


async def test_the_daily_digest_summarises_the_day_once(wa, admin, uow, clock, pending):
    await wa.client.post(f"/api/orders/{pending['id']}/confirm/", headers=admin)

    first = await run(uow, jobs.DIGEST, jobs.daily_digest)
    second = await run(uow, jobs.DIGEST, jobs.daily_digest)

    assert first == "digest sent to 1 admin(s)" and second is None
    digest = (await wa.replies_to(ADMIN_PHONE, count=2))[-1]
    assert "confirmed 1" in digest and "pending 0" in digest and "KES 3,000.00" in digest


async def test_low_stock_is_alerted_once_per_crossing(wa, admin, uow):
    await open_windows(uow, [CUSTOMER_PHONE])
    product = await make_product(wa.client, admin, stock=5, name="Kikoi")
    orders = [await (await wa.client.post("/api/orders/", json=order_body((product, q)))).json() for q in (2, 1)]
    await wa.replies_to(ADMIN_PHONE, count=2)

    for order in orders:  # 5 -> 3 crosses the threshold of 3; 3 -> 2 is already under it
        await wa.client.post(f"/api/orders/{order['id']}/confirm/", headers=admin)

    alerts = [m for m in await wa.replies_to(ADMIN_PHONE, count=3) if m.startswith("📉")]
    assert len(alerts) == 1 and "Kikoi" in alerts[0] and "down to 3" in alerts[0]


class WriteTransactions:
    """Every write transaction begun on `engine`, as the number of messages it queued (seen by
    SQLAlchemy's engine events: BEGIN, and each statement that inserts into the outbox)."""

    def __init__(self, engine) -> None:
        self.engine, self.queued, self._current = engine.sync_engine, [], None

    def __enter__(self):
        event.listen(self.engine, "begin", self._begin)
        event.listen(self.engine, "before_cursor_execute", self._statement)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "begin", self._begin)
        event.remove(self.engine, "before_cursor_execute", self._statement)

    def _begin(self, conn) -> None:
        self._current = None if conn.get_execution_options().get(READONLY) else len(self.queued)
        if self._current is not None:
            self.queued.append(0)

    def _statement(self, conn, cursor, statement, parameters, context, executemany) -> None:
        if self._current is None or "INSERT INTO OUTBOUND_MESSAGES" not in statement.upper():
            return
        # On PostgreSQL an order's change writes its messages in its own statement, one array parameter
        # per column (core/order_writes.py): as many messages as keys.
        names = list(context.compiled.positiontup or ())
        self.queued[self._current] += len(parameters[names.index("m_key")]) if "m_key" in names else 1


@pytest.mark.parametrize("job, operation, per_transaction, done", [
    (jobs.REMINDERS, jobs.remind_unpaid, jobs.REMINDERS_PER_TRANSACTION, "45 reminder(s) queued"),
    (jobs.EXPIRY, jobs.expire_unpaid, jobs.EXPIRIES_PER_TRANSACTION, "45 order(s) expired"),
])
async def test_a_sweep_over_many_orders_runs_in_several_short_transactions(client, admin, uow, clock, job, operation,
                                                                         per_transaction, done):
    product = await make_product(client, admin, stock=100)
    for _ in range(45):
        await place_order(client, (product, 1))
    clock.advance(hours=25)

    with WriteTransactions(uow._sessionmaker.kw["bind"]) as writes:
        result = await run(uow, job, operation, pending_expiry_after=timedelta(hours=24))

    assert result == done
    working = [queued for queued in writes.queued if queued]  # one message per order reminded or cancelled
    assert sum(working) == 45 and max(working) <= per_transaction and len(working) >= 45 // per_transaction
    assert working[0] == 1  # the first also compiles the statements in a new process: it writes least
    assert len(writes.queued) == len(working) + 2  # besides: claiming the run, and recording its result


async def test_a_reminder_is_not_queued_for_an_order_cancelled_or_paid_after_the_sweep_found_it(client, admin, uow,
                                                                                               clock):
    product = await make_product(client, admin, stock=10)
    kept, cancelled, paid = [await place_order(client, (product, 1)) for _ in range(3)]
    clock.advance(hours=7)
    cutoff = clock.now() - uow.settings.payment_reminder_after
    async with uow(readonly=True) as tx:
        found = (await tx.execute(jobs.DUE_REMINDERS, {"cutoff": cutoff})).scalars().all()

    await client.post(f"/api/orders/{cancelled['id']}/cancel/", headers=admin)
    await client.post(f"/api/orders/{paid['id']}/confirm/", headers=admin)
    async with uow() as tx:
        queued = await jobs.queue_reminders(tx, found)
        await tx.commit()

    assert set(found) == {kept["id"], cancelled["id"], paid["id"]} and queued == 1


def test_jobs_are_scheduled_from_the_settings():
    from core.settings import Settings

    settings = Settings(_env_file=None)
    planned = {job.name for job, _, _ in scheduler.schedule(settings)}
    assert planned == {"payment_reminders", "daily_digest"}  # expiry is off by default

    everything = settings.model_copy(update={"pending_expiry_after": timedelta(hours=48), "daily_digest_at": None})
    assert {job.name for job, _, _ in scheduler.schedule(everything)} == {"payment_reminders", "expire_pending"}
