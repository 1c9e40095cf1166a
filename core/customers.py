"""Customers as WhatsApp knows them: E.164 phone (and WaId), their window, opt-out and quiet time."""
from __future__ import annotations

from sqlalchemy import select

from core import orders
from core.db import insert_unless_taken
from core.models import Customer, Order
from core.status import Status


async def touch(uow, phone: str, *, wa_id: str | None = None, profile_name: str | None = None,
                inbound: bool = True) -> Customer:
    """The customer row for `phone`, created on first contact; an inbound message opens their window."""
    now = uow.now()
    await uow.execute(insert_unless_taken(uow.conn, Customer.__table__, ("phone",)),
                      {"phone": phone, "opted_out": False, "created_at": now})
    customer = await uow.session.get(Customer, phone, with_for_update=True, populate_existing=True)
    if wa_id:
        customer.wa_id = wa_id
    if profile_name:
        customer.profile_name = profile_name[:200]
    if inbound:
        customer.last_inbound_at = now
    return customer


def phones_of(customer: Customer) -> set[str]:
    """The numbers an order of this customer may carry: their E.164, and `+<WaId>` when Twilio gave one."""
    return {customer.phone} | ({f"+{customer.wa_id}"} if customer.wa_id else set())


async def orders_of(uow, customer: Customer, *, status: Status | None = None, limit: int = 10) -> list[Order]:
    query = (select(Order).where(Order.customer_phone.in_(phones_of(customer)))
             .options(*orders.load_options()).order_by(Order.created_at.desc(), Order.id.desc()).limit(limit))
    if status:
        query = query.where(Order.status == status.value)
    return list((await uow.session.execute(query)).scalars())


def owns(customer: Customer, order: Order) -> bool:
    return order.customer_phone in phones_of(customer)


def is_quiet(uow, customer: Customer) -> bool:
    return customer.quiet_until is not None and customer.quiet_until > uow.now()
