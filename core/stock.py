"""Every change of stock. The SQL that concurrency depends on lives here and nowhere else.

An order's confirm takes its stock and its cancel puts it back as its stock movements (one row per
product, in product-id order, the delta signed): each is one guarded UPDATE of the product
(`... SET stock_quantity = stock_quantity + delta WHERE stock_quantity + delta >= 0 RETURNING ...`;
a product it does not return is short), in product-id order so two transactions never wait on each
other in a cycle. On SQLite they run one by one; on PostgreSQL they are a sub-statement of the
order's change (`applied`, in core/order_writes.py's one statement), where the products' rows are
locked in that order first. A short line does not stop the check: every short item is reported,
and the caller's transaction rolls back so no stock changes at all.
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
# Built once; the values come as parameters.
MOVE = (update(products).where(products.c.id == bindparam("b_id"),
                               products.c.stock_quantity + bindparam("b_delta") >= 0)
        .values(stock_quantity=products.c.stock_quantity + bindparam("b_delta"), updated_at=bindparam("b_now"))
        .returning(*LEVEL))
SELECT_LEVEL = select(*LEVEL).where(products.c.id == bindparam("b_id"))


@dataclass(slots=True)
class Level:
    """A product's stock as a change left it."""

    id: str
    name: str
    barcode: str
    stock_quantity: int


def movements(order, *, taken: bool, reason: str, actor: str, now: datetime) -> list[dict]:
    """The stock movements of what `order`'s confirm takes (`taken`) or its cancel puts back, one per
    product in product-id order: the order's change writes them and applies them to the products
    (core/order_writes.py)."""
    sign = -1 if taken else 1
    return [{"product_id": product_id, "delta": sign * quantity, "reason": reason, "actor": actor, "at": now}
            for product_id, quantity in sorted(_per_product(order).items())]


async def apply(uow, reference: str, moves: list[dict]) -> list[Level]:
    """Change each product's stock by its movement's delta, all or none (rows of `movements`, for the
    order `reference`); the levels they leave, in product-id order. Raises InsufficientStock."""
    levels = []
    for move in moves:
        levels += [Level(*row) for row in await uow.execute(MOVE, {"b_id": move["product_id"], "b_delta": move["delta"],
                                                                   "b_now": move["at"]})]
    return await all_applied(uow, reference, moves, levels)


async def all_applied(uow, reference: str, moves: list[dict], levels: list[Level]) -> list[Level]:
    """`levels` when every movement of `moves` changed its product; otherwise InsufficientStock naming
    every product short, as it stands now. (Putting stock back is never short.)"""
    if len(levels) == len(moves):
        return levels
    changed = {level.id for level in levels}
    shortages = []
    for move in moves:
        if move["product_id"] not in changed:
            product = (await uow.execute(SELECT_LEVEL, {"b_id": move["product_id"]})).first()
            shortages.append(Shortage(product.id, product.name, product.barcode, -move["delta"],
                                      product.stock_quantity))
    raise InsufficientStock(reference, shortages)


def applied(moves, happened):
    """PostgreSQL: `apply` as a sub-statement (a CTE) of the statement that writes the movements
    `moves` (a FROM item of product_id, delta, at), if `happened`: the products' rows locked in id order,
    then each changed by its delta unless that would take it below zero; returns their levels."""
    locked = (select(products.c.id).where(products.c.id.in_(select(moves.c.product_id)), happened)
              .order_by(products.c.id).with_for_update().cte("locked").prefix_with("MATERIALIZED"))
    return (update(products)
            .where(products.c.id == moves.c.product_id, products.c.id.in_(select(locked.c.id)),
                   products.c.stock_quantity + moves.c.delta >= 0)
            .values(stock_quantity=products.c.stock_quantity + moves.c.delta, updated_at=moves.c.at)
            .returning(*LEVEL).cte("stock"))


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
