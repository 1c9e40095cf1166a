"""What a message is about before its words are read: the order of the message it swipe-replies
to, or the `<command>:<reference>` payload of the quick-reply button tapped (CONTRACT §4, Context).

Twilio posts `OriginalRepliedMessageSid` for a swipe-reply and `ButtonPayload`/`ButtonText` for a
button (twilio.com/docs/messaging/guides/webhook-request); webhooks/twilio.py keeps them in the
inbound message's `details`.
"""
from __future__ import annotations

from dataclasses import dataclass

from core import outbox
from core.inbox import Message
from core.references import canonical, plain_dashes


@dataclass(frozen=True)
class Context:
    reference: str | None = None   # the order the message is about without naming it
    command: str | None = None     # a button's command: `paid`, `cancel`, `status`, `confirm`, …
    phone: str | None = None       # the customer an admin alert replied to names (for `reply`)


async def context_of(uow, message: Message, phone: str) -> Context:
    """The context of `message` from `phone`: a button's payload first, then the message it replies to."""
    details = message.details or {}
    reference = command = None
    payload = plain_dashes((details.get("button") or {}).get("payload") or "").strip()
    if payload:
        head, colon, rest = payload.partition(":")
        if colon:
            command, reference = head.strip().lower() or None, canonical(rest)
        elif not (reference := canonical(payload)):
            command = payload.lower()
    about = None
    if details.get("repliedTo"):
        replied, about = await outbox.replied_to(uow, details["repliedTo"], phone)
        reference = reference or replied
    return Context(reference, command, about)
