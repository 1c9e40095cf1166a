"""The outbox: every outbound WhatsApp message is a row written in the transaction that causes it.

`enqueue` is idempotent by key (one event, one message), skips unprompted messages to customers
who sent STOP, and renders the body through the texts the composition root gave the unit of work.
The sender in webhooks/ delivers rows after commit; this module holds the SQL that claiming needs.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from core.db import insert_unless_taken
from core.models import Customer, DeliveryEvent, OutboundMessage

# Delivery statuses only move forward along this order; failed and undelivered are final.
RANK = {"queued": 0, "accepted": 0, "scheduled": 0, "sending": 1, "sent": 2, "delivered": 3, "read": 4,
        "failed": 5, "undelivered": 5, "canceled": 5}
FINAL = frozenset({"read", "failed", "undelivered", "canceled"})


async def enqueue(uow, *, to: str, kind: str, key: str, variables: dict | None = None,
                  order_id: str | None = None, unprompted: bool = False, body: str | None = None,
                  content_sid: str | None = None, content_variables: str | None = None) -> bool:
    """Queue one message; False when the key was queued before or the customer opted out."""
    session, now = uow.session, uow.now()
    variables = variables or {}
    if unprompted:
        customer = await session.get(Customer, to)
        if customer is not None and customer.opted_out:
            return False
    text = body if body is not None else uow.render(kind, variables)
    result = await uow.execute(
        insert_unless_taken(uow.conn, OutboundMessage.__table__, ("key",)),
        {"key": key[:200], "kind": kind, "to_phone": to, "body": text, "variables": variables, "order_id": order_id,
         "status": "queued", "attempts": 0, "next_attempt_at": now, "content_sid": content_sid,
         "content_variables": content_variables, "created_at": now, "updated_at": now})
    if result.rowcount != 1:
        return False
    uow.queued += 1  # the commit wakes the sender only when something was queued
    return True


def _due(now: datetime):
    return or_(
        and_(OutboundMessage.status == "queued", OutboundMessage.next_attempt_at <= now),
        and_(OutboundMessage.status == "sending", OutboundMessage.twilio_sid.is_(None),
             OutboundMessage.claimed_until < now),
    )


async def any_due(uow) -> bool:
    """A read, so an idle sweep costs no write transaction."""
    return await uow.session.scalar(select(OutboundMessage.id).where(_due(uow.now())).limit(1)) is not None


async def claim_due(uow, *, limit: int, lease: timedelta) -> list[OutboundMessage]:
    """Take up to `limit` due messages for this process; others skip them (SKIP LOCKED on PostgreSQL,
    the write lock on SQLite). A claim whose process died before the send was recorded expires."""
    now = uow.now()
    rows = (await uow.session.execute(
        select(OutboundMessage).where(_due(now)).order_by(OutboundMessage.id).limit(limit)
        .with_for_update(skip_locked=True)
    )).scalars().all()
    for message in rows:
        message.status, message.claimed_until = "sending", now + lease
        message.attempts += 1
        message.updated_at = now
    await uow.session.flush()
    return list(rows)


async def release_claims(uow) -> int:
    """Put back every claim whose send was never recorded: for a process that knows it is the only
    sender (SQLite is one process per file), claims left at its start belong to a process that died."""
    result = await uow.session.execute(
        update(OutboundMessage).where(OutboundMessage.status == "sending", OutboundMessage.twilio_sid.is_(None))
        .values(status="queued", claimed_until=None, next_attempt_at=uow.now(), updated_at=uow.now()))
    return result.rowcount


async def record_sent(uow, message_id: int, sid: str, status: str) -> None:
    """Twilio took the message. Callbacks that arrived before this answer was stored apply now."""
    await record_sent_many(uow, [(message_id, sid, status)])


async def record_sent_many(uow, sent: list[tuple[int, str, str]]) -> None:
    """Twilio took these messages: (id, MessageSid, status) each, recorded in one transaction."""
    if not sent:
        return
    by_id = {message_id: (sid, status) for message_id, sid, status in sent}
    messages = (await uow.session.execute(
        select(OutboundMessage).where(OutboundMessage.id.in_(by_id)).with_for_update()
    )).scalars().all()
    early: dict[str, list[DeliveryEvent]] = {}
    for event in (await uow.session.execute(
            select(DeliveryEvent).where(DeliveryEvent.message_sid.in_([sid for sid, _ in by_id.values()]))
            .order_by(DeliveryEvent.id))).scalars():
        early.setdefault(event.message_sid, []).append(event)
    now = uow.now()
    for message in messages:
        sid, status = by_id[message.id]
        message.twilio_sid, message.sent_at, message.claimed_until = sid, now, None
        await _advance(uow, message, status)
        for event in early.get(sid, ()):
            await _advance(uow, message, event.status, event.error_code)


async def record_retry(uow, message_id: int, at: datetime, error: str) -> None:
    await uow.session.execute(
        update(OutboundMessage).where(OutboundMessage.id == message_id)
        .values(status="queued", next_attempt_at=at, claimed_until=None, error_message=error[:1000],
                updated_at=uow.now())
    )


async def record_failed(uow, message_id: int, code: str | None, error: str) -> OutboundMessage:
    message = await uow.session.get(OutboundMessage, message_id, with_for_update=True)
    message.status, message.error_code, message.error_message = "failed", code, error[:1000]
    message.claimed_until, message.updated_at = None, uow.now()
    return message


async def record_callback(uow, sid: str, status: str, error_code: str | None) -> OutboundMessage | None:
    """A status callback: kept as an event always; applied to its message when known and forward.
    Returns the message when this callback just made it failed or undelivered."""
    uow.session.add(DeliveryEvent(message_sid=sid, status=status, error_code=error_code, received_at=uow.now()))
    message = (await uow.session.execute(
        select(OutboundMessage).where(OutboundMessage.twilio_sid == sid).with_for_update()
    )).scalar_one_or_none()
    if message is None:
        return None
    before = message.status
    await _advance(uow, message, status, error_code)
    return message if message.status != before and message.status in ("failed", "undelivered") else None


async def _advance(uow, message: OutboundMessage, status: str, error_code: str | None = None) -> None:
    status = (status or "").lower()
    if status not in RANK:
        return  # an unknown status is kept in delivery_events, never moves the message
    if message.status in FINAL or RANK[status] <= RANK.get(message.status, 0):
        return
    message.status = status
    if error_code:
        message.error_code = error_code
    message.updated_at = uow.now()


async def retry(uow, *, message_id: int | None = None) -> int:
    """`orderdesk outbox retry`: put messages that did not reach their recipient back in the queue
    (one by id, or all of them)."""
    where = [OutboundMessage.status.in_(("failed", "undelivered"))]
    if message_id is not None:
        where.append(OutboundMessage.id == message_id)
    result = await uow.session.execute(
        update(OutboundMessage).where(*where)
        .values(status="queued", next_attempt_at=uow.now(), attempts=0, error_code=None, error_message=None,
                twilio_sid=None, updated_at=uow.now())
    )
    return result.rowcount
