"""Every text orderdesk sends, in one place: short, friendly, the reference in every order reply.

`TEXTS` maps a message kind to its wording; `render(kind, variables)` is what the composition root
hands to core, so messages that core queues (status changes, admin alerts) are worded here too.
"""
from __future__ import annotations

from collections.abc import Mapping

STATUS_TEXTS = {
    "pending": "Hi {name}, we have your order {reference}. We will confirm it once your payment is checked.",
    "confirmed": "Hi {name}, your order {reference} is confirmed ✅ Thank you! We are getting it ready.",
    "processing": "Hi {name}, your order {reference} is being prepared 📦",
    "shipped": "Good news {name}: your order {reference} is on its way 🚚",
    "delivered": "Hi {name}, your order {reference} has been delivered. Enjoy, and thank you for shopping with us!",
    "cancelled": "Hi {name}, your order {reference} has been cancelled.{reason}",
}

TEXTS: dict[str, str] = {
    # customer
    "menu": ("Hi{name}! 👋 This is {shop}.\n"
             "• Send your order reference (like {example}) to see it\n"
             "• Send a photo of your payment receipt, or say \"I have paid\"\n"
             "• status – your orders\n"
             "• cancel <reference> – cancel a pending order"),
    "order_summary": "Order {reference}: {items}. Total {total}. Status: {status}.\n{payment_instructions}",
    "order_other_phone": ("Order {reference} was placed from another number, so we can't share its details here. "
                          "Please write from the number you ordered with."),
    "order_not_found": "We couldn't find an order {reference}. Please check the reference and send it again.",
    "foreign_reference": "{reference} doesn't look like one of our order references (ours start with {prefix}-).",
    "payment_ack": ("Thank you! We got your payment report for order {reference}{read}. "
                    "We'll confirm it as soon as we have checked it."),
    "payment_need_reference": ("Thank you! Which order is this payment for? Please send the order reference "
                               "(like {example})."),
    "payment_proofs_full": ("Thank you! Order {reference} already has all the payment reports we keep for one "
                            "order, so this one was not added. The shop will check them and get back to you here."),
    "payment_after_cancel": ("Thank you. Order {reference} was cancelled before your payment report arrived; "
                             "the shop has been told and will get back to you."),
    "relay_ack": "Thanks for your message! Someone from {shop} will answer you here shortly.",
    "status_list": "Your orders:\n{lines}",
    "status_none": "We have no orders from this number yet. Send your order reference if you have one.",
    "cancel_refused": "Order {reference} is {status}, so it can't be cancelled here. Please write to us and we'll help.",
    "cancel_need_reference": "Which order should we cancel? Send: cancel <reference>, e.g. cancel {example}",
    "opted_out": "You won't get reminders from {shop} any more. Send START to turn them back on.",
    "opted_in": "Welcome back! You'll get reminders from {shop} again. Send STOP to turn them off.",
    "shop_message": "{text}",
    "location_saved": "📍 Thank you! We'll deliver order {reference} to {place}.",
    "location_no_order": ("📍 Thank you, we have your location ({place}) and the shop has been told. "
                          "We have no open order from this number: if you have one, send its reference "
                          "(like {example})."),
    "phone_linked": ("Done ✅ This number is now linked to your {shop} account {username}: your orders placed "
                     "with it show in your order history."),
    "link_refused_unknown": ("That link code is unknown or has expired. Ask for a new one on your profile page "
                             "and send it within 15 minutes."),
    "payment_received": ("Hi {name}, we have received your payment of {amount} for order {reference} ✅ "
                         "Thank you! We'll let you know here when it is on its way."),
    "link_refused_other_phone": ("That link code was made for another phone number. Set this number on your "
                                 "profile page first, then send the new code from here."),
    # admins
    "admin_new_order": "🛒 New order {reference}: {name} {phone}, {items}, total {total}.",
    "admin_payment_report": ("💰 Payment report for {reference}: {name} {phone}{ad}, total {total}.\n{evidence}\n"
                             "Reply: confirm {reference}"),
    "admin_payment_no_order": "💰 {phone} ({name}) reports a payment but has no order to attach it to. {evidence}",
    "admin_payment_after_cancel": ("⚠ {phone} ({name}) reports a payment for {reference}, which is cancelled. "
                                   "{evidence}"),
    "admin_proofs_full": ("⚠ {reference} ({name} {phone}) holds {limit} payment reports, the most one order "
                          "keeps: more came and are no longer kept. Look before you confirm: show {reference}"),
    "admin_relay": "💬 {name} {phone}{ad}{order}: {text}\nAnswer: reply {phone} <text>",
    "admin_location": "📍 {name} {phone}{ad} shared a location{order}: {place}\n{map}",
    "admin_ad_lead": "📣 {name} {phone}{ad}: {text}\nAnswer: reply {phone} <text>",
    "admin_contact": "👤 {name} {phone}{ad}{order} shared a contact: {contacts}",
    "admin_customer_cancelled": "✖ {name} {phone} cancelled order {reference} from WhatsApp.",
    "admin_unmatched_reference": "❓ {phone} ({name}) mentioned {reference}, which {problem}.",
    "admin_receipt_reused": ("⚠ Receipt reused: the receipt {name} {phone} sent for {reference} is the same file "
                             "as the one on {others}. Check it before you confirm {reference}."),
    "admin_not_reached": "📵 A WhatsApp message to {phone}{order} did not go through: {reason}.",
    "admin_inbound_limited": ("🚦 {phone} ({name}) sent more than {limit} messages in a minute, so the bot stopped "
                              "answering them for now; their messages are kept. Answer yourself: reply {phone} <text>"),
    "payment_reminder": ("Hi {name}, a reminder that order {reference} ({total}) is waiting for payment. "
                         "{payment_instructions}"),
    "admin_low_stock": "📉 Low stock: {name} ({barcode}) is down to {stock} (threshold {threshold}).",
    "admin_digest": ("📊 {shop} – {day}\nOrders: {by_status}\nConfirmed today: {revenue}\n"
                     "Payment reports waiting: {waiting}\nLow stock: {low_stock}{ledger}"),
    # the shop's own ledger (core/ledger.py)
    "admin_ledger_verified": ("✅ In your ledger: {entry}. It is the payment {name} {phone} reported for {reference} "
                              "(total {total}): verified.{next}"),
    "admin_ledger_paid": ("💰 Paid, in your ledger: {entry} for {reference} ({name} {phone}, total {total}), matched "
                          "{how}. {name} has been told; they sent nothing themselves.{next}"),
    "admin_ledger_mismatch": ("⚠ Check {reference}: {name} {phone} reported {code} as {claimed}, but your ledger "
                              "has {entry}. Not verified: an edited or partial payment?"),
    "admin_ledger_elsewhere": ("⚠ Check {reference}: {name} {phone} reported {code}, which your ledger already "
                               "matched to {other}. Not verified."),
    "admin_ledger_missing": ("⚠ Not in your ledger: {code} ({claimed}) that {name} {phone} reported for {reference} "
                             "{minutes} min ago has not reached your phone's received texts. Check your own "
                             "M-PESA or bank before you confirm: show {reference}"),
    "admin_ledger_cancelled": ("⚠ Money for a cancelled order: your ledger has {entry} naming {reference} ({name} "
                               "{phone}), which is cancelled. Settle it with the customer: reply {phone} <text>"),
    "admin_ledger_confirmed": ("✅ {reference} confirmed by itself: fully paid in your ledger "
                               "(AUTO_CONFIRM_ON_LEDGER). {name} has been told.\nStock: {stock}"),
    "admin_ledger_short": ("❌ {reference} is paid in full in your ledger, but stock is short: {shortages}. It stays "
                           "pending, payment verified. Restock with: stock <barcode> +N, then confirm {reference}"),
}


