"""Inbound WhatsApp messages, stored before anything else happens to them."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Text, cast, func, select

from core import alerts
from core.db import insert_unless_taken
from core.models import InboundMessage, OutboundMessage
from core.phones import try_e164

RATE_WINDOW = timedelta(minutes=1)
CONTACTS_RESUME_WITHIN = timedelta(days=1)


async def store(uow, *, message_sid: str, from_phone: str, body: str, media: list[dict],
                wa_id: str | None, profile_name: str | None, request_id: str | None = None,
                details: dict | None = None) -> int | None:
    """Keep the message; its id, or None when this MessageSid was stored before (a Twilio retry or a
    duplicate). One statement: the insert names the new row's id, or nothing on a duplicate."""
    statement = insert_unless_taken(uow.conn, InboundMessage.__table__, ("message_sid",), returning="id")
    return (await uow.execute(statement, {
        "message_sid": message_sid, "from_phone": from_phone, "body": body, "media": media, "wa_id": wa_id,
        "profile_name": profile_name, "received_at": uow.now(), "request_id": request_id,
        "details": details})).scalar()


async def with_unread_contacts(uow, message_id: int | None = None, limit: int = 100) -> list[InboundMessage]:
    """Messages whose contact cards are still to be read and relayed (`details.contacts` is
    "pending"): one message, or (message_id None) those of the last day, for a restart."""
    query = (select(InboundMessage).where(cast(InboundMessage.details, Text).like('%"contacts"%'))
             .order_by(InboundMessage.id).limit(limit))
    if message_id is not None:
        query = query.where(InboundMessage.id == message_id)
    else:
        query = query.where(InboundMessage.received_at >= uow.now() - CONTACTS_RESUME_WITHIN)
    messages = (await uow.session.execute(query)).scalars().all()
    return [m for m in messages if (m.details or {}).get("contacts") == "pending"]


async def unprocessed_ids(uow, *, older_than: datetime, limit: int = 500) -> list[int]:
    """Messages stored but never answered: the process died between storing and handling them."""
    inbound = InboundMessage.__table__
    rows = await uow.execute(
        select(inbound.c.id).where(inbound.c.processed_at.is_(None), inbound.c.received_at <= older_than)
        .order_by(inbound.c.id).limit(limit))
    return list(rows.scalars())


async def take_unprocessed(uow, message_id: int) -> InboundMessage | None:
    """The message, locked, unless another worker already handled it."""
    message = await uow.session.get(InboundMessage, message_id, with_for_update=True, populate_existing=True)
    return None if message is None or message.processed_at is not None else message


async def hold_if_over_limit(uow, message: InboundMessage) -> bool:
    """RATE_LIMIT_INBOUND_PER_MINUTE: past it, `message` stays stored but unanswered (True), and the
    admins hear of the sender once per minute. Counted in the database, so it holds across processes:
    the sender's messages received in the minute up to this one. Admins' own messages are not limited."""
    settings = uow.settings
    limit = settings.rate_limit_inbound_per_minute
    if not limit or try_e164(message.from_phone, settings.default_region) in alerts.admin_phones(settings):
        return False
    received = await uow.session.scalar(
        select(func.count()).select_from(InboundMessage)
        .where(InboundMessage.from_phone == message.from_phone, InboundMessage.id <= message.id,
               InboundMessage.received_at > message.received_at - RATE_WINDOW))
    if received <= limit:
        return False
    message.processed_at = uow.now()
    message.error = f"not answered: more than {limit} messages a minute (RATE_LIMIT_INBOUND_PER_MINUTE)"
    minute = int(message.received_at.timestamp() // 60)
    phone = message.from_phone.removeprefix("whatsapp:")
    await alerts.tell_admins(uow, "admin_inbound_limited", key=f"inbound:limited:{phone}:{minute}",
                             variables={"phone": phone, "name": message.profile_name or "customer",
                                        "limit": limit})
    return True


async def conversation(uow, order_id: str) -> list[dict]:
    """Both directions of an order's WhatsApp conversation, oldest first, with delivery statuses."""
    inbound = (await uow.session.execute(
        select(InboundMessage).where(InboundMessage.order_id == order_id))).scalars()
    outbound = (await uow.session.execute(
        select(OutboundMessage).where(OutboundMessage.order_id == order_id))).scalars()
    rows = [{"direction": "inbound", "phone": m.from_phone.removeprefix("whatsapp:"), "body": m.body,
             "media": m.media, "at": m.received_at, "status": "received", "sid": m.message_sid,
             "kind": None, "errorCode": None} for m in inbound]
    rows += [{"direction": "outbound", "phone": m.to_phone, "body": m.body, "media": [], "at": m.created_at,
              "status": m.status, "sid": m.twilio_sid, "kind": m.kind, "errorCode": m.error_code}
             for m in outbound]
    return sorted(rows, key=lambda r: (r["at"], r["direction"] == "outbound"))
