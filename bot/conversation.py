"""A customer's turn: what one inbound WhatsApp message means, what it changes, what we answer.

Everything here runs in the caller's unit of work; answers are queued in the outbox keyed by the
inbound message, so a message handled twice can never be answered twice.
"""
from __future__ import annotations

import re
from datetime import timedelta
from itertools import zip_longest
from zoneinfo import ZoneInfo

from bot import replies
from bot.contacts import is_contact_media
from bot.context import Context, context_of
from bot.payment_texts import PaymentRead, check_amount
from bot.payments import is_receipt_media
from bot.reading import read_message
from bot.references import find_foreign_references, find_references
from core import accounts, alerts, customers, ledger, orders, outbox, proofs
from core.errors import LinkRefused, NotAllowed, NotFound
from core.inbox import Message
from core.models import Order
from core.references import plain_dashes
from core.status import Status

GREETINGS = frozenset({"hi", "hello", "hey", "habari", "hujambo", "mambo", "jambo", "niaje", "sasa",
                       "good morning", "good afternoon", "good evening", "menu", "help", "start over"})
MAX_RELAYED_CHARS = 600
LINK_CODE = re.compile(rf"[a-z0-9]{{{accounts.LINK_CODE_LENGTH}}}")  # as `_plain` leaves a code
# The evidence in a payment alert: with the alert's other lines (the customer's name may run to 200
# characters) it stays within WhatsApp's 1,600, so the outbox never cuts the "Reply: confirm" line.
MAX_EVIDENCE_CHARS = 1_200
# The pending orders a payment with no reference is matched against by amount, newest first.
MAX_OPEN_ORDERS = 10
CLOSED = frozenset({Status.DELIVERED.value, Status.CANCELLED.value})


class Turn:
    """One inbound message being answered: the customer, the message, and how to reply."""

    def __init__(self, uow, customer: customers.Contact, message: Message, context: Context = Context()) -> None:
        self.uow, self.customer, self.message, self.context = uow, customer, message, context
        self.settings = uow.settings
        self.text = plain_dashes((message.body or "").strip())
        self._replies = 0
        self.told_admins = False

    @property
    def example(self) -> str:
        return f"{self.settings.order_reference_prefix}-1738704998-X7K2"

    async def say(self, kind: str, *, prompt: bool = False, order: Order | None = None, **variables) -> None:
        """Answer the customer. Prompts (menus, payment requests) stay quiet after an admin's reply."""
        if prompt and customers.is_quiet(self.uow, self.customer):
            return
        self._replies += 1
        values = {"shop": self.settings.shop_name, "example": self.example, **variables}
        await outbox.enqueue(self.uow, to=self.customer.phone, kind=kind, variables=values,
                             key=f"inbound:{self.message.id}:reply:{self._replies}",
                             order_id=order.id if order else self.message.order_id,
                             body=replies.render(kind, values))

    async def tell_admins(self, kind: str, **variables) -> None:
        self.told_admins = True
        values = {"name": self.customer.profile_name or "customer", "phone": self.customer.phone,
                  "ad": replies.ad_line(self.customer.referral), **variables}
        await alerts.tell_admins(self.uow, kind, key=f"inbound:{self.message.id}:{kind}", variables=values)

    def link(self, order: Order) -> None:
        """From now on the message and the customer are about `order` (written when the turn ends)."""
        self.message.order_id = self.customer.current_order_id = order.id


async def customer_turn(uow, customer: customers.Contact, message: Message) -> None:
    details = message.details or {}   # the ad that brought them is kept with them (customers.touch)
    turn = Turn(uow, customer, message, await context_of(uow, message, customer.phone))
    await _answer(turn)
    if details.get("referral") and not turn.told_admins:
        # The admins see which ad brought the customer with their first words, whatever the bot answered.
        await turn.tell_admins("admin_ad_lead", text=outbox.cut(turn.text, MAX_RELAYED_CHARS) or "[empty message]")