# A line names at most this many codes, amounts or orders and counts the rest, so it stays one line
# of an admin's alert whatever a message holds (one that named every code once ran to 3.37 million
# characters).
MAX_NAMED = 3


def listed(items: list[str], limit: int = MAX_NAMED) -> str:
    """`A, B, C and 4 more`: the first `limit` items named, the rest counted."""
    named = ", ".join(items[:limit])
    return named + (f" and {len(items) - limit} more" if len(items) > limit else "")


def proof_line(proof, currency: str) -> str:
    """One line per payment proof for admins: ✅ when nothing is flagged, ⚠ and the flags first."""
    what = " ".join(part for part in (proof.provider, proof.transaction_code) if part)
    if not what and proof.amount is None and not proof.flags:
        return {"receipt": "📎 receipt " + (proof.content_type or ""), "manual": "💵 recorded by the shop"}.get(
            proof.kind, f"💬 “{proof.raw_text[:80]}”")
    what = what or {"text": "the customer says", "manual": "recorded by the shop"}.get(proof.kind, proof.kind)
    amount = f", {proof.currency or currency} {proof.amount:,.2f}" if proof.amount is not None else ""
    ledger = " · in your ledger ✅" if getattr(proof, "verified_by", None) == "ledger" else ""
    if proof.flags:
        return f"⚠ {what}{amount}: " + "; ".join(flag.split(": ", 1)[-1] for flag in proof.flags) + ledger
    return f"✅ {what}{amount}" + (" = order total" if proof.amount is not None else "") + ledger


def proof_lines(proofs, currency: str) -> list[str]:
    return sorted((proof_line(p, currency) for p in proofs), key=lambda line: not line.startswith("⚠"))


def place(location: dict) -> str:
    """A shared location in words: `My shop, Moi Avenue, Nairobi`, else its coordinates."""
    words = [part for part in (location.get("label"), location.get("address")) if part]
    return ", ".join(dict.fromkeys(words)) or f"{location['latitude']}, {location['longitude']}"


