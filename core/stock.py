"""Every change of stock. The SQL that concurrency depends on lives here and nowhere else.

Each change is one conditional UPDATE per product (`... WHERE stock_quantity >= :q`) checked by
its row count, applied in product-id order so two transactions never wait on each other in a
cycle. A short line does not stop the check: every short item is reported, and the caller's
transaction rolls back so no stock changes at all.
"""
from __future__ import annotations

from collections import Counter
from datetime import datetime

from sqlalchemy import select, update

from core import alerts
from core.errors import InsufficientStock, NotFound, Shortage, StockBelowZero
from core.models import Order, Product, StockMovement


async def take_for_order(session, order: Order, actor: str, now: datetime) -> list[Product]:
    """Reduce stock for every line of `order`, all or none. Returns the products touched."""
    wanted = Counter()
    for item in order.items:
        wanted[item.product_id] += item.quantity
    shortages: list[Shortage] = []
    for product_id in sorted(wanted):
        quantity = wanted[product_id]
        result = await session.execute(
            update(Product)
            .where(Product.id == product_id, Product.stock_quantity >= quantity)
            .values(stock_quantity=Product.stock_quantity - quantity, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:
            product = await session.get(Product, product_id, populate_existing=True)
            shortages.append(
                Shortage(product_id, product.name, product.barcode, quantity, product.stock_quantity)
            )
            continue
        session.add(StockMovement(product_id=product_id, order_id=order.id, delta=-quantity,
                                  reason=f"confirmed {order.reference}", actor=actor, at=now))
    if shortages:
        raise InsufficientStock(order.reference, shortages)
    return await _reload(session, sorted(wanted))


async def return_for_order(session, order: Order, actor: str, now: datetime, reason: str) -> None:
    """Put back what a confirm took. The caller guards that this happens once per order."""
    given = Counter()
    for item in order.items:
        given[item.product_id] += item.quantity
    for product_id in sorted(given):
        await session.execute(
            update(Product)
            .where(Product.id == product_id)
            .values(stock_quantity=Product.stock_quantity + given[product_id], updated_at=now)
            .execution_options(synchronize_session=False)
        )
        session.add(StockMovement(product_id=product_id, order_id=order.id, delta=given[product_id],
                                  reason=reason, actor=actor, at=now))
    await _reload(session, sorted(given))


async def adjust(session, product_id: str, *, delta: int | None = None, set_to: int | None = None,
                 reason: str, actor: str, now: datetime) -> Product:
    """Add `delta` (never below 0) or set an absolute level; records a movement either way."""
    product = await session.get(Product, product_id, with_for_update=True, populate_existing=True)
    if product is None:
        raise NotFound("product", product_id)
    if set_to is not None:
        if set_to < 0:
            raise StockBelowZero(product.id, product.barcode, product.stock_quantity, set_to - product.stock_quantity)
        delta = set_to - product.stock_quantity
    if delta == 0:
        return product
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


async def warn_low(uow, products: list[Product], taken: dict[str, int], cause: str) -> None:
    """After a confirm: a product that went from above the threshold to at or below it, once per crossing."""
    threshold = uow.settings.low_stock_threshold
    for product in products:
        before = product.stock_quantity + taken.get(product.id, 0)
        if before > threshold >= product.stock_quantity:
            await alerts.tell_admins(uow, "admin_low_stock", key=f"low-stock:{product.id}:{cause}", variables={
                "name": product.name, "barcode": product.barcode, "stock": product.stock_quantity,
                "threshold": threshold})
