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
    "payment_after_cancel": ("Thank you. Order {reference} was cancelled before your payment report arrived; "
                             "the shop has been told and will get back to you."),
    "relay_ack": "Thanks for your message! Someone from {shop} will answer you here shortly.",
    "status_list": "Your orders:\n{lines}",
    "status_none": "We have no orders from this number yet. Send your order reference if you have one.",
    "cancel_done": "Order {reference} is cancelled, as you asked.",
    "cancel_refused": "Order {reference} is {status}, so it can't be cancelled here. Please write to us and we'll help.",
    "cancel_need_reference": "Which order should we cancel? Send: cancel <reference>, e.g. cancel {example}",
    "opted_out": "You won't get reminders from {shop} any more. Send START to turn them back on.",
    "opted_in": "Welcome back! You'll get reminders from {shop} again. Send STOP to turn them off.",
    "shop_message": "{text}",
    # admins
    "admin_new_order": "🛒 New order {reference}: {name} {phone}, {items}, total {total}.",
    "admin_payment_report": ("💰 Payment report for {reference}: {name} {phone}, total {total}. {evidence}\n"
                             "Reply: confirm {reference}"),
    "admin_payment_no_order": "💰 {phone} ({name}) reports a payment but has no order to attach it to. {evidence}",
    "admin_payment_after_cancel": ("⚠ {phone} ({name}) reports a payment for {reference}, which is cancelled. "
                                   "{evidence}"),
    "admin_relay": "💬 {name} {phone}{order}: {text}\nAnswer: reply {phone} <text>",
    "admin_customer_cancelled": "✖ {name} {phone} cancelled order {reference} from WhatsApp.",
    "admin_unmatched_reference": "❓ {phone} ({name}) mentioned {reference}, which {problem}.",
}


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
