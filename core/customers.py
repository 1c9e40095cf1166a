"""Customers as WhatsApp knows them: E.164 phone (and WaId), their window, opt-out and quiet time.

A turn of the bot reads its customer with one statement (`touch`, `get`) into a plain `Contact`
and writes what it changes with one more (`save`): no ORM session for the busiest path there is."""
from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from functools import lru_cache

from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from core import orders
from core.db import dialect_of, one_of
from core.models import Customer, Order
from core.status import Status

CUSTOMERS = Customer.__table__


@dataclass
class Contact:
    """One row of `customers`. `save` writes back `current_order_id`, `opted_out` and `quiet_until`."""

    phone: str                      # E.164
    wa_id: str | None
    profile_name: str | None
    current_order_id: str | None
    opted_out: bool
    last_inbound_at: datetime | None
    quiet_until: datetime | None
    referral: dict | None           # the click-to-WhatsApp ad that brought them
    created_at: datetime


_COLUMNS = [CUSTOMERS.c[f.name] for f in fields(Contact)]
_GET = select(*_COLUMNS).where(CUSTOMERS.c.phone == bindparam("phone"))
_SAVE = (update(CUSTOMERS).where(CUSTOMERS.c.phone == bindparam("key"))
         .values(current_order_id=bindparam("current_order_id"), opted_out=bindparam("opted_out"),
                 quiet_until=bindparam("quiet_until")))
# Those of a list of phones no prompt may reach now: they said stop, or the shop is talking to them.
_LEFT_ALONE = select(CUSTOMERS.c.phone).where(one_of(CUSTOMERS.c.phone, "phones"), or_(
    CUSTOMERS.c.opted_out, CUSTOMERS.c.quiet_until > bindparam("now", type_=CUSTOMERS.c.quiet_until.type)))


@lru_cache
def _touch_statement(dialect: str):
    """INSERT the customer, or on their phone UPDATE what was given (a NULL keeps what is there),
    RETURNING the row; on PostgreSQL the row stays locked until the transaction ends."""
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(CUSTOMERS)
    kept = {name: func.coalesce(insert.excluded[name], CUSTOMERS.c[name])
            for name in ("wa_id", "profile_name", "last_inbound_at", "referral")}
    return insert.on_conflict_do_update(index_elements=["phone"], set_=kept).returning(*_COLUMNS)


async def touch(uow, phone: str, *, wa_id: str | None = None, profile_name: str | None = None,
                inbound: bool = True, referral: dict | None = None) -> Contact:
    """The customer row for `phone`, created on first contact; an inbound message opens their window
    (`last_inbound_at`), and a WaId, a profile name or an ad's `referral` given replaces the one kept."""
    now = uow.now()
    row = (await uow.execute(_touch_statement(dialect_of(uow.conn)), {
        "phone": phone, "wa_id": wa_id or None, "profile_name": (profile_name or "")[:200] or None,
        "opted_out": False, "last_inbound_at": now if inbound else None, "referral": referral or None,
        "created_at": now})).one()
    return Contact(*row)


async def get(uow, phone: str) -> Contact | None:
    row = (await uow.execute(_GET, {"phone": phone})).first()
    return None if row is None else Contact(*row)


async def save(uow, customer: Contact) -> None:
    """Write back the order the customer talks about, their opt-out and their quiet time."""
    await uow.execute(_SAVE, {"key": customer.phone, "current_order_id": customer.current_order_id,
                              "opted_out": customer.opted_out, "quiet_until": customer.quiet_until})


def phones_of(customer: Contact) -> set[str]:
    """The numbers an order of this customer may carry: their E.164, and `+<WaId>` when Twilio gave one."""
    return {customer.phone} | ({f"+{customer.wa_id}"} if customer.wa_id else set())


async def orders_of(uow, customer: Contact, *, status: Status | None = None, limit: int = 10) -> list[Order]:
    query = (select(Order).where(Order.customer_phone.in_(phones_of(customer)))
             .options(*orders.load_options()).order_by(Order.created_at.desc(), Order.id.desc()).limit(limit))
    if status:
        query = query.where(Order.status == status.value)
    return list((await uow.session.execute(query)).scalars())


def owns(customer: Contact, order: Order) -> bool:
    return order.customer_phone in phones_of(customer)


def is_quiet(uow, customer: Contact) -> bool:
    return customer.quiet_until is not None and customer.quiet_until > uow.now()


async def left_alone(uow, phones) -> set[str]:
    """Those of `phones` no prompt (a reminder) may reach now: opted out, or in quiet time (`is_quiet`)."""
    return set((await uow.execute(_LEFT_ALONE, {"phones": sorted(set(phones)), "now": uow.now()})).scalars())