async def _answer(turn: Turn) -> None:
    message, customer, uow, context = turn.message, turn.customer, turn.uow, turn.context
    word = _plain(turn.text)
    if word in ("stop", "start") and not context.command:
        return await _opt(turn, opted_out=word == "stop")
    if (message.details or {}).get("location"):
        return await _location(turn, message.details["location"])
    if any(is_contact_media(m.get("contentType", "")) for m in message.media):
        return await _contact(turn)

    prefix = uow.settings.order_reference_prefix
    in_context = [context.reference] if context.reference else []
    # A button says what it does in its payload (`paid:LEG-…`), whatever its label reads.
    if context.command == "status" and in_context:
        return await _about_order(turn, context.reference)
    if context.command == "cancel":
        return await _cancel(turn, in_context)
    command, _, rest = word.partition(" ")
    if command == "link" and LINK_CODE.fullmatch(rest):  # "link to the product?" is a question, not a code
        return await _link(turn, rest)
    if command == "status":
        return await _status(turn)
    if command == "cancel":
        return await _cancel(turn, find_references(rest, [prefix]) or in_context)
    reading = read_message(turn.text, prefix, uow.settings.currency)
    receipts = [m for m in message.media if is_receipt_media(m.get("contentType", ""))]
    if receipts or reading.confirmations or reading.says_paid or context.command == "paid":
        return await _payment(turn, reading.references or in_context, receipts, reading.payments)
    if reading.references:
        return await _about_order(turn, reading.references[0])
    if word in GREETINGS or (not word and not message.media):
        name = f" {customer.profile_name}" if customer.profile_name else ""
        # A greeting gets the menu as a prompt (quiet while the shop talks); asking for help always does.
        return await turn.say("menu", prompt=word not in ("help", "menu"), name=name)
    foreign = find_foreign_references(turn.text, [prefix])
    if foreign:
        await turn.tell_admins("admin_unmatched_reference", reference=foreign[0], problem="is not one of our references")
        return await turn.say("foreign_reference", reference=foreign[0], prefix=prefix)
    await _relay(turn)


async def _location(turn: Turn, location: dict) -> None:
    """A shared pin is where to deliver the order in context, else the linked or newest open one."""
    order = await _context_order(turn) or await _linked_or_newest(turn, open_only=True)
    facts = {"place": replies.place(location), "map": replies.map_link(location)}
    if order is None or order.status in CLOSED:
        await turn.tell_admins("admin_location", order="", **facts)
        return await turn.say("location_no_order", **facts)
    outcome = await orders.set_delivery_location(turn.uow, order.id, location, actor=turn.customer.phone)
    turn.link(order)
    await turn.tell_admins("admin_location", order=f" for {order.reference}", **facts)
    await turn.say("location_saved", order=order, reference=outcome.order.reference, **facts)


async def _contact(turn: Turn) -> None:
    """A shared contact card: the admins get its name and number once webhooks/media.py has fetched
    it (the file is at Twilio, and no network call is made inside a turn)."""
    order = await _context_order(turn) or await _linked_or_newest(turn)
    if order is not None:
        turn.message.order_id = order.id
    if turn.settings.twilio_enabled:
        turn.message.details = {**(turn.message.details or {}), "contacts": "pending"}
        turn.told_admins = True   # with the card, ad and all
    else:   # console mode: there is no fetching it
        await turn.tell_admins("admin_contact", order=f" about {order.reference}" if order else "",
                               contacts="a contact card (not read: Twilio is not configured)")
    await turn.say("relay_ack", prompt=True)


async def _link(turn: Turn, code: str) -> None:
    """`link <code>` from the storefront's profile page: proves this number belongs to that account."""
    try:
        account = await accounts.verify_phone(turn.uow, code, turn.customer.phone)
    except LinkRefused as refused:
        return await turn.say("link_refused_" + refused.why)
    await turn.say("phone_linked", username=account.username)


async def _opt(turn: Turn, *, opted_out: bool) -> None:
    turn.customer.opted_out = opted_out
    await turn.say("opted_out" if opted_out else "opted_in")


async def _owned_order(turn: Turn, reference: str, *, for_update: bool = False) -> Order | None:
    """The referenced order when it is the sender's (locked until the turn ends with `for_update`);
    otherwise answer for it and return None."""
    try:
        order = await orders.get_order(turn.uow, reference, for_update=for_update)
    except NotFound:
        await turn.tell_admins("admin_unmatched_reference", reference=reference, problem="does not exist")
        await turn.say("order_not_found", reference=reference)
        return None
    if not customers.owns(turn.customer, order):
        # Never reveal another customer's order: not its items, total, status or owner.
        await turn.tell_admins("admin_unmatched_reference", reference=reference,
                               problem="was placed from another number")
        await turn.say("order_other_phone", reference=reference)
        return None
    return order


async def _about_order(turn: Turn, reference: str) -> None:
    order = await _owned_order(turn, reference)
    if order is None:
        return
    turn.link(order)
    await turn.say("order_summary", order=order, **_summary(turn, order),
                   payment_instructions=turn.settings.payment_instructions if order.status == Status.PENDING else "")


def _summary(turn: Turn, order: Order) -> dict:
    items = ", ".join(f"{i.quantity}× {i.product_name}" for i in order.items)
    return {"reference": order.reference, "items": items, "total": alerts.money(turn.settings, order.total),
            "status": order.status}


