"""Scheduled work: payment reminders, expiry of unpaid orders, the daily digest.

Each job is a plain operation on a unit of work, so tests run it with a settable clock. `run_once`
is how several server processes on one database agree that a job runs once per due time: the
first to insert the (job, due_key) row runs it, the others see the row and skip.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, exists, func, literal, select

from core import alerts, customers, orders, outbox
from core.db import insert_ignoring_duplicates
from core.models import Customer, JobRun, Order, OrderEvent, OutboundMessage, Product
from core.status import PaymentStatus, Status

BATCH = 200  # orders a sweep handles at most; the next sweep takes the rest


@dataclass(frozen=True)
class Job:
    name: str
    describe: str


REMINDERS = Job("payment_reminders", "remind pending unpaid orders older than PAYMENT_REMINDER_AFTER")
EXPIRY = Job("expire_pending", "cancel pending unpaid orders older than PENDING_EXPIRY_AFTER")
DIGEST = Job("daily_digest", "the admins' summary at DAILY_DIGEST_AT")


async def run_once(uow, job: Job, due_key: str, operation) -> str | None:
    """Run `operation(uow)` unless another process already ran `job` for `due_key`; returns its result."""
    started = await uow.session.execute(
        insert_ignoring_duplicates(uow.session, JobRun)
        .values(job=job.name, due_key=due_key, started_at=uow.now())
        .on_conflict_do_nothing(index_elements=["job", "due_key"])
    )
    if started.rowcount != 1:
        return None
    result = await operation(uow)
    run = await uow.session.scalar(select(JobRun).where(JobRun.job == job.name, JobRun.due_key == due_key))
    run.finished_at, run.result = uow.now(), result
    return result


def _unpaid_pending_older_than(cutoff: datetime):
    return and_(Order.status == Status.PENDING.value, Order.payment_status == PaymentStatus.UNPAID.value,
                Order.created_at <= cutoff)


async def remind_unpaid(uow) -> str:
    after = uow.settings.payment_reminder_after
    if after is None:
        return "off"
    reminder_key = literal("order:") + Order.id + literal(":payment-reminder")
    rows = (await uow.session.execute(
        select(Order).where(_unpaid_pending_older_than(uow.now() - after),
                            ~exists().where(OutboundMessage.key == reminder_key))
        .order_by(Order.created_at).limit(BATCH)
    )).scalars().all()
    queued = 0
    for order in rows:
        customer = await uow.session.get(Customer, order.customer_phone)
        if customer is not None and customers.is_quiet(uow, customer):
            continue  # the shop is talking to them; the next sweep after the quiet time reminds
        queued += await outbox.enqueue(
            uow, to=order.customer_phone, kind="payment_reminder", order_id=order.id, unprompted=True,
            key=f"order:{order.id}:payment-reminder",
            variables={"name": order.customer_name, "reference": order.reference,
                       "total": alerts.money(uow.settings, order.total),
                       "payment_instructions": uow.settings.payment_instructions})
    return f"{queued} reminder(s) queued"


async def expire_unpaid(uow) -> str:
    """Cancel what nobody paid for. An order with any payment proof is never expired."""
    after = uow.settings.pending_expiry_after
    if after is None:
        return "off"
    ids = (await uow.session.execute(
        select(Order.id).where(_unpaid_pending_older_than(uow.now() - after))
        .order_by(Order.created_at).limit(BATCH)
    )).scalars().all()
    cancelled = 0
    for order_id in ids:
        order = await orders.get_order(uow, order_id, for_update=True)
        if order.payment_proofs or order.status != Status.PENDING:
            continue
        await orders.cancel_order(uow, order_id, actor="system", reason="not paid in time")
        cancelled += 1
    return f"{cancelled} order(s) expired"


async def daily_digest(uow) -> str:
    settings = uow.settings
    zone = ZoneInfo(settings.shop_timezone)
    today = uow.now().astimezone(zone).date()
    start = datetime.combine(today, time.min, zone)
    by_status = Counter(dict((await uow.session.execute(
        select(Order.status, func.count()).group_by(Order.status))).all()))
    revenue = await uow.session.scalar(
        select(func.coalesce(func.sum(Order.total), 0)).join(OrderEvent, OrderEvent.order_id == Order.id)
        .where(OrderEvent.kind == "order_confirmed", OrderEvent.at >= start, OrderEvent.at < start + timedelta(days=1)))
    waiting = await uow.session.scalar(select(func.count()).select_from(Order).where(
        Order.status == Status.PENDING.value, Order.payment_status == PaymentStatus.REPORTED.value))
    low = (await uow.session.execute(select(Product).where(
        Product.stock_quantity <= settings.low_stock_threshold).order_by(Product.stock_quantity))).scalars().all()
    variables = {
        "shop": settings.shop_name, "day": today.isoformat(),
        "by_status": ", ".join(f"{status} {by_status[status.value]}" for status in Status) or "none",
        "revenue": alerts.money(settings, revenue),
        "waiting": waiting, "low_stock": ", ".join(f"{p.name} {p.stock_quantity}" for p in low[:10]) or "none",
    }
    sent = await alerts.tell_admins(uow, "admin_digest", key=f"digest:{today.isoformat()}", variables=variables)
    return f"digest sent to {sent} admin(s)"
