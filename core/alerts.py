"""Messages to every admin in ADMIN_PHONES, queued through the outbox like any other."""
from __future__ import annotations

from core import outbox
from core.models import Order
from core.phones import try_e164


def admin_phones(settings) -> list[str]:
    return [p for p in (try_e164(raw, settings.default_region) for raw in settings.admin_phones) if p]


def order_facts(uow, order: Order) -> dict:
    """The variables every order message may use, money already in the shop's words."""
    return {"reference": order.reference, "name": order.customer_name, "phone": order.customer_phone,
            "total": money(uow.settings, order.total), "status": order.status, "payment_status": order.payment_status,
            "item_count": order.item_count,
            "items": ", ".join(f"{i.quantity}× {i.product_name}" for i in order.items)}


def money(settings, amount) -> str:
    return f"{settings.currency} {amount:,.2f}"


def admin_messages(uow, kind: str, *, key: str, variables: dict) -> list[dict]:
    """`kind` to each admin, as outbox rows (core/outbox.py `message`); `key` names the event, so a
    repeat of it queues nothing."""
    return [outbox.message(uow, to=phone, kind=kind, key=f"{key}:admin:{phone}", variables=variables)
            for phone in admin_phones(uow.settings)]


async def tell_admins(uow, kind: str, *, key: str, variables: dict) -> int:
    """Queue `kind` to each admin; `key` names the event, so a repeat of it queues nothing."""
    return await outbox.queue(uow, admin_messages(uow, kind, key=key, variables=variables))
