"""Read models: orders as the API and the bot show them, selected column by column (no ORM loading).

An `OrderView` has the attribute names of `core.models.Order` (and its lines, history and proofs
those of theirs), so every shaper and reply reads either alike. A page of orders is four queries
whatever its length: the orders, then the lines, history and proofs of all of them at once.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy import bindparam, func, or_, select

from core.db import one_of
from core.models import Order, OrderEvent, OrderItem, PaymentProof
from core.references import canonical

orders_t, items_t, history_t, proofs_t = (Order.__table__, OrderItem.__table__, OrderEvent.__table__,
                                          PaymentProof.__table__)
ORDER_COLUMNS = (orders_t.c.id, orders_t.c.reference, orders_t.c.customer_name, orders_t.c.customer_phone,
                 orders_t.c.customer_address, orders_t.c.notes, orders_t.c.status, orders_t.c.payment_status,
                 orders_t.c.total, orders_t.c.item_count, orders_t.c.content_hash, orders_t.c.stock_taken,
                 orders_t.c.created_at, orders_t.c.updated_at)
ITEM_COLUMNS = (items_t.c.id, items_t.c.order_id, items_t.c.product_id, items_t.c.product_name,
                items_t.c.product_barcode, items_t.c.product_image, items_t.c.quantity, items_t.c.unit_price,
                items_t.c.selected_size, items_t.c.selected_color)
HISTORY_COLUMNS = (history_t.c.order_id, history_t.c.kind, history_t.c.from_status, history_t.c.to_status,
                   history_t.c.actor, history_t.c.note, history_t.c.at)
PROOF_COLUMNS = (proofs_t.c.order_id, proofs_t.c.kind, proofs_t.c.provider, proofs_t.c.transaction_code,
                 proofs_t.c.amount, proofs_t.c.currency, proofs_t.c.received_at, proofs_t.c.media_url,
                 proofs_t.c.flags)


@dataclass(slots=True)
class ItemView:
    id: int | None
    product_id: str
    product_name: str
    product_barcode: str
    product_image: str | None
    quantity: int
    unit_price: Decimal
    selected_size: str | None
    selected_color: str | None

    @property
    def subtotal(self) -> Decimal:
        return self.unit_price * self.quantity


@dataclass(slots=True)
class EventView:
    kind: str
    from_status: str | None
    to_status: str | None
    actor: str
    note: str
    at: datetime


@dataclass(slots=True)
class ProofView:
    kind: str
    provider: str | None
    transaction_code: str | None
    amount: Decimal | None
    currency: str | None
    received_at: datetime
    media_url: str | None
    flags: list


@dataclass(slots=True)
class OrderView:
    id: str
    reference: str
    customer_name: str
    customer_phone: str
    customer_address: str
    notes: str
    status: str
    payment_status: str
    total: Decimal
    item_count: int
    content_hash: str
    stock_taken: bool
    created_at: datetime
    updated_at: datetime
    items: list[ItemView] = field(default_factory=list)
    history: list[EventView] = field(default_factory=list)
    payment_proofs: list[ProofView] = field(default_factory=list)


def order_from_row(row) -> OrderView:
    return OrderView(*row)


# Built once; keys and ids come as parameters. An order comes with its lines in one query.
BY_KEY = (select(*ORDER_COLUMNS, *ITEM_COLUMNS)
          .select_from(orders_t.outerjoin(items_t, items_t.c.order_id == orders_t.c.id))
          .where(or_(orders_t.c.id == bindparam("key"), orders_t.c.reference == bindparam("reference")))
          .order_by(items_t.c.position))
BY_KEY_LOCKED = BY_KEY.with_for_update(of=orders_t)
ITEMS_OF = (select(*ITEM_COLUMNS).where(one_of(items_t.c.order_id, "ids"))
            .order_by(items_t.c.order_id, items_t.c.position))
HISTORY_OF = (select(*HISTORY_COLUMNS).where(one_of(history_t.c.order_id, "ids"))
              .order_by(history_t.c.id))
PROOFS_OF = (select(*PROOF_COLUMNS).where(one_of(proofs_t.c.order_id, "ids"))
             .order_by(proofs_t.c.id))


async def find(uow, key: str, *, for_update: bool = False, whole: bool = True) -> OrderView | None:
    """The order `key` (its UUID, or its reference in any written form) names, with its lines (and,
    when `whole`, its history and proofs), or None. `for_update` locks the order's row until the
    transaction ends (PostgreSQL; SQLite's writers are serial already)."""
    rows = (await uow.execute(BY_KEY_LOCKED if for_update else BY_KEY,
                              {"key": key, "reference": canonical(key) or key})).all()
    if not rows:
        return None
    width = len(ORDER_COLUMNS)
    order = order_from_row(rows[0][:width])
    order.items = [ItemView(row[width], *row[width + 2:]) for row in rows if row[width] is not None]
    await attach(uow, [order], items=False, history=whole, proofs=whole)
    return order


async def attach(uow, views: list[OrderView], *, items: bool = True, history: bool = True,
                 proofs: bool = True) -> None:
    """Fill in the lines, history and proofs of `views`: one query each for all of them."""
    if not views:
        return
    by_id = {view.id: view for view in views}
    ids = {"ids": list(by_id)}
    session = uow
    if items:
        for row in (await session.execute(ITEMS_OF, ids)).all():
            by_id[row.order_id].items.append(ItemView(row.id, *row[2:]))
    if history:
        for row in (await session.execute(HISTORY_OF, ids)).all():
            by_id[row.order_id].history.append(EventView(*row[1:]))
    if proofs:
        for row in (await session.execute(PROOFS_OF, ids)).all():
            by_id[row.order_id].payment_proofs.append(ProofView(*row[1:]))


async def order_page(uow, *, status: str | None = None, search: str | None = None, phone: str | None = None,
                     limit: int = 20, offset: int = 0) -> tuple[int, list[OrderView]]:
    """(how many orders match, the page of them newest first, whole)."""
    where = []
    if status:
        where.append(orders_t.c.status == status)
    if phone:
        where.append(orders_t.c.customer_phone == phone)
    if search:
        term = search.strip().lower()
        where.append(or_(*(func.lower(column).contains(term, autoescape=True)
                           for column in (orders_t.c.reference, orders_t.c.customer_name, orders_t.c.customer_phone))))
    count = await uow.session.scalar(select(func.count()).select_from(orders_t).where(*where))
    rows = await uow.session.execute(
        select(*ORDER_COLUMNS).where(*where)
        .order_by(orders_t.c.created_at.desc(), orders_t.c.id.desc()).limit(limit).offset(offset))
    views = [order_from_row(row) for row in rows.all()]
    await attach(uow, views)
    return count, views
