"""WhatsApp's 24-hour customer-service window, and the approved templates that may cross it.

Free-form messages reach a number only within 24 hours of its last inbound message (Twilio error
63016 otherwise). Outside it a message goes as the template configured for its kind, with its
variables sanitised the way WhatsApp requires, or it does not go and the admins hear why, once.
"""
from __future__ import annotations

import json
import re
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select

from core import alerts, outbox
from core.db import one_of
from core.models import Customer, Order, OutboundMessage

WINDOW = timedelta(hours=24)
LAST_INBOUND = (select(Customer.__table__.c.phone, Customer.__table__.c.last_inbound_at)
                .where(one_of(Customer.__table__.c.phone, "phones")))
REFERENCE_OF = select(Order.__table__.c.reference).where(Order.__table__.c.id == bindparam("id"))
OUTSIDE = "outside_window"

# Template kind -> its numbered variables, from the variables the message was queued with.
TEMPLATE_VARIABLES = {
    "order_status": lambda v: {"1": v.get("name", ""), "2": v.get("reference", ""), "3": v.get("status", "")},
    "payment_reminder": lambda v: {"1": v.get("name", ""), "2": v.get("reference", ""), "3": v.get("total", "")},
    # A payment the shop's ledger matched before the customer wrote (core/ledger.py).
    "payment_received": lambda v: {"1": v.get("name", ""), "2": v.get("reference", ""), "3": v.get("amount", "")},
}
MAX_VARIABLE_CHARS = 200
ADMIN_ALERT_CHARS = 900  # the admin_alert template's one variable: the whole alert, in one line


def sanitise(value: object, limit: int = MAX_VARIABLE_CHARS) -> str:
    """WhatsApp refuses a template variable with a newline, a tab or more than four spaces in a row."""
    if isinstance(value, (list, tuple)):
        value = f"{len(value)} item{'s' if len(value) != 1 else ''}"
    text = re.sub(r"[\r\n\t\v\f]+", " ", str(value if value is not None else ""))
    text = re.sub(r" {2,}", " ", text).strip()
    return (text[: limit - 1] + "…") if len(text) > limit else (text or "-")


def content_variables(kind: str, variables: dict) -> str:
    """The ContentVariables JSON; json keeps apostrophes (O'Brien) and emoji as they are."""
    return json.dumps({k: sanitise(v) for k, v in TEMPLATE_VARIABLES[kind](variables).items()}, ensure_ascii=False)


def template_for(message: OutboundMessage | outbox.Claimed, templates: dict[str, str],
                 admins: list[str]) -> tuple[str, str] | None:
    """(ContentSid, ContentVariables) of the approved template that carries `message` across a
    closed window, or None when none is configured: `admin_alert` for anything to an admin, else
    the template of the message's kind (CONTRACT §5)."""
    if message.to_phone in admins:
        if not templates.get("admin_alert"):
            return None
        alert = sanitise(message.body, ADMIN_ALERT_CHARS)
        return templates["admin_alert"], json.dumps({"1": alert}, ensure_ascii=False)
    if message.kind in TEMPLATE_VARIABLES and templates.get(message.kind):
        return templates[message.kind], content_variables(message.kind, message.variables)
    return None


def inside(last_inbound_at: datetime | None, now: datetime) -> bool:
    return last_inbound_at is not None and now - last_inbound_at < WINDOW


async def fit_to_window(uow, messages: list[outbox.Claimed]) -> list[outbox.Claimed]:
    """Decide, inside the claiming transaction, how each claimed message may go; returns the sendable.

    Within the window: as written. Outside: as its template (template_for) when one is configured,
    else failed with the reason, and the admins told once per customer until that customer writes again.
    """
    now, templates, admins = uow.now(), uow.settings.whatsapp_templates, alerts.admin_phones(uow.settings)
    last = dict((await uow.execute(LAST_INBOUND, {"phones": list({m.to_phone for m in messages})})).all())
    sendable, templated, refused = [], [], []
    for message in messages:
        if message.content_sid or inside(last.get(message.to_phone), now):
            sendable.append(message)
        elif template := template_for(message, templates, admins):
            message.content_sid, message.content_variables = template
            sendable.append(message)
            templated.append(message)
        else:
            await refuse_outside_window(uow, message, last.get(message.to_phone))
            refused.append(message)
    await outbox.save_claimed(uow, templated, "content_sid", "content_variables")
    await outbox.save_claimed(uow, refused, "status", "error_code", "error_message", "claimed_until")
    return sendable


async def refuse_outside_window(uow, message: outbox.Claimed, last_inbound_at: datetime | None) -> None:
    """Mark the message failed (its caller writes it back) and tell the admins, once per customer."""
    message.status, message.error_code, message.claimed_until = "failed", OUTSIDE, None
    message.error_message = (f"outside WhatsApp's 24-hour window and no template is configured for "
                             f"{message.kind!r} (WHATSAPP_TEMPLATES)")
    admins = alerts.admin_phones(uow.settings)
    if not admins or message.to_phone in admins:
        return  # nobody to tell, or an admin's own window: telling the admins would hit the same wall
    episode = last_inbound_at.isoformat() if last_inbound_at else "never"
    await alerts.tell_admins(uow, "admin_not_reached", key=f"window:{message.to_phone}:{episode}",
                             variables={"phone": message.to_phone, "reason": "they have not written in 24 hours "
                                        "and no approved template is set for this message",
                                        "order": await _order_words(uow, message)})


async def _order_words(uow, message: OutboundMessage) -> str:
    if not message.order_id:
        return ""
    reference = await uow.scalar(REFERENCE_OF, {"id": message.order_id})
    return f" about {reference}" if reference else ""


async def not_delivered(uow, message: OutboundMessage, code: str | None, reason: str) -> None:
    """A message failed for good (at send, or by a failed/undelivered callback): resend a 63016 as its
    template when there is one, else tell the admins once which customer was not reached, and why.
    Nothing that failed on its way to an admin raises a further alert."""
    admins = alerts.admin_phones(uow.settings)
    template = template_for(message, uow.settings.whatsapp_templates, admins)
    if code == "63016" and not message.content_sid and template:
        content_sid, variables = template
        await outbox.enqueue(uow, to=message.to_phone, kind=message.kind, key=f"{message.key}:template",
                             variables=message.variables, order_id=message.order_id, body=message.body,
                             content_sid=content_sid, content_variables=variables)
        return
    if message.to_phone in admins:
        return
    if code == "63016":
        last = (await uow.session.get(Customer, message.to_phone))
        episode = last.last_inbound_at.isoformat() if last and last.last_inbound_at else "never"
        key = f"window:{message.to_phone}:{episode}"
    else:
        key = f"undelivered:{message.id}"
    await alerts.tell_admins(uow, "admin_not_reached", key=key, variables={
        "phone": message.to_phone, "reason": reason, "order": await _order_words(uow, message)})
