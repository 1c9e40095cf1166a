"""Admin commands from WhatsApp: one table of `Command`s that dispatches and writes `help`.

Each handler parses its arguments, calls the same core operation the REST API calls (so confirm or
cancel exist once), and answers the admin in a line or two. Domain errors become answers through
`replies.admin_error`; nothing here re-checks a rule.
"""
from __future__ import annotations

import difflib
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

from bot import money_in, replies
from bot.context import Context, context_of
from bot.money_in import read_money_in
from bot.payment_texts import amount_cap, format_money, parse_amount
from bot.references import find_foreign_references, find_references
from core import alerts, catalog, customers, ledger, orders, outbox, proofs, views
from core.errors import DomainError, NotFound
from core.inbox import Message
from core.models import Order
from core.phones import try_e164
from core.references import plain_dashes
from core.status import Status, parse_status


class Usage(Exception):
    """The arguments do not fit the command: answer with its usage line."""


@dataclass(frozen=True)
class Command:
    name: str
    usage: str
    help: str
    handler: Callable[[AdminTurn, str], Awaitable[str]]


class AdminTurn:
    def __init__(self, uow, admin: customers.Contact, message: Message, context: Context = Context()) -> None:
        self.uow, self.admin, self.message, self.context = uow, admin, message, context
        self.settings = uow.settings

    @property
    def actor(self) -> str:
        return self.admin.phone

    def reference(self, text: str) -> str:
        """The one reference in `text`, else the order the message replies to; or a Usage/answer
        explaining what is wrong with it."""
        prefix = self.settings.order_reference_prefix
        found = find_references(text, [prefix])
        if found:
            return found[0]
        foreign = find_foreign_references(text, [prefix])
        if foreign:
            raise Answer(replies.admin("foreign", reference=foreign[0], prefix=prefix))
        if self.context.reference:
            return self.context.reference
        raise Usage

    async def answer(self, text: str) -> None:
        await outbox.enqueue(self.uow, to=self.admin.phone, kind="admin_answer", body=text,
                             key=f"inbound:{self.message.id}:admin-answer")


