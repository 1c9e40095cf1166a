"""API_COMPAT=drf: answers in the shape the shop's Django-era storefront reads (CONTRACT §2).

One shaper for the whole API. A handler names its native answer and the same facts in the old
shape (`compat.order(o)`, `compat.page(count, rows)`, ...), each as a call not yet made; `respond`
builds and sends only the one the setting asks for. Nothing here decides anything, and problem
details never pass through here.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from core.models import Product
from core.views import OrderView
from webhooks import shapes

DRF = "drf"
TOTAL_COUNT = "X-Total-Count"


@dataclass
class Shape:
    """A body (and headers) in the Django REST framework shape."""

    body: Any
    headers: dict[str, str] = field(default_factory=dict)


def respond(call, native: Callable[[], Any], drf: Callable[[], Shape] | None = None,
            status: int = 200) -> web.Response:
    """The native answer, or its DRF shape when the shop runs with API_COMPAT=drf. Each is a
    callable returning a pydantic model, a list of them, or JSON-ready data (webhooks/shapes.py)."""
    if drf is not None and call.settings.api_compat == DRF:
        shape = drf()
        return shapes.json_response(shape.body, status, shape.headers)
    answer = native()
    if isinstance(answer, BaseModel):
        answer = answer.model_dump(mode="json", by_alias=True)
    elif isinstance(answer, list) and answer and isinstance(answer[0], BaseModel):
        answer = [m.model_dump(mode="json", by_alias=True) for m in answer]
    return shapes.json_response(answer, status)


# --- orders: snake_case, decimals as strings, as the DRF ModelSerializer wrote them ----------

def order(o: OrderView, **extra) -> Shape:
    return Shape({**_order(o), **extra})


def page(count: int, rows: list[OrderView]) -> Shape:
    """A bare array; the total goes in a header, as the storefront's list calls read it."""
    return Shape([_order(o) for o in rows], {TOTAL_COUNT: str(count)})


def confirmation(o: OrderView, changed: bool) -> Shape:
    message = (f"Order {o.reference} confirmed; stock updated." if changed
               else f"Order {o.reference} was already confirmed; stock left as it was.")
    return Shape({"success": True, "order": _order(o), "stock_updated": changed, "message": message})


def _order(o: OrderView) -> dict:
    return {
        "id": o.id,
        "order_reference": o.reference,
        "order_date": _time(o.created_at),
        "customer_name": o.customer_name,
        "customer_phone": o.customer_phone,
        "customer_address": o.customer_address,
        "status": o.status,
        "items": [{
            "id": i.id,
            "product": i.product_id,
            "product_name": i.product_name,
            "product_barcode": i.product_barcode,
            "product_image": i.product_image,
            "quantity": i.quantity,
            "unit_price": _money(i.unit_price),
            "selected_size": i.selected_size,
            "selected_color": i.selected_color,
            "subtotal": _money(i.subtotal),
        } for i in o.items],
        "total": _money(o.total),
        "item_count": o.item_count,
        "user": o.account_id,  # the signed-in buyer's account id; null for a guest, as that backend had it
        "created_at": _time(o.created_at),
        "updated_at": _time(o.updated_at),
    }


# --- products: that backend's camelCase (but its dates in snake_case), price and quantity as JSON numbers

def product(p: Product) -> Shape:
    return Shape(_product(p))


def products(rows: list[Product]) -> Shape:
    return Shape([_product(p) for p in rows], {TOTAL_COUNT: str(len(rows))})


def _product(p: Product) -> dict:
    return {
        "id": p.id,
        "name": p.name,
        "description": p.description,
        "barcode": p.barcode,
        "category": p.category,
        "subcategory": p.subcategory,
        "brand": p.brand,
        "price": _number(p.price),
        "discountedPrice": _number(p.discounted_price) if p.discounted_price else None,  # 0 is no discount
        "quantity": p.stock_quantity,
        "inStock": p.in_stock,
        "sizes": list(p.sizes),
        "colors": list(p.colors),
        "sizeQuantities": p.size_quantities,
        "minQuantity": p.min_quantity,
        "rating": _number(p.rating) if p.rating is not None else 0,
        "reviewCount": p.review_count or 0,
        "imagePaths": list(p.image_urls),
        "primaryImage": p.image_url,
        "created_at": _time(p.created_at),
        "updated_at": _time(p.updated_at),
    }


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


def _number(value: Decimal | None) -> int | float | None:
    """1500 for 1500.00, 1499.5 for 1499.50: the JSON number a JavaScript client gets either way."""
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


def _time(value: datetime) -> str:
    # DRF's DateTimeField: isoformat, with UTC written as Z
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text
