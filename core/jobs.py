"""Scheduled work: payment reminders, expiry of unpaid orders, the daily digest, and the ledger's grace
(core/ledger.py `flag_overdue`: claimed codes that never reached the shop's ledger).

Each job is a plain operation on a unit of work factory (`uow`, opened as `async with uow() as tx`),
so tests run it with a settable clock. `run_once` is how several server processes on one database
agree that a job runs once per due time: the first to insert the (job, due_key) row runs it, the
others see the row and skip.

A job never holds the write lock for long (on SQLite the lock is the whole database's): it finds its
work in a read-only unit of work, then does it in short write transactions of a few orders each,
each checking again, under its lock, that its orders are still due.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import bindparam, exists, func, literal, select, update

from core import alerts, customers, ledger, orders, outbox, tallies
from core.clock import day_start
from core.db import insert_unless_taken, one_of
from core.models import JobRun, Order, OrderEvent, OutboundMessage, PaymentProof, Product
from core.status import PaymentStatus, Status

BATCH = 200  # orders a sweep handles at most; the next sweep takes the rest
REMINDERS_PER_TRANSACTION = 5  # each well under 5 ms of SQLite's write lock (about 2.5 ms)
EXPIRIES_PER_TRANSACTION = 3  # a cancel writes the order, its history and the customer's message


@dataclass(frozen=True)
class Job:
    name: str
    describe: str


REMINDERS = Job("payment_reminders", "remind pending unpaid orders older than PAYMENT_REMINDER_AFTER")
EXPIRY = Job("expire_pending", "cancel pending unpaid orders older than PENDING_EXPIRY_AFTER")
DIGEST = Job("daily_digest", "the admins' summary at DAILY_DIGEST_AT")
LEDGER_GRACE = Job("ledger_grace", "flag claimed codes not in the shop's ledger LEDGER_GRACE after the claim")

RUN_FINISHED = (update(JobRun.__table__)
                .where(JobRun.job == bindparam("b_job"), JobRun.due_key == bindparam("b_due_key"))
                .values(finished_at=bindparam("finished_at"), result=bindparam("result")))


async def run_once(uow, job: Job, due_key: str, operation) -> str | None:
    """Run `operation(uow)` unless another process already ran `job` for `due_key`; returns its result.
    The claim commits on its own before the work starts; the work then commits as it goes, so a run
    that fails half way has done its first part, and the next due time does the rest."""
    async with uow() as tx:
        started = await tx.execute(insert_unless_taken(tx.conn, JobRun.__table__, ("job", "due_key")),
                                   {"job": job.name, "due_key": due_key, "started_at": tx.now()})
        await tx.commit()
    if started.rowcount != 1:
        return None
    result = await operation(uow)
    async with uow() as tx:
        await tx.execute(RUN_FINISHED, {"b_job": job.name, "b_due_key": due_key, "finished_at": tx.now(),
                                        "result": result})
        await tx.commit()
    return result


def _batches(ids: list, size: int):
    """`ids` in lists of `size`, the first of one: a run's first write transaction also compiles its
    statements when the process is new (a few ms), so it writes as little as it can beside that."""
    if ids:
        yield ids[:1]
    for start in range(1, len(ids), size):
        yield ids[start:start + size]


ORDERS, OUTBOX, PROOFS = Order.__table__, OutboundMessage.__table__, PaymentProof.__table__
# Pending, unpaid and created before the cutoff: found through ix_orders_unpaid, oldest first.
UNPAID_PENDING = (ORDERS.c.status == Status.PENDING.value, ORDERS.c.payment_status == PaymentStatus.UNPAID.value,
                  ORDERS.c.created_at <= bindparam("cutoff"))
NOT_REMINDED = ~exists().where(
    OUTBOX.c.key == literal("order:") + ORDERS.c.id + literal(":payment-reminder"))  # the unique key's index
NO_PROOF = ~exists().where(PROOFS.c.order_id == ORDERS.c.id)
DUE_REMINDERS = select(ORDERS.c.id).where(*UNPAID_PENDING, NOT_REMINDED).order_by(ORDERS.c.created_at).limit(BATCH)
DUE_EXPIRIES = select(ORDERS.c.id).where(*UNPAID_PENDING, NO_PROOF).order_by(ORDERS.c.created_at).limit(BATCH)

# A batch's orders as they stand now, by primary key (a status condition here would draw SQLite to
# walk ix_orders_unpaid instead); whether they are still pending and unpaid is checked on the rows.
# Locked (PostgreSQL) before they are judged, as a payment report locks the order too: a report being
# recorded is waited for and seen, never reminded about or expired under.
BATCH_OF_ORDERS = (select(ORDERS.c.id, ORDERS.c.status, ORDERS.c.payment_status, ORDERS.c.reference,
                          ORDERS.c.customer_name, ORDERS.c.customer_phone, ORDERS.c.total)
                   .where(one_of(ORDERS.c.id, "ids")).with_for_update())
WITH_PROOFS = select(PROOFS.c.order_id).where(one_of(PROOFS.c.order_id, "ids"))


async def _still_unpaid(tx, ids: list[str]) -> list:
    """The orders of `ids` (in that order) that are still pending and unpaid, locked."""
    rows = {row.id: row for row in await tx.execute(BATCH_OF_ORDERS, {"ids": ids})}
    return [rows[key] for key in ids if key in rows and rows[key].status == Status.PENDING
            and rows[key].payment_status == PaymentStatus.UNPAID]


async def remind_unpaid(uow) -> str:
    after = uow.settings.payment_reminder_after
    if after is None:
        return "off"
    cutoff = uow.now() - after
    async with uow(readonly=True) as tx:
        due = (await tx.execute(DUE_REMINDERS, {"cutoff": cutoff})).scalars().all()
    queued = 0
    for batch in _batches(due, REMINDERS_PER_TRANSACTION):
        async with uow() as tx:
            queued += await queue_reminders(tx, batch)
            await tx.commit()
    return f"{queued} reminder(s) queued"


async def queue_reminders(tx, ids: list[str]) -> int:
    """Queue the reminders of the orders of `ids` that are still pending and unpaid (not paid or
    cancelled since they were found), checked under the orders' locks, so a payment report being
    recorded meanwhile is waited for and seen. The outbox key makes each reminder once-only."""
    rows = await _still_unpaid(tx, ids)
    if not rows:
        return 0
    # A customer in quiet time is reminded by the first sweep after it.
    left_alone = await customers.left_alone(tx, [row.customer_phone for row in rows])
    reminders = [outbox.message(tx, to=order.customer_phone, kind="payment_reminder", order_id=order.id,
                                key=f"order:{order.id}:payment-reminder",
                                variables={"name": order.customer_name, "reference": order.reference,
                                           "total": alerts.money(tx.settings, order.total),
                                           "payment_instructions": tx.settings.payment_instructions})
                 for order in rows if order.customer_phone not in left_alone]
    return await outbox.queue(tx, reminders)


async def expire_unpaid(uow) -> str:
    """Cancel what nobody paid for. An order with any payment proof is never expired."""
    after = uow.settings.pending_expiry_after
    if after is None:
        return "off"
    cutoff = uow.now() - after
    async with uow(readonly=True) as tx:
        due = (await tx.execute(DUE_EXPIRIES, {"cutoff": cutoff})).scalars().all()
    cancelled = 0
    for batch in _batches(due, EXPIRIES_PER_TRANSACTION):
        async with uow() as tx:
            still = [row.id for row in await _still_unpaid(tx, batch)]
            paying = set((await tx.execute(WITH_PROOFS, {"ids": still})).scalars()) if still else set()
            for order_id in still:
                if order_id not in paying:
                    await orders.cancel_order(tx, order_id, actor="system", reason="not paid in time")
                    cancelled += 1
            await tx.commit()
    return f"{cancelled} order(s) expired"


async def daily_digest(uow) -> str:
    """Read in a read-only unit of work; only the admins' messages are written."""
    async with uow(readonly=True) as tx:
        today, variables = await _digest(tx)
    async with uow() as tx:
        sent = await alerts.tell_admins(tx, "admin_digest", key=f"digest:{today.isoformat()}", variables=variables)
        await tx.commit()
    return f"digest sent to {sent} admin(s)"