class Answer(Exception):
    """Stop here and say this."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


# --- handlers ---------------------------------------------------------------------------------

async def help_(turn: AdminTurn, _args: str) -> str:
    return "Commands:\n" + "\n".join(f"• {c.usage} – {c.help}" for c in COMMANDS)


async def list_orders(turn: AdminTurn, args: str) -> str:
    try:
        status = parse_status(args) if args else Status.PENDING
    except ValueError:
        raise Usage from None
    count, rows = await orders.list_orders(turn.uow, status=status, limit=10)
    if not rows:
        return replies.admin("orders_none", status=status.value)
    lines = "\n".join(f"{o.reference} · {o.customer_name} · {alerts.money(turn.settings, o.total)} · {o.payment_status}"
                      for o in rows)
    return replies.admin("orders", status=status.value.capitalize(), count=count, lines=lines)


async def show(turn: AdminTurn, args: str) -> str:
    order = await orders.get_order(turn.uow, turn.reference(args))
    lines = [f"{order.reference} · {order.status} · payment {order.payment_status}",
             f"{order.customer_name} {order.customer_phone}" + (f", {order.customer_address}" if order.customer_address else ""),
             "; ".join(f"{i.quantity}× {i.product_name} ({i.product_barcode})" for i in order.items)
             + f" = {alerts.money(turn.settings, order.total)}"]
    lines += replies.proof_lines(order.payment_proofs, turn.settings.currency)
    if order.delivery_location:
        where = order.delivery_location
        lines.append(f"📍 Deliver to {replies.place(where)}: {replies.map_link(where)}")
    customer = await customers.get(turn.uow, order.customer_phone)
    if customer is not None and customer.referral:
        lines.append(f"📣 Came from your ad {replies.ad_name(customer.referral)}")
    if order.notes:
        lines.append(f"Note: {order.notes}")
    return "\n".join(lines)


async def confirm(turn: AdminTurn, args: str) -> str:
    outcome = await orders.confirm_order(turn.uow, turn.reference(args), turn.actor)
    order = outcome.order
    if not outcome.changed:
        return replies.admin("already", reference=order.reference, status=order.status)
    stock = ", ".join(f"{p.name} {p.stock_quantity}" for p in outcome.touched_products)
    return replies.admin("confirmed", reference=order.reference, name=order.customer_name, stock=stock)


def _transition(status: Status) -> Callable[[AdminTurn, str], Awaitable[str]]:
    async def handler(turn: AdminTurn, args: str) -> str:
        return await _move(turn, turn.reference(args), status, note="")
    return handler


async def set_status(turn: AdminTurn, args: str) -> str:
    words = args.split()
    if len(words) < (1 if turn.context.reference else 2):
        raise Usage
    try:
        status = parse_status(words[-1])
    except ValueError:
        raise Answer(f"⛔ “{words[-1]}” is not a status. Use one of: {', '.join(s.value for s in Status)}.") from None
    return await _move(turn, turn.reference(" ".join(words[:-1])), status, note="")


async def _move(turn: AdminTurn, reference: str, status: Status, note: str) -> str:
    outcome = await orders.change_status(turn.uow, reference, status, turn.actor, note=note)
    order = outcome.order
    if not outcome.changed:
        return replies.admin("already", reference=order.reference, status=order.status)
    if status == Status.CONFIRMED:
        stock = ", ".join(f"{p.name} {p.stock_quantity}" for p in outcome.touched_products)
        return replies.admin("confirmed", reference=order.reference, name=order.customer_name, stock=stock)
    return replies.admin("moved", reference=order.reference, status=order.status, name=order.customer_name)


async def cancel(turn: AdminTurn, args: str) -> str:
    reference = turn.reference(args)
    reason = _after_reference(turn, args)
    outcome = await orders.cancel_order(turn.uow, reference, turn.actor, reason)
    order = outcome.order
    if not outcome.changed:
        return replies.admin("already", reference=order.reference, status=order.status)
    return replies.admin("cancelled", reference=order.reference, name=order.customer_name,
                         restocked=", stock put back" if outcome.touched_products else "")


STOCK_CHANGE = re.compile(r"^(?P<op>[+=-])\s*(?P<n>\d{1,7})$")


async def stock(turn: AdminTurn, args: str) -> str:
    barcode, _, change = args.partition(" ")
    if not barcode:
        raise Usage
    change = change.replace(" ", "")
    # Locked before a change, so the level the answer shows as before is the one the change started from.
    product = await catalog.find_by_barcode(turn.uow, barcode, for_update=bool(change))
    if not change:
        return replies.admin("stock", name=product.name, barcode=product.barcode, stock=product.stock_quantity)
    match = STOCK_CHANGE.match(change)
    if not match:
        raise Answer(f"⛔ “{change}” is not a stock change. Use +N, -N or =N, e.g. stock {product.barcode} +5")
    n, before = int(match["n"]), product.stock_quantity
    if match["op"] == "=":
        product = await catalog.set_stock(turn.uow, product.id, n, reason="set from WhatsApp", actor=turn.actor)
    else:
        delta = n if match["op"] == "+" else -n
        product = await catalog.adjust_stock(turn.uow, product.id, delta, reason="adjusted from WhatsApp",
                                             actor=turn.actor)
    return replies.admin("stock_changed", name=product.name, barcode=product.barcode, before=before,
                         stock=product.stock_quantity)


async def reply(turn: AdminTurn, args: str) -> str:
    target, _, text = args.partition(" ")
    text = text.strip()
    prefix = turn.settings.order_reference_prefix
    in_context = turn.context.reference or turn.context.phone
    if in_context and args and not (find_references(target, [prefix]) or find_foreign_references(target, [prefix])
                                    or try_e164(target, turn.settings.default_region)):
        target, text = in_context, args   # swiped onto an alert: all of it is the text, to that customer
    if not target or not text:
        raise Usage
    order: Order | None = None
    if find_references(target, [prefix]) or find_foreign_references(target, [prefix]):
        order = await orders.get_order(turn.uow, turn.reference(target))
        phone = order.customer_phone
    else:
        phone = try_e164(target, turn.settings.default_region)
        if phone is None:
            raise Answer(f"⛔ “{target}” is neither an order reference nor a phone number.")
    customer = await customers.touch(turn.uow, phone, inbound=False)
    if order is None and customer.current_order_id:
        order = await turn.uow.session.get(Order, customer.current_order_id)
    await outbox.enqueue(turn.uow, to=phone, kind="shop_message", body=text, variables={"text": text},
                         key=f"inbound:{turn.message.id}:shop-message", order_id=order.id if order else None)
    quiet = turn.settings.handover_quiet
    if quiet:
        customer.quiet_until = turn.uow.now() + quiet
        await customers.save(turn.uow, customer)
    limit = outbox.MAX_BODY_CHARS
    cut = f", cut to {limit:,} characters (WhatsApp's limit)" if len(text) > limit else ""
    return replies.admin("replied", phone=phone, order=f" ({order.reference})" if order else "", cut=cut,
                         quiet=_duration(quiet) if quiet else "no time (HANDOVER_QUIET is off)")


async def paid(turn: AdminTurn, args: str) -> str:
    reference = turn.reference(args)
    words = _after_reference(turn, args).split()
    if not words:
        raise Usage
    code, amount = words[0].upper(), None
    if len(words) > 1:
        # As the payment texts write money, so NaN, `inf`, `1e400` and `-3000` are not amounts.
        amount = parse_amount(words[1])
        cap = amount_cap(turn.settings.currency)
        if amount is None or amount > cap:
            raise Answer(f"⛔ “{words[1]}” is not an amount: write it like 3,000 or 3000.50, at most "
                         f"{format_money(cap)}. Example: paid {reference} QJK3ABCD12 3000")
    order = await orders.get_order(turn.uow, reference, for_update=True)
    await proofs.record_proof(turn.uow, order, kind="manual", actor=turn.actor, transaction_code=code,
                              amount=amount, currency=turn.settings.currency if amount is not None else None,
                              raw_text=turn.message.body, inbound_message_id=turn.message.id, verified=True)
    return replies.admin("paid", code=code, reference=order.reference,
                         amount=f" for {alerts.money(turn.settings, amount)}" if amount is not None else "")


HOW_MATCHED = {"claim": "to what the customer reported", "reference": "by the account reference",
               "phone": "by the payer's number"}
MAX_LEDGER_LINES = 15


async def ledger_(turn: AdminTurn, args: str) -> str:
    """`ledger`: today's money that paid no order. `ledger <text>` (or the text alone): keep a money-in
    SMS from the shop's phone in the ledger, as the forwarder app would."""
    if args.strip():
        return await keep_forwarded(turn, _after_first_word(turn.message.body or ""))
    entries = await ledger.unmatched_today(turn.uow)
    if not entries:
        return replies.admin("ledger_none")
    zone = ZoneInfo(turn.settings.shop_timezone)
    lines = [f"• {e.received_at.astimezone(zone):%H:%M} {ledger.describe(e)}" + (f" (account {e.account[:40]})"
                                                                                 if e.account else "")
             for e in entries[:MAX_LEDGER_LINES]]
    if len(entries) > MAX_LEDGER_LINES:
        lines.append(f"… and {len(entries) - MAX_LEDGER_LINES} more: GET /api/ledger/?unmatched=true")
    total = sum((e.amount for e in entries if e.currency == turn.settings.currency), Decimal("0.00"))
    return replies.admin("ledger_list", count=len(entries), total=alerts.money(turn.settings, total),
                         lines="\n".join(lines))


