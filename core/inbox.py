"""Inbound WhatsApp messages, stored before anything else happens to them."""
from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime, timedelta

from sqlalchemy import Text, bindparam, cast, func, select, update

from core import alerts
from core.db import insert_unless_taken
from core.models import InboundMessage, OutboundMessage
from core.phones import try_e164

RATE_WINDOW = timedelta(minutes=1)
CONTACTS_RESUME_WITHIN = timedelta(days=1)
_INBOUND = InboundMessage.__table__


@dataclass
class Message:
    """A stored inbound message as the bot answers it: read with one statement, and what the turn
    changes (`order_id`, `details`, `error`, `processed_at`) written back with one (`save`)."""

    id: int
    message_sid: str
    from_phone: str
    wa_id: str | None
    profile_name: str | None
    body: str
    media: list[dict]
    order_id: str | None
    received_at: datetime
    processed_at: datetime | None
    error: str | None
    request_id: str | None
    details: dict | None


_MESSAGE_COLUMNS = [_INBOUND.c[f.name] for f in fields(Message)]
_LOCKED = select(*_MESSAGE_COLUMNS).where(_INBOUND.c.id == bindparam("id")).with_for_update()
_RECEIVED_FROM = (select(func.count()).select_from(_INBOUND)
                  .where(_INBOUND.c.from_phone == bindparam("phone"), _INBOUND.c.id <= bindparam("id"),
                         _INBOUND.c.received_at > bindparam("since", type_=_INBOUND.c.received_at.type)))
_SAVE = (update(_INBOUND).where(_INBOUND.c.id == bindparam("message_id"))
         .values(order_id=bindparam("order_id"), details=bindparam("details"), error=bindparam("error"),
                 processed_at=bindparam("processed_at")))


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


async def with_unread_contacts(uow, message_id: int | None = None, limit: int = 100) -> list[Message]:
    """Messages whose contact cards are still to be read and relayed (`details.contacts` is
    "pending"): one message, or (message_id None) those of the last day, for a restart."""
    query = (select(*_MESSAGE_COLUMNS).where(cast(_INBOUND.c.details, Text).like('%"contacts"%'))
             .order_by(_INBOUND.c.id).limit(limit))
    if message_id is not None:
        query = query.where(_INBOUND.c.id == message_id)
    else:
        query = query.where(_INBOUND.c.received_at >= uow.now() - CONTACTS_RESUME_WITHIN)
    messages = [Message(*row) for row in await uow.execute(query)]
    return [m for m in messages if (m.details or {}).get("contacts") == "pending"]


async def unprocessed_ids(uow, *, older_than: datetime, limit: int = 500) -> list[int]:
    """Messages stored but never answered: the process died between storing and handling them."""
    inbound = InboundMessage.__table__
    rows = await uow.execute(
        select(inbound.c.id).where(inbound.c.processed_at.is_(None), inbound.c.received_at <= older_than)
        .order_by(inbound.c.id).limit(limit))
    return list(rows.scalars())


async def locked(uow, message_id: int) -> Message | None:
    """The message, its row locked until the transaction ends (PostgreSQL; SQLite's writer holds the file)."""
    row = (await uow.execute(_LOCKED, {"id": message_id})).first()
    return None if row is None else Message(*row)


async def take_unprocessed(uow, message_id: int) -> Message | None:
    """The message, locked, unless another worker already handled it."""
    message = await locked(uow, message_id)
    return None if message is None or message.processed_at is not None else message


async def save(uow, message: Message) -> None:
    """Write back what answering `message` changed: the order it is about, its details, its error
    and when it was processed."""
    await uow.execute(_SAVE, {"message_id": message.id, "order_id": message.order_id, "details": message.details,
                              "error": message.error, "processed_at": message.processed_at})


async def hold_if_over_limit(uow, message: Message) -> bool:
    """RATE_LIMIT_INBOUND_PER_MINUTE: past it, `message` stays stored but unanswered (True), and the
    admins hear of the sender once per minute. Counted in the database, so it holds across processes:
    the sender's messages received in the minute up to this one. Admins' own messages are not limited."""
    settings = uow.settings
    limit = settings.rate_limit_inbound_per_minute
    if not limit or try_e164(message.from_phone, settings.default_region) in alerts.admin_phones(settings):
        return False
    received = await uow.scalar(_RECEIVED_FROM, {"phone": message.from_phone, "id": message.id,
                                                 "since": message.received_at - RATE_WINDOW})
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
