"""The entry for every inbound message: admins get the command dispatcher, everyone else the conversation."""
from __future__ import annotations

import logging
from dataclasses import replace

from bot import commands, conversation
from core import alerts, customers
from core.inbox import Message
from core.phones import try_e164

log = logging.getLogger("orderdesk.bot")


async def handle_inbound(uow, message: Message) -> None:
    phone = try_e164(message.from_phone, uow.settings.default_region)
    if phone is None and message.wa_id:
        phone = try_e164(f"+{message.wa_id}", uow.settings.default_region)
    if phone is None:
        message.error = f"sender {message.from_phone!r} is not a phone number"
        log.warning("inbound %s: %s", message.message_sid, message.error)
        return
    customer = await customers.touch(uow, phone, wa_id=message.wa_id, profile_name=message.profile_name,
                                     referral=(message.details or {}).get("referral"))
    as_read = replace(customer)
    if phone in alerts.admin_phones(uow.settings):
        await commands.admin_turn(uow, customer, message)
    else:
        await conversation.customer_turn(uow, customer, message)
    if customer != as_read:
        # What the turn changed (the order talked about, the opt-out) is written last, as the message
        # is: the order's row is never locked by this turn before the operations on it lock it.
        await customers.save(uow, customer)