async def _payment(turn: Turn, references: list[str], receipts: list[dict], reads: list[PaymentRead]) -> None:
    # The codes first (every path that decides about a code, core/ledger.py too, takes its lock before
    # any order's), then the order: what is said and recorded below rests on its status and payment
    # status, which a confirm, a cancel or the expiry job could otherwise change meanwhile.
    await proofs.hold_codes(turn.uow, [read.transaction_code for read in reads if read.transaction_code])
    if references:
        order = await _owned_order(turn, references[0], for_update=True)
        if order is None:
            return
    else:
        order = await _pending_for(turn, reads)
    if order is None:
        await turn.tell_admins("admin_payment_no_order", evidence=_evidence(turn, receipts, reads))
        return await turn.say("payment_need_reference", prompt=True)
    turn.link(order)
    # Counted under the order's row lock (the order was locked when it was picked): exact.
    recorded, left_out = [], 0
    room = proofs.MAX_PROOFS_PER_ORDER - await proofs.count_proofs(turn.uow, order.id)
    for media, read in zip_longest(receipts, reads) if (receipts or reads) else [(None, None)]:
        if len(recorded) >= room:
            left_out += 1
            continue
        code = read.transaction_code if read else None
        used = await proofs.orders_with_code(turn.uow, code) if code else {}
        if order.id in used:
            continue  # the same code quoted again for the same order: already on file, not a reuse
        flags = _flags(turn, order, read, [ref for oid, ref in used.items() if oid != order.id])
        recorded.append(await proofs.record_proof(
            turn.uow, order, kind="receipt" if media else "text", actor=turn.customer.phone, raw_text=turn.text,
            media_url=media["url"] if media else None, content_type=media["contentType"] if media else None,
            inbound_message_id=turn.message.id, flags=flags,
            provider=read.provider if read else None, transaction_code=code,
            amount=read.amount if read else None, currency=read.currency if read else None))
    # The shop's own ledger may already hold these codes: verified, or flagged, before anyone is told.
    confirmed = await ledger.check_claims(turn.uow, order, recorded) if recorded else False
    facts = alerts.order_facts(turn.uow, order)
    if left_out:  # the order is full: the admins hear it once for the order, not once per message
        await alerts.tell_admins(turn.uow, "admin_proofs_full", key=f"order:{order.id}:proofs-full",
                                 variables={**facts, "limit": proofs.MAX_PROOFS_PER_ORDER})
        if not recorded:
            return await turn.say("payment_proofs_full", order=order, reference=order.reference)
    facts["evidence"] = _evidence(turn, receipts, reads, recorded)
    if order.status == Status.CANCELLED:
        await turn.tell_admins("admin_payment_after_cancel", **facts)
        return await turn.say("payment_after_cancel", order=order, reference=order.reference)
    await turn.tell_admins("admin_payment_report", **facts)
    if confirmed:
        return   # paid in the ledger and confirmed itself: the customer's confirmation message says it all
    await turn.say("payment_ack", order=order, reference=order.reference, read=_what_we_read(turn, order, recorded))


def _flags(turn: Turn, order: Order, read: PaymentRead | None, reused_for: list[str]) -> list[str]:
    """What an admin must look at before confirming: doubts, a wrong amount, a reused code, an old time."""
    if read is None:
        return []
    flags = [f"doubtful: {doubt}" for doubt in read.doubts]
    if reused_for:
        flags.append(f"code_reused: {read.transaction_code} already used for {replies.listed(sorted(reused_for))}")
    if read.amount is not None or read.kind != "claim":
        flag, words = check_amount(read.amount, read.currency, order.total, turn.settings.currency)
        if flag:
            flags.append(f"{flag}: {words}")
    if read.time is not None:
        paid_at = read.time.replace(tzinfo=ZoneInfo(turn.settings.shop_timezone))
        if paid_at < order.created_at - timedelta(minutes=5):  # clocks and minute-rounding differ a little
            flags.append(f"before_order: paid {read.time:%d/%m/%y %H:%M}, before the order was placed")
    return flags


def _what_we_read(turn: Turn, order: Order, recorded) -> str:
    """`: we got M-PESA QJK3ABCD12 for KES 3,000.00` and, when short, what is still due."""
    read = next((p for p in recorded if p.amount is not None and p.currency == turn.settings.currency), None)
    if read is None:
        return ""
    what = " ".join(part for part in (read.provider, read.transaction_code) if part) or "a payment"
    text = f": we got {what} for {alerts.money(turn.settings, read.amount)}"
    if read.amount < order.total:
        text += (f". We received {read.amount:,.2f} of {order.total:,.2f}, "
                 f"{order.total - read.amount:,.2f} to go")
    return text


