"""Every change of stock. The SQL that concurrency depends on lives here and nowhere else.

Each change is one conditional UPDATE per product (`... WHERE stock_quantity >= :q RETURNING ...`;
a product it does not return is short), applied in product-id order so two transactions never
wait on each other in a cycle. An order's UPDATEs go to the database together
(UnitOfWork.execute_each: one round trip on PostgreSQL, where the server still runs them one by
one, in that order). A short line does not stop the check: every short item is reported, and the
caller's transaction rolls back so no stock changes at all.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select, update

from core import alerts
from core.errors import InsufficientStock, NotFound, Shortage, StockAboveCap, StockBelowZero
from core.models import Product, StockMovement

# The most units of one product an admin may set or add up to, at every door (API, the WhatsApp
# `stock` command, catalog import): far above any shop's shelf, far below the column's 2**31.
# Returning a cancelled order's units is never refused, so a level may pass it by that much.
MAX_STOCK = 1_000_000

products = Product.__table__
LEVEL = (products.c.id, products.c.name, products.c.barcode, products.c.stock_quantity)
# Built once; the quantity and time come as parameters.
TAKE = (update(products).where(products.c.id == bindparam("b_id"), products.c.stock_quantity >= bindparam("b_quantity"))
        .values(stock_quantity=products.c.stock_quantity - bindparam("b_quantity"), updated_at=bindparam("b_now"))
        .returning(*LEVEL))
GIVE = (update(products).where(products.c.id == bindparam("b_id"))
        .values(stock_quantity=products.c.stock_quantity + bindparam("b_quantity"), updated_at=bindparam("b_now"))
        .returning(*LEVEL))
SELECT_LEVEL = select(*LEVEL).where(products.c.id == bindparam("b_id"))


@dataclass(slots=True)
class Level:
    """A product's stock as a change left it."""

    id: str
    name: str
    barcode: str
    stock_quantity: int


async def take_for_order(uow, order, now: datetime) -> list[Level]:
    """Reduce stock for every line of `order`, all or none. Returns the products touched, as they are now."""
    wanted = _per_product(order)
    ids = sorted(wanted)
    taken = (await uow.execute_each(TAKE, [{"b_id": product_id, "b_quantity": wanted[product_id], "b_now": now}
                                           for product_id in ids])).all()
    if len(taken) < len(ids):
        found = {row.id for row in taken}
        shortages = []
        for product_id in ids:
            if product_id not in found:
                product = (await uow.execute(SELECT_LEVEL, {"b_id": product_id})).first()
                shortages.append(Shortage(product_id, product.name, product.barcode, wanted[product_id],
                                          product.stock_quantity))
        raise InsufficientStock(order.reference, shortages)
    return [Level(*row) for row in taken]


async def return_for_order(uow, order, now: datetime) -> list[Level]:
    """Put back what a confirm took. The caller guards that this happens once per order."""
    given = _per_product(order)
    rows = await uow.execute_each(GIVE, [{"b_id": product_id, "b_quantity": given[product_id], "b_now": now}
                                         for product_id in sorted(given)])
    return [Level(*row) for row in rows]


def movements(order, *, taken: bool, reason: str, actor: str, now: datetime) -> list[dict]:
    """The stock movements of what `order`'s confirm takes (`taken`) or its cancel puts back, one per
    product: rows the order's change writes with it (core/order_writes.py)."""
    sign = -1 if taken else 1
    return [{"product_id": product_id, "delta": sign * quantity, "reason": reason, "actor": actor, "at": now}
            for product_id, quantity in sorted(_per_product(order).items())]


def _per_product(order) -> Counter:
    quantities = Counter()
    for item in order.items:
        quantities[item.product_id] += item.quantity
    return quantities


async def adjust(session, product_id: str, *, delta: int | None = None, set_to: int | None = None,
                 reason: str, actor: str, now: datetime) -> Product:
    """Add `delta` or set an absolute level, never below 0 nor above MAX_STOCK; records a movement.

    Raises NotFound, StockBelowZero, StockAboveCap.
    """
    product = await session.get(Product, product_id, with_for_update=True, populate_existing=True)
    if product is None:
        raise NotFound("product", product_id)
    if set_to is not None:
        if set_to < 0:
            raise StockBelowZero(product.id, product.barcode, product.stock_quantity, set_to - product.stock_quantity)
        delta = set_to - product.stock_quantity
    if delta == 0:
        return product
    if product.stock_quantity + delta > MAX_STOCK:
        raise StockAboveCap(product.id, product.barcode, product.stock_quantity, delta, MAX_STOCK)
    result = await session.execute(
        update(Product)
        .where(Product.id == product_id, Product.stock_quantity + delta >= 0)
        .values(stock_quantity=Product.stock_quantity + delta, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise StockBelowZero(product.id, product.barcode, product.stock_quantity, delta)
    session.add(StockMovement(product_id=product_id, delta=delta, reason=reason, actor=actor, at=now))
    (product,) = await _reload(session, [product_id])
    return product


async def _reload(session, product_ids: list[str]) -> list[Product]:
    rows = await session.execute(
        select(Product).where(Product.id.in_(product_ids)).execution_options(populate_existing=True)
    )
    return list(rows.scalars())


def low_stock_alerts(uow, levels: list[Level], order, cause: str) -> list[dict]:
    """After `order`'s confirm took stock: the admins' alerts (outbox rows) for each product that went
    from above the threshold to at or below it, once per crossing."""
    threshold, taken = uow.settings.low_stock_threshold, _per_product(order)
    messages = []
    for product in levels:
        if product.stock_quantity + taken[product.id] > threshold >= product.stock_quantity:
            messages += alerts.admin_messages(uow, "admin_low_stock", key=f"low-stock:{product.id}:{cause}", variables={
                "name": product.name, "barcode": product.barcode, "stock": product.stock_quantity,
                "threshold": threshold})
    return messages
