"""Order operations: create, confirm, change status, cancel. Each takes a unit of work and an actor."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.orm import selectinload

from core import alerts, order_writes, outbox, stock, views
from core.db import lock_name, one_of
from core.errors import (InvalidField, InvalidTransition, NotAllowed, NotFound, PriceMismatch, ReferenceConflict,
                         TooManyPendingOrders)
from core.models import Order, Product, new_id
from core.phones import to_e164
from core.references import canonical, new_reference
from core.status import ALLOWED, CUSTOMER_MAY_CANCEL, PaymentStatus, Status
from core.views import EventView, ItemView, OrderView


REFERENCE_DRAWS = 20  # a generated reference's 4-character tail can repeat within one second

# The statements of the hot paths, built once: values come as parameters at execution.
ORDERS, PRODUCTS = Order.__table__, Product.__table__
SELECT_BY_REFERENCE = select(ORDERS.c.id, ORDERS.c.content_hash).where(ORDERS.c.reference == bindparam("reference"))
SELECT_PRODUCTS = select(PRODUCTS.c.id, PRODUCTS.c.name, PRODUCTS.c.barcode, PRODUCTS.c.price,
                         PRODUCTS.c.discounted_price, PRODUCTS.c.image_urls).where(
    or_(one_of(PRODUCTS.c.id, "ids"), one_of(PRODUCTS.c.barcode, "barcodes")))


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
    account_id: str | None = None  # the signed-in buyer placing it (core/accounts.py)


@dataclass
class Outcome:
    """What an operation did: the order as the answer shows it, and whether anything changed."""

    order: OrderView
    changed: bool = True
    touched_products: list[stock.Level] = field(default_factory=list)


def load_options():
    """What an ORM order is read with: lines, history and proofs, loaded up front (no lazy I/O in async)."""
    return (selectinload(Order.items), selectinload(Order.history), selectinload(Order.payment_proofs))


async def get_order(uow, key: str, *, for_update: bool = False) -> Order:
    """The ORM order, by UUID or by reference in any of its written forms, always as stored now (the
    operations below change rows with SQL, which an object loaded earlier would not show)."""
    order = await _get(uow, key, canonical(key) or key, for_update)
    if order is None and (typed := await views.typed_reference(uow, key)):
        order = await _get(uow, typed, typed, for_update)
    if order is None:
        raise NotFound("order", key)
    return order


async def _get(uow, key: str, reference: str, for_update: bool) -> Order | None:
    query = (select(Order).where(or_(Order.id == key, Order.reference == reference)).options(*load_options())
             .execution_options(populate_existing=True))
    if for_update:
        query = query.with_for_update(of=Order)
    return (await uow.session.execute(query)).scalar_one_or_none()


async def find_order(uow, key: str) -> OrderView:
    """The order as the API shows it, by UUID or reference; NotFound otherwise."""
    order = await views.find(uow, key)
    if order is None:
        raise NotFound("order", key)
    return order


async def list_orders(uow, *, status: Status | None = None, search: str | None = None,
                      phone: str | None = None, account_id: str | None = None, limit: int = 20,
                      offset: int = 0) -> tuple[int, list[OrderView]]:
    """`phone` and `account_id` together: the orders of either (a buyer's own and its verified phone's)."""
    return await views.order_page(uow, status=status.value if status else None, search=search, phone=phone,
                                  account_id=account_id, limit=limit, offset=offset)


async def create_order(uow, new: NewOrder, actor: str = "storefront") -> Outcome:
    """A pending order priced from the catalog. The same reference and content again returns it."""
    settings, session, now = uow.settings, uow, uow.now()
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
        await lock_name(uow.conn, f"pending-orders:{phone}")  # checkouts of one number count in turn
    total = sum((line.subtotal for line in lines), Decimal("0.00"))
    item_count = sum(line.quantity for line in lines)
    try:
        if limit:
            await _check_pending_limit(session, phone, limit)
        _check_client_figures(new, lines, total, item_count)
    except (PriceMismatch, TooManyPendingOrders):
        # A retried checkout gets its order back even if prices changed since: it was placed already.
        if reference is not None and (existing := await _existing(session, reference)) is not None:
            return await _same_or_conflict(uow, existing, content_hash)
        raise

    order = OrderView(id=new_id(), reference=reference, customer_name=new.customer_name.strip(),
                      customer_phone=phone, customer_address=new.customer_address or "", notes=new.notes or "",
                      status=Status.PENDING.value, payment_status=PaymentStatus.UNPAID.value, total=total,
                      item_count=item_count, content_hash=content_hash, stock_taken=False, created_at=now,
                      updated_at=now, account_id=new.account_id, items=lines)
    # The reference's unique index decides, in the insert itself: no look-up first. A storefront's
    # reference already taken is a retried checkout (or another order); a generated one is drawn again.
    generated = reference is None
    for _ in range(REFERENCE_DRAWS if generated else 1):
        if generated:
            order.reference = new_reference(settings.order_reference_prefix, now)
        created = EventView("order_created", None, Status.PENDING.value, actor, "", uow.now())
        told = []
        if settings.admin_alert_new_orders:
            told = alerts.admin_messages(uow, "admin_new_order", key=f"order:{order.id}:created",
                                         variables=alerts.order_facts(uow, order))
        if await order_writes.create(uow, order, created, told):  # with its lines, history and alerts
            break
        if not generated:
            return await _same_or_conflict(uow, await _existing(session, order.reference), content_hash)
    else:
        raise RuntimeError("could not find a free order reference")  # 20 clashes in a row: 1.68M tails
    order.history.append(created)
    return Outcome(order)


async def confirm_order(uow, key: str, actor: str) -> Outcome:
    """Check and reduce stock for every item, all or none; status confirmed, payment verified."""
    order = await _locked(uow, key)
    if order.status == Status.CONFIRMED:
        return Outcome(await _whole(uow, order), changed=False)
    _check_allowed(order, Status.CONFIRMED)
    reported = order.payment_status != PaymentStatus.UNPAID  # whether it can have proofs to show
    # The order's change first (with the stock movements), the stock last: the products' rows, which
    # every confirm of them waits for, are locked only from that statement to the commit. A shortage
    # raises after the change was written, and the caller does not commit (or rolls back to its
    # savepoint): nothing of it stays.
    now = uow.now()
    await _move(uow, order, Status.CONFIRMED, actor, kind="order_confirmed", proofs=reported,
                movements=stock.movements(order, taken=True, reason=f"confirmed {order.reference}", actor=actor,
                                          now=now),
                stock_taken=True, payment_status=PaymentStatus.VERIFIED.value)
    touched = await stock.take_for_order(uow, order, now)
    await outbox.queue(uow, stock.low_stock_alerts(uow, touched, order, cause=f"confirm:{order.id}"))
    return Outcome(order, touched_products=touched)


async def cancel_order(uow, key: str, actor: str, reason: str = "", *, by_customer: bool = False) -> Outcome:
    """Cancel; what a confirm took goes back to stock, once (`touched_products` says where). A customer
    (`by_customer`) may cancel only a pending order: checked here, under the row lock, since an admin
    may confirm it meanwhile.

    Raises NotFound; NotAllowed (`details`: reference, status) for a customer's order past pending;
    InvalidTransition for a shipped or delivered order."""
    order = await _locked(uow, key)
    if order.status == Status.CANCELLED:
        return Outcome(await _whole(uow, order), changed=False)
    if by_customer and order.status not in CUSTOMER_MAY_CANCEL:
        raise NotAllowed(f"Order {order.reference} is {order.status}; only a pending order can be cancelled "
                         f"by the customer.", {"reference": order.reference, "status": order.status})
    _check_allowed(order, Status.CANCELLED)
    restock, now = order.stock_taken, uow.now()
    movements = stock.movements(order, taken=False, reason=f"cancelled {order.reference}", actor=actor,
                                now=now) if restock else []
    await _move(uow, order, Status.CANCELLED, actor, note=reason, kind="order_cancelled", movements=movements,
                **({"stock_taken": False} if restock else {}))
    # Last, as in confirm_order: the products' rows are locked only from here to the commit.
    touched = await stock.return_for_order(uow, order, now) if restock else []
    return Outcome(order, touched_products=touched)


async def change_status(uow, key: str, wanted: Status, actor: str, note: str = "") -> Outcome:
    """Any transition of the table; confirm and cancel go through their own operations."""
    if wanted == Status.CONFIRMED:
        return await confirm_order(uow, key, actor)
    if wanted == Status.CANCELLED:
        return await cancel_order(uow, key, actor, note)
    order = await _locked(uow, key)
    if order.status == wanted:
        return Outcome(await _whole(uow, order), changed=False)
    _check_allowed(order, wanted)
    await _move(uow, order, wanted, actor, note=note, kind=f"order_{wanted.value}")
    return Outcome(order)


async def add_note(uow, key: str, note: str, actor: str) -> Outcome:
    order = await _locked(uow, key)
    await order_writes.change(uow, order, status=order.status, messages=[],
                              event=EventView("note_added", None, None, actor, note or "", uow.now()))
    return Outcome(order)


async def set_delivery_location(uow, key: str, location: dict, actor: str) -> Outcome:
    """Where to deliver the order, as the customer shared it on WhatsApp: `location` holds latitude,
    longitude, address and label; the time it was shared is added. A history row names where."""
    order = await _locked(uow, key)
    now = uow.now()
    order.delivery_location = {**location, "at": now.isoformat().replace("+00:00", "Z")}
    await uow.execute(update(ORDERS).where(ORDERS.c.id == order.id)
                      .values(delivery_location=order.delivery_location, updated_at=now))
    order.updated_at = now
    place = location.get("address") or location.get("label") or f"{location['latitude']}, {location['longitude']}"
    await uow.execute(order_writes.INSERT_EVENT, {"order_id": order.id, "kind": "delivery_location_set",
                                                  "from_status": None, "to_status": None, "actor": actor,
                                                  "note": f"deliver to {place}", "at": now})
    return Outcome(await _whole(uow, order))


async def _locked(uow, key: str) -> OrderView:
    """The order and its lines, its row locked until the transaction ends. ORM changes still
    pending in the session are written first, so the SQL below never overtakes them."""
    await uow.flush()
    order = await views.find(uow, key, for_update=True, whole=False)
    if order is None:
        raise NotFound("order", key)
    return order


async def _whole(uow, order: OrderView, *, proofs: bool = True) -> OrderView:
    """The order with its history and proofs as they stand now, for the answer."""
    await views.attach(uow, [order], items=False, proofs=proofs)
    return order


def _check_allowed(order, wanted: Status) -> None:
    allowed = ALLOWED[Status(order.status)]
    if wanted not in allowed:
        raise InvalidTransition(order.reference, order.status, wanted.value, [s.value for s in allowed])


async def _move(uow, order: OrderView, to: Status, actor: str, *, kind: str, note: str = "", movements=(),
                proofs: bool = True, **changes) -> None:
    """The status write itself (with any other `changes` of the row), guarded by the status we read,
    plus its history row, the customer's message and the stock `movements` of the change
    (core/order_writes.py: one statement on PostgreSQL); the order then carries its history and
    (`proofs`) payment proofs as they stand, for the answer."""
    now = uow.now()
    # Statuses only move forward, so (order, status) names the event: one message per transition.
    told = outbox.message(uow, to=order.customer_phone, kind="order_status", order_id=order.id,
                          key=f"order:{order.id}:status:{to.value}",
                          variables={"name": order.customer_name, "reference": order.reference, "status": to.value,
                                     "note": note or "", "total": alerts.money(uow.settings, order.total)})
    event = EventView(kind, order.status, to.value, actor, note or "", now)
    written = await order_writes.change(uow, order, status=to.value, event=event, messages=[told],
                                        movements=movements, proofs=proofs, **changes)
    if not written:  # pragma: no cover - the row lock makes this unreachable; kept as a guard
        raise InvalidTransition(order.reference, "changed meanwhile", to.value, [])


async def _check_pending_limit(session, phone: str, limit: int) -> None:
    """MAX_PENDING_ORDERS_PER_PHONE: a number with that many orders awaiting payment gets no new one."""
    pending = await session.scalar(select(func.count()).select_from(Order)
                                   .where(Order.customer_phone == phone, Order.status == Status.PENDING.value))
    if pending >= limit:
        raise TooManyPendingOrders(phone, limit, pending)


async def _existing(session, reference: str):
    """(id, content_hash) of the order holding `reference`, or None."""
    return (await session.execute(SELECT_BY_REFERENCE, {"reference": reference})).first()


async def _same_or_conflict(uow, existing, content_hash: str) -> Outcome:
    order = await views.find(uow, existing.id)
    if existing.content_hash != content_hash:
        raise ReferenceConflict(order.reference)
    return Outcome(order, changed=False)


async def _price_lines(session, items: list[NewItem]) -> list[ItemView]:
    ids = [i.product_id for i in items if i.product_id]
    barcodes = [i.barcode for i in items if i.barcode and not i.product_id]
    products = (await session.execute(SELECT_PRODUCTS, {"ids": ids, "barcodes": barcodes})).all()
    by_id = {p.id: p for p in products}
    by_barcode = {p.barcode: p for p in products}
    lines = []
    for position, item in enumerate(items):
        product = by_id.get(item.product_id) if item.product_id else by_barcode.get(item.barcode)
        if product is None:
            field_name = "productId" if item.product_id else "barcode"
            key = item.product_id or item.barcode
            raise InvalidField(f"items[{position}].{field_name}", str(key), f"no product {key!r} in the catalog")
        lines.append(ItemView(id=None, product_id=product.id, product_name=product.name,
                              product_barcode=product.barcode,
                              product_image=product.image_urls[0] if product.image_urls else None,
                              quantity=item.quantity, unit_price=_selling_price(product),
                              selected_size=item.selected_size, selected_color=item.selected_color))
    return lines


def _selling_price(product) -> Decimal:
    """A discounted price of 0 (or none) is no discount (CONTRACT §2): the product sells at its price."""
    return product.discounted_price if product.discounted_price else product.price


def _check_client_figures(new: NewOrder, lines: list[ItemView], total: Decimal, item_count: int) -> None:
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


def _content_hash(new: NewOrder, phone: str, lines: list[ItemView]) -> str:
    content = {
        "name": new.customer_name.strip(), "phone": phone, "address": new.customer_address or "",
        "notes": new.notes or "",
        "items": [[l.product_id, l.quantity, l.selected_size, l.selected_color] for l in lines],
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()
