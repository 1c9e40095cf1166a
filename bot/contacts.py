"""Read the contact cards customers share on WhatsApp: Twilio delivers each as `text/vcard` media
(a vCard 3.0 file, RFC 2426 / RFC 6350), which webhooks/media.py downloads after the turn.

Only the name (`FN`, else `N`) and the numbers (`TEL`) are read. Bounded whatever comes in: at most
MAX_CARDS cards, MAX_PHONES numbers each, each value cut to MAX_VALUE characters; one pass over the lines.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot import replies
from core import alerts, customers
from core.inbox import Message
from core.models import Order
from core.phones import try_e164

CONTACT_TYPES = frozenset({"text/vcard", "text/x-vcard", "text/directory"})
MAX_CARDS, MAX_PHONES, MAX_VALUE = 5, 3, 100
_UNFOLD = re.compile(r"\r?\n[ \t]")   # a line starting with a space continues the one before (RFC 6350 §3.2)


@dataclass
class Card:
    name: str = ""
    phones: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return " ".join(part for part in (self.name, ", ".join(self.phones)) if part) or "an empty card"


def is_contact_media(content_type: str) -> bool:
    return (content_type or "").split(";")[0].strip().lower() in CONTACT_TYPES


def read_cards(text: str) -> list[Card]:
    """The cards in a vCard file, in order: `FN:Jane Wanjiru` + `TEL;type=CELL;waid=254722000111:+254 722 000111`
    -> Card("Jane Wanjiru", ["+254 722 000111"])."""
    cards: list[Card] = []
    for line in _UNFOLD.sub("", text).splitlines():
        name, _, value = line.partition(":")
        key = name.split(";")[0].strip().upper().rpartition(".")[2]   # `item1.TEL` (Apple's groups) is TEL
        value = value.strip()[:MAX_VALUE]
        if key == "BEGIN":
            if len(cards) == MAX_CARDS:
                break
            cards.append(Card())
        elif not cards:
            continue
        elif key == "FN" and value:
            cards[-1].name = value
        elif key == "N" and value and not cards[-1].name:
            cards[-1].name = " ".join(part for part in reversed(value.split(";")[:2]) if part)
        elif key == "TEL" and value and len(cards[-1].phones) < MAX_PHONES:
            cards[-1].phones.append(value)
    return cards


async def relay_cards(uow, message: Message, cards: list[Card], problem: str | None = None) -> None:
    """Tell the admins whom the customer shared (name and number of each card, or why the card could
    not be read), once per message, and keep what was read on the message."""
    phone = try_e164(message.from_phone, uow.settings.default_region) or message.from_phone.removeprefix("whatsapp:")
    customer = await customers.get(uow, phone)
    order = await uow.session.get(Order, message.order_id) if message.order_id else None
    read = "; ".join(str(card) for card in cards)
    await alerts.tell_admins(uow, "admin_contact", key=f"inbound:{message.id}:admin_contact", variables={
        "name": message.profile_name or "customer", "phone": phone,
        "ad": replies.ad_line(customer.referral if customer else None),
        "order": f" about {order.reference}" if order else "",
        "contacts": read or f"a contact card that could not be read ({problem or 'it holds no name or number'})"})
    message.details = {**(message.details or {}),
                       "contacts": [{"name": card.name, "phones": card.phones} for card in cards]}