async def keep_forwarded(turn: AdminTurn, text: str) -> str:
    kept = await money_in.keep_text(turn.uow, text, source="whatsapp", sender=turn.actor,
                                    received_at=turn.message.received_at)
    if not kept:
        raise Answer(replies.admin("ledger_not_money"))
    lines = []
    for k in kept:
        outcome = (replies.admin("ledger_paid", reference=k.order.reference, name=k.order.customer_name,
                                 how=HOW_MATCHED[k.how], confirmed=" It confirmed itself." if k.confirmed else "")
                   if k.order is not None else replies.admin("ledger_unmatched"))
        lines.append(replies.admin("ledger_kept" if k.new else "ledger_already", entry=ledger.describe(k.entry),
                                   outcome=outcome))
    return "\n".join(lines)


def _after_first_word(text: str) -> str:
    parts = text.strip().split(maxsplit=1)
    return parts[1] if len(parts) > 1 else ""


COMMANDS: list[Command] = [
    Command("help", "help", "these commands", help_),
    Command("orders", "orders [status]", "10 newest orders (default pending)", list_orders),
    Command("show", "show <ref>", "an order's details and payments (a bare <ref> works too)", show),
    Command("confirm", "confirm <ref>", "take stock, tell the customer", confirm),
    Command("process", "process <ref>", "mark processing", _transition(Status.PROCESSING)),
    Command("ship", "ship <ref>", "mark shipped", _transition(Status.SHIPPED)),
    Command("deliver", "deliver <ref>", "mark delivered", _transition(Status.DELIVERED)),
    Command("status", "status <ref> <status>", "any allowed status change", set_status),
    Command("cancel", "cancel <ref> [reason]", "cancel, restock if confirmed", cancel),
    Command("stock", "stock <barcode> [+N|-N|=N]", "show or change stock", stock),
    Command("reply", "reply <ref or phone> <text>", "message a customer as the shop", reply),
    Command("paid", "paid <ref> <code> [amount]", "record a payment you saw as verified", paid),
    Command("ledger", "ledger [received SMS]", "today's money with no order; or keep the shop's received text",
            ledger_),
]
BY_NAME = {c.name: c for c in COMMANDS}


