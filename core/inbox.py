"""Inbound WhatsApp messages, stored before anything else happens to them."""
from __future__ import annotations

from sqlalchemy import select

from core.db import insert_ignoring_duplicates
from core.models import InboundMessage, OutboundMessage


async def store(uow, *, message_sid: str, from_phone: str, body: str, media: list[dict],
                wa_id: str | None, profile_name: str | None) -> int | None:
    """Keep the message; None when this MessageSid was stored before (a Twilio retry or a duplicate)."""
    result = await uow.session.execute(
        insert_ignoring_duplicates(uow.session, InboundMessage)
        .values(message_sid=message_sid, from_phone=from_phone, body=body, media=media, wa_id=wa_id,
                profile_name=profile_name, received_at=uow.now())
        .on_conflict_do_nothing(index_elements=["message_sid"])
    )
    if result.rowcount != 1:
        return None
    return await uow.session.scalar(select(InboundMessage.id).where(InboundMessage.message_sid == message_sid))


async def take_unprocessed(uow, message_id: int) -> InboundMessage | None:
    """The message, locked, unless another worker already handled it."""
    message = await uow.session.get(InboundMessage, message_id, with_for_update=True, populate_existing=True)
    return None if message is None or message.processed_at is not None else message


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
