"""Order operations: create, confirm, change status, cancel. Each takes a unit of work and an actor."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from core import alerts, outbox, stock
from core.db import lock_name
from core.errors import (InvalidField, InvalidTransition, NotFound, PriceMismatch, ReferenceConflict,
                         TooManyPendingOrders)
from core.models import Order, OrderEvent, OrderItem, Product
from core.phones import to_e164
from core.references import canonical, new_reference
from core.status import ALLOWED, PaymentStatus, Status


@dataclass
class NewItem:
    quantity: int
    product_id: str | None = None
    barcode: str | None = None
    unit_price: Decimal | None = None
    selected_size: str | None = None
    selected_color: str | None = None


@dataclass
class NewOrder:
    customer_name: str
    customer_phone: str
    items: list[NewItem]
    customer_address: str = ""
    notes: str = ""
    reference: str | None = None
    total: Decimal | None = None
    item_count: int | None = None


@dataclass
class Outcome:
    """What an operation did: the order, and whether anything changed (False for a no-op)."""

    order: Order
    changed: bool = True
    touched_products: list[Product] = field(default_factory=list)


def load_options():
    """What an order is read with: lines, history and proofs, loaded up front (no lazy I/O in async)."""
    return (selectinload(Order.items), selectinload(Order.history), selectinload(Order.payment_proofs))


async def get_order(uow, key: str, *, for_update: bool = False) -> Order:
    """By UUID or by reference in any of its written forms."""
    reference = canonical(key) or key
    query = select(Order).where(or_(Order.id == key, Order.reference == reference)).options(*load_options())
    if for_update:
        query = query.with_for_update(of=Order).execution_options(populate_existing=True)
    order = (await uow.session.execute(query)).scalar_one_or_none()
    if order is None:
        raise NotFound("order", key)
    return order


async def list_orders(uow, *, status: Status | None = None, search: str | None = None,
                      phone: str | None = None, limit: int = 20, offset: int = 0) -> tuple[int, list[Order]]:
    where = []
    if status:
        where.append(Order.status == status.value)
    if phone:
        where.append(Order.customer_phone == phone)
    if search:
        term = search.strip().lower()
        where.append(or_(*(func.lower(column).contains(term, autoescape=True)
                           for column in (Order.reference, Order.customer_name, Order.customer_phone))))
    count = await uow.session.scalar(select(func.count()).select_from(Order).where(*where))
    rows = await uow.session.execute(
        select(Order).where(*where).options(*load_options())
        .order_by(Order.created_at.desc(), Order.id.desc()).limit(limit).offset(offset)
    )
    return count, list(rows.scalars())


async def create_order(uow, new: NewOrder, actor: str = "storefront") -> Outcome:
    """A pending order priced from the catalog. The same reference and content again returns it."""
    settings, session, now = uow.settings, uow.session, uow.now()
    phone = to_e164(new.customer_phone, settings.default_region)
    reference = None
    if new.reference:
        reference = canonical(new.reference)
        if reference is None:
            raise InvalidField("orderReference", new.reference,
                               "must look like PREFIX-1738704998-X7K2 (or the base-36 form PREFIX-MGX2K7Q1-A3F9)")

    lines = await _price_lines(session, new.items)
    content_hash = _content_hash(new, phone, lines)
    limit = settings.max_pending_orders_per_phone
    if limit:
        await lock_name(session, f"pending-orders:{phone}")  # checkouts of one number count in turn
    if reference is None:
        reference = await _unused_reference(session, settings.order_reference_prefix, now)
    else:
        # A retried checkout gets its order back even if prices changed since: it was placed already.
        existing = await _by_reference(session, reference)
        if existing is not None:
            return _same_or_conflict(existing, content_hash)
    if limit:
        await _check_pending_limit(session, phone, limit)
    total = sum((line.unit_price * line.quantity for line in lines), Decimal("0.00"))
    item_count = sum(line.quantity for line in lines)
    _check_client_figures(new, lines, total, item_count)

    order = Order(reference=reference, customer_name=new.customer_name.strip(), customer_phone=phone,
                  customer_address=new.customer_address or "", notes=new.notes or "",
                  status=Status.PENDING.value, payment_status=PaymentStatus.UNPAID.value, total=total,
                  item_count=item_count, content_hash=content_hash, created_at=now, updated_at=now,
                  items=lines, payment_proofs=[])
    order.history.append(OrderEvent(kind="order_created", to_status=Status.PENDING.value, actor=actor, at=now))
    try:
        async with session.begin_nested():
            session.add(order)
    except IntegrityError:
        # Another request created the same reference a moment ago: answer as if we had seen it.
        existing = await _by_reference(session, reference)
        if existing is None:
            raise
        return _same_or_conflict(existing, content_hash)
    if settings.admin_alert_new_orders:
        await alerts.tell_admins(uow, "admin_new_order", key=f"order:{order.id}:created",
                                 variables=alerts.order_facts(uow, order))
    return Outcome(order)


async def confirm_order(uow, key: str, actor: str) -> Outcome:
    """Check and reduce stock for every item, all or none; status confirmed, payment verified."""
    order = await get_order(uow, key, for_update=True)
    if order.status == Status.CONFIRMED:
        return Outcome(order, changed=False)
    _check_allowed(order, Status.CONFIRMED)
    now = uow.now()
    touched = await stock.take_for_order(uow.session, order, actor, now)
    await stock.warn_low(uow, touched, _quantities(order), cause=f"confirm:{order.id}")
    order.stock_taken = True
    order.payment_status = PaymentStatus.VERIFIED.value
    await _move(uow, order, Status.CONFIRMED, actor, kind="order_confirmed")
    return Outcome(order, touched_products=touched)


async def cancel_order(uow, key: str, actor: str, reason: str = "") -> Outcome:
    """Cancel; what a confirm took goes back to stock, once."""
    order = await get_order(uow, key, for_update=True)
    if order.status == Status.CANCELLED:
        return Outcome(order, changed=False)
    _check_allowed(order, Status.CANCELLED)
    if order.stock_taken:
        await stock.return_for_order(uow.session, order, actor, uow.now(), reason=f"cancelled {order.reference}")
        order.stock_taken = False
    await _move(uow, order, Status.CANCELLED, actor, note=reason, kind="order_cancelled")
    return Outcome(order)


async def change_status(uow, key: str, wanted: Status, actor: str, note: str = "") -> Outcome:
    """Any transition of the table; confirm and cancel go through their own operations."""
    if wanted == Status.CONFIRMED:
        return await confirm_order(uow, key, actor)
    if wanted == Status.CANCELLED:
        return await cancel_order(uow, key, actor, note)
    order = await get_order(uow, key, for_update=True)
    if order.status == wanted:
        return Outcome(order, changed=False)
    _check_allowed(order, wanted)
    await _move(uow, order, wanted, actor, note=note, kind=f"order_{wanted.value}")
    return Outcome(order)


async def add_note(uow, key: str, note: str, actor: str) -> Outcome:
    order = await get_order(uow, key, for_update=True)
    order.history.append(OrderEvent(kind="note_added", actor=actor, note=note, at=uow.now()))
    order.updated_at = uow.now()
    await uow.session.flush()
    return Outcome(order)


def _quantities(order: Order) -> dict[str, int]:
    taken: dict[str, int] = {}
    for item in order.items:
        taken[item.product_id] = taken.get(item.product_id, 0) + item.quantity
    return taken


def _check_allowed(order: Order, wanted: Status) -> None:
    allowed = ALLOWED[Status(order.status)]
    if wanted not in allowed:
        raise InvalidTransition(order.reference, order.status, wanted.value, [s.value for s in allowed])


async def _move(uow, order: Order, to: Status, actor: str, *, kind: str, note: str = "") -> None:
    """The status write itself, guarded by the status we read, plus its history row."""
    now, before = uow.now(), order.status
    result = await uow.session.execute(
        update(Order).where(Order.id == order.id, Order.status == before)
        .values(status=to.value, updated_at=now).execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # pragma: no cover - the row lock makes this unreachable; kept as a guard
        raise InvalidTransition(order.reference, "changed meanwhile", to.value, [])
    order.status, order.updated_at = to.value, now
    order.history.append(OrderEvent(kind=kind, from_status=before, to_status=to.value, actor=actor,
                                    note=note or "", at=now))
    # Statuses only move forward, so (order, status) names the event: one message per transition.
    await outbox.enqueue(uow, to=order.customer_phone, kind="order_status", order_id=order.id,
                         key=f"order:{order.id}:status:{to.value}",
                         variables={"name": order.customer_name, "reference": order.reference,
                                    "status": to.value, "note": note or "",
                                    "total": alerts.money(uow.settings, order.total)})
    await uow.session.flush()


async def _check_pending_limit(session, phone: str, limit: int) -> None:
    """MAX_PENDING_ORDERS_PER_PHONE: a number with that many orders awaiting payment gets no new one."""
    pending = await session.scalar(select(func.count()).select_from(Order)
                                   .where(Order.customer_phone == phone, Order.status == Status.PENDING.value))
    if pending >= limit:
        raise TooManyPendingOrders(phone, limit, pending)


async def _unused_reference(session, prefix: str, now) -> str:
    """A generated reference nobody holds yet (the 4-character tail can repeat within one second)."""
    for _ in range(20):
        reference = new_reference(prefix, now)
        if await session.scalar(select(Order.id).where(Order.reference == reference)) is None:
            return reference
    raise RuntimeError("could not find a free order reference")  # 20 clashes in a row: 1.68M tails


async def _by_reference(session, reference: str) -> Order | None:
    rows = await session.execute(select(Order).where(Order.reference == reference).options(*load_options()))
    return rows.scalar_one_or_none()


def _same_or_conflict(existing: Order, content_hash: str) -> Outcome:
    if existing.content_hash != content_hash:
        raise ReferenceConflict(existing.reference)
    return Outcome(existing, changed=False)


async def _price_lines(session, items: list[NewItem]) -> list[OrderItem]:
    ids = {i.product_id for i in items if i.product_id}
    barcodes = {i.barcode for i in items if i.barcode and not i.product_id}
    rows = await session.execute(select(Product).where(or_(Product.id.in_(ids), Product.barcode.in_(barcodes))))
    products = list(rows.scalars())
    by_id = {p.id: p for p in products}
    by_barcode = {p.barcode: p for p in products}
    lines = []
    for position, item in enumerate(items):
        product = by_id.get(item.product_id) if item.product_id else by_barcode.get(item.barcode)
        if product is None:
            field_name = "productId" if item.product_id else "barcode"
            key = item.product_id or item.barcode
            raise InvalidField(f"items[{position}].{field_name}", str(key), f"no product {key!r} in the catalog")
        lines.append(OrderItem(position=position, product_id=product.id, product_name=product.name,
                               product_barcode=product.barcode, product_image=product.image_url,
                               quantity=item.quantity, unit_price=_selling_price(product),
                               selected_size=item.selected_size, selected_color=item.selected_color))
    return lines


def _selling_price(product: Product) -> Decimal:
    return product.discounted_price if product.discounted_price is not None else product.price


def _check_client_figures(new: NewOrder, lines: list[OrderItem], total: Decimal, item_count: int) -> None:
    reasons = []
    for position, (item, line) in enumerate(zip(new.items, lines)):
        if item.unit_price is not None and Decimal(item.unit_price) != line.unit_price:
            reasons.append(f"items[{position}] {line.product_name} costs {line.unit_price}, not {item.unit_price}")
    if new.total is not None and Decimal(new.total) != total:
        reasons.append(f"the total is {total}, not {new.total}")
    if new.item_count is not None and new.item_count != item_count:
        reasons.append(f"the item count is {item_count}, not {new.item_count}")
    if reasons:
        prices = {line.product_id: line.unit_price for line in lines}
        raise PriceMismatch(reasons, prices, total, item_count)


def _content_hash(new: NewOrder, phone: str, lines: list[OrderItem]) -> str:
    content = {
        "name": new.customer_name.strip(), "phone": phone, "address": new.customer_address or "",
        "notes": new.notes or "",
        "items": [[l.product_id, l.quantity, l.selected_size, l.selected_color] for l in lines],
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()