async def _digest(uow):
    settings = uow.settings
    start = day_start(uow.now(), settings.shop_timezone)
    today = start.date()
    by_status = Counter((await tallies.counts(uow))["orders"])
    revenue = await uow.session.scalar(
        select(func.coalesce(func.sum(Order.total), 0)).join(OrderEvent, OrderEvent.order_id == Order.id)
        .where(OrderEvent.kind == "order_confirmed", OrderEvent.at >= start, OrderEvent.at < start + timedelta(days=1)))
    waiting = await uow.session.scalar(select(func.count()).select_from(Order).where(
        Order.status == Status.PENDING.value, Order.payment_status == PaymentStatus.REPORTED.value))
    low = (await uow.session.execute(select(Product).where(
        Product.stock_quantity <= settings.low_stock_threshold).order_by(Product.stock_quantity))).scalars().all()
    unmatched, unmatched_total = await ledger.unmatched_count(uow, start)
    variables = {
        "shop": settings.shop_name, "day": today.isoformat(),
        # The shop's own ledger: money that came in today and paid no order (shown where the shop keeps one).
        "ledger": (f"\nMoney received with no order: {unmatched} ({alerts.money(settings, unmatched_total)})"
                   if unmatched or settings.ledger_token else ""),
        "by_status": ", ".join(f"{status} {by_status[status.value]}" for status in Status) or "none",
        "revenue": alerts.money(settings, revenue),
        "waiting": waiting, "low_stock": ", ".join(f"{p.name} {p.stock_quantity}" for p in low[:10]) or "none",
    }
    return today, variables