def map_link(location: dict) -> str:
    return f"https://maps.google.com/?q={location['latitude']},{location['longitude']}"


def ad_name(referral: dict) -> str:
    """`“Oxford Shirt sale”`: the click-to-WhatsApp ad as its headline (else body, else link) names it."""
    what = referral.get("headline") or referral.get("body") or referral.get("sourceUrl") or "click-to-WhatsApp"
    return f"“{what[:100]}”"


def ad_line(referral: dict | None) -> str:
    """` (from your ad “Oxford Shirt sale”)` for a customer a click-to-WhatsApp ad brought; else empty."""
    return f" (from your ad {ad_name(referral)})" if referral else ""


def storefront_prefill(shop_name: str, reference: str) -> str:
    """The message the storefront's WhatsApp link prefills for the customer."""
    return f"Hello {shop_name}! I have placed order {reference} and would like to pay."


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return ""


def render(kind: str, variables: Mapping) -> str:
    """Word a queued message. An absent variable renders empty rather than failing a transaction."""
    values = _Blank(variables)
    if kind == "order_status":
        reason = variables.get("note")
        values["reason"] = f" Reason: {reason}" if reason else ""
        template = STATUS_TEXTS.get(variables.get("status", ""), "Hi {name}, order {reference} is now {status}.")
    else:
        template = TEXTS[kind]
    return template.format_map(values)


# --- admin answers: compact, one screen, the reference in each, the next step on a failure -------

ADMIN_TEXTS: dict[str, str] = {
    "unknown": "🤔 I don't know “{word}”.{suggestion} Send help for the commands.",
    "usage": "Usage: {usage}",
    "foreign": "{reference} is not one of our references (ours start with {prefix}-).",
    "confirmed": "✅ {reference} confirmed; {name} has been told.\nStock: {stock}",
    "already": "{reference} is already {status}; nothing changed.",
    "moved": "👍 {reference} is now {status}; {name} has been told.",
    "cancelled": "✖ {reference} cancelled{restocked}; {name} has been told.",
    "orders_none": "No {status} orders.",
    "orders": "{status} orders ({count}):\n{lines}",
    "stock": "{name} ({barcode}): {stock} in stock.",
    "stock_changed": "{name} ({barcode}): {before} → {stock}.",
    "replied": "📨 Sent to {phone}{order}{cut}. The bot stays quiet to them for {quiet}.",
    "paid": "💵 Payment {code}{amount} recorded on {reference} as verified. Next: confirm {reference}",
    "no_order": "❓ No order {reference}.{suggestion} Check it, or send: orders",
    "ledger_kept": "📒 Kept in your ledger: {entry}.{outcome}",
    "ledger_already": "📒 Already in your ledger: {entry}.{outcome}",
    "ledger_paid": " It paid {reference} ({name}), matched {how}: payment verified.{confirmed}",
    "ledger_unmatched": " No order matched it yet: it shows under ledger.",
    "ledger_none": "📒 No money without an order today.",
    "ledger_list": "📒 Money with no order today: {count}, {total}\n{lines}",
    "ledger_not_money": ("🤔 That is not a money-in text I can read. Forward the shop's own received SMS as it came "
                         "(M-PESA “You have received…”, Till, Paybill, Airtel, MTN MoMo, a bank credit alert)."),
}


def admin(kind: str, **variables) -> str:
    return ADMIN_TEXTS[kind].format_map(_Blank(variables))


def admin_error(exc: Exception) -> str:
    """A refused admin command, in words that say what to do next (one row per domain error)."""
    from core import errors as e

    rows = {
        e.NotFound: lambda x: f"❓ No {x.what} {x.key}. Check it, or send: orders",
        e.InvalidTransition: lambda x: (f"⛔ {x.reference} is {x.current}; it can't become {x.wanted}. "
                                        f"Next allowed: {', '.join(x.allowed) or 'nothing, it is final'}."),
        e.InsufficientStock: lambda x: (f"❌ Not enough stock for {x.reference}: "
                                        + "; ".join(f"{s.name} ({s.barcode}) need {s.wanted}, have {s.available}"
                                                    for s in x.shortages)
                                        + f". Restock with: stock <barcode> +N, then confirm {x.reference}"),
        e.StockBelowZero: lambda x: (f"⛔ {x.barcode} has {x.available}; {x.delta:+d} would go below 0. "
                                     f"Use stock {x.barcode} =N to set a level."),
        e.StockAboveCap: lambda x: (f"⛔ {x.barcode} has {x.available}; {x.delta:+d} would pass the cap of "
                                    f"{x.cap:,} units."),
        e.InvalidField: lambda x: f"⛔ {x.message}",
        e.NotAllowed: lambda x: f"⛔ {x.reason}",
    }
    for cls in type(exc).__mro__:
        if cls in rows:
            return rows[cls](exc)
    return f"⛔ {exc}"