async def _forwarded(turn: AdminTurn, _args: str) -> str:
    return await keep_forwarded(turn, turn.message.body or "")


FORWARDED = Command("ledger", BY_NAME["ledger"].usage, "a received SMS forwarded alone", _forwarded)


async def admin_turn(uow, admin: customers.Contact, message: Message) -> None:
    turn = AdminTurn(uow, admin, message, await context_of(uow, message, admin.phone))
    text = " ".join(plain_dashes(message.body or "").split())
    if turn.context.command in BY_NAME:   # a button's `confirm:LEG-…` does what it says, whatever its label
        text = f"{turn.context.command} {turn.context.reference or ''}".strip()
    word, _, args = text.partition(" ")
    command = BY_NAME.get(word.lower())
    if command is None and read_money_in(text, uow.settings.currency, uow.settings.default_region):
        # The shop's own "You have received…" text, forwarded alone: kept in the ledger.
        command = FORWARDED
    if command is None:
        suggestion = _suggest(word)
        if suggestion is None and find_references(text, [uow.settings.order_reference_prefix]):
            command, args = BY_NAME["show"], text  # a bare reference
        else:
            await turn.answer(replies.admin("unknown", word=word[:40],
                                            suggestion=f" Did you mean {suggestion}?" if suggestion else ""))
            return
    try:
        async with uow.savepoint():  # a refused command leaves nothing half-done
            text = await command.handler(turn, args)
    except Usage:
        text = replies.admin("usage", usage=command.usage)
    except Answer as answer:
        text = answer.text
    except NotFound as exc:
        text = await _not_found(turn, exc)
    except DomainError as exc:
        text = replies.admin_error(exc)
    await turn.answer(text)


async def _not_found(turn: AdminTurn, exc: NotFound) -> str:
    """No such order: say so, and name the closest among the pending and recent ones (CONTRACT §4)."""
    if exc.what != "order":
        return replies.admin_error(exc)
    close = await views.closest_reference(turn.uow, exc.key)
    return replies.admin("no_order", reference=exc.key,
                         suggestion=f" Did you mean {close.reference} ({close.customer_name}, {close.status})?"
                         if close else "")


def _suggest(word: str) -> str | None:
    """The command a misspelt word was probably meant to be (`confrim` -> `confirm`)."""
    close = difflib.get_close_matches(word.lower(), list(BY_NAME), n=1, cutoff=0.6)
    return close[0] if close else None


def _after_reference(turn: AdminTurn, args: str) -> str:
    """What follows the reference in `args` (a cancel reason, a payment code)."""
    words = args.split()
    for i in range(1, min(len(words), 3) + 1):
        if find_references(" ".join(words[:i]), [turn.settings.order_reference_prefix]):
            return " ".join(words[i:])
    # `paid QJK3ABCD12 3000` swipe-replied to an alert: the reference is the context's, the rest is args.
    return args if turn.context.reference and not find_references(args, [turn.settings.order_reference_prefix]) else ""


def _duration(delta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60}h" + (f"{minutes % 60}m" if minutes % 60 else "") if minutes >= 60 else f"{minutes}m"