def _evidence(turn: Turn, receipts: list[dict], reads: list[PaymentRead], recorded=()) -> str:
    """The alert's evidence: one line per proof, flagged ones first, then the customer's words."""
    lines = replies.proof_lines(recorded, turn.settings.currency)
    if turn.text and not reads:
        # The customer's words follow in full below: not also a cut copy of them in a proof's line.
        lines = [line for line in lines if not line.startswith("💬")]
    if receipts:
        kinds = ", ".join("PDF" if "pdf" in r["contentType"] else "photo" for r in receipts)
        lines.append(f"Receipt: {kinds}.")
    if turn.text and not reads:
        lines.append(f"Message: “{outbox.cut(turn.text, MAX_RELAYED_CHARS)}”")
    return outbox.cut("\n".join(lines), MAX_EVIDENCE_CHARS)


async def _pending_for(turn: Turn, reads: list[PaymentRead]) -> Order | None:
    """The pending order a payment with no reference and no context is for (CONTRACT §4): the newest
    whose total equals the amount read, else the newest. Locked, as it stands once locked (it may be
    cancelled by then)."""
    pending = await customers.orders_of(turn.uow, turn.customer, status=Status.PENDING, limit=MAX_OPEN_ORDERS)
    amounts = {r.amount for r in reads if r.amount is not None and r.currency == turn.settings.currency}
    chosen = next((o for o in pending if o.total in amounts), pending[0] if pending else None)
    return await orders.get_order(turn.uow, chosen.id, for_update=True) if chosen else None


async def _status(turn: Turn) -> None:
    reference = next(iter(find_references(turn.text, [turn.settings.order_reference_prefix])), turn.context.reference)
    if reference:
        return await _about_order(turn, reference)
    mine = await customers.orders_of(turn.uow, turn.customer, limit=5)
    if not mine:
        return await turn.say("status_none")
    lines = "\n".join(f"• {o.reference}: {o.status}, {alerts.money(turn.settings, o.total)}" for o in mine)
    await turn.say("status_list", lines=lines)


async def _cancel(turn: Turn, references: list[str]) -> None:
    if not references:
        return await turn.say("cancel_need_reference")
    order = await _owned_order(turn, references[0])
    if order is None:
        return
    turn.link(order)
    try:  # whether it is still pending is the operation's to say, under the order's lock
        outcome = await orders.cancel_order(turn.uow, order.id, actor=turn.customer.phone,
                                            reason="cancelled by the customer", by_customer=True)
    except NotAllowed as refused:
        return await turn.say("cancel_refused", order=order, reference=order.reference,
                              status=refused.details["status"])
    if not outcome.changed:
        return await turn.say("cancel_refused", order=order, reference=order.reference, status=outcome.order.status)
    # The cancellation's own status message tells the customer; the admins hear it from us.
    await turn.tell_admins("admin_customer_cancelled", reference=order.reference, name=order.customer_name)


async def _relay(turn: Turn) -> None:
    """Nothing is swallowed: whatever we can't answer goes to the admins, and the customer hears so."""
    order = await _context_order(turn) or await _linked_or_newest(turn)
    if order is not None:
        turn.message.order_id = order.id
    media = ", ".join(_media_word(m.get("contentType", "")) for m in turn.message.media)
    words = outbox.cut(turn.text, MAX_RELAYED_CHARS)
    text = " ".join(part for part in (words, f"[{media}]" if media else "") if part)
    await turn.tell_admins("admin_relay", text=text or "[empty message]",
                           order=f" about {order.reference} ({order.status})" if order else "",
                           reference=order.reference if order else None)   # a swipe-reply's context
    await turn.say("relay_ack", prompt=True)


async def _linked_or_newest(turn: Turn, *, open_only: bool = False) -> Order | None:
    """The order the conversation is linked to, else the sender's newest (`open_only`: not delivered
    or cancelled)."""
    if turn.customer.current_order_id:
        order = await turn.uow.session.get(Order, turn.customer.current_order_id)
        if order is not None and not (open_only and order.status in CLOSED):
            return order
    recent = await customers.orders_of(turn.uow, turn.customer, limit=MAX_OPEN_ORDERS if open_only else 1)
    return next((o for o in recent if not (open_only and o.status in CLOSED)), None)


async def _context_order(turn: Turn) -> Order | None:
    """The sender's own order the message is in the context of (a swipe-reply or a button), if any."""
    if turn.context.reference is None:
        return None
    try:
        order = await orders.get_order(turn.uow, turn.context.reference)
    except NotFound:
        return None
    return order if customers.owns(turn.customer, order) else None


def _media_word(content_type: str) -> str:
    kind = content_type.split("/")[0]
    return {"audio": "voice note", "image": "photo", "video": "video"}.get(kind, content_type or "attachment")


def _plain(text: str) -> str:
    """Lower case, punctuation and emoji dropped, spaces collapsed: `Hello!! 👋` -> `hello`."""
    return re.sub(r"\s+", " ", re.sub(r"[^\w\s#-]", " ", text.lower())).strip()
