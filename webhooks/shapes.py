"""The API's native answers, built as plain JSON-ready dicts straight from the read models.

The pydantic models in webhooks/schemas.py document these shapes (the OpenAPI document and the
TypeScript client are generated from them, and the schema tests check every answer against
them); building and validating a model per answer cost more than the rest of a list request,
so the answers are built here, key for key, and serialised by orjson.
"""
from __future__ import annotations

from decimal import Decimal

import orjson
from aiohttp import web

JSON_OPTIONS = orjson.OPT_UTC_Z  # UTC datetimes end in Z, as pydantic wrote them


def json_response(data, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=orjson.dumps(data, option=JSON_OPTIONS), status=status, headers=headers,
                        content_type="application/json")


def money(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


def order(o, **extra) -> dict:
    """OrderOut (and OrderCreated with `whatsapp_url`)."""
    answer = {
        "id": o.id,
        "orderReference": o.reference,
        "customerName": o.customer_name,
        "customerPhone": o.customer_phone,
        "customerAddress": o.customer_address,
        "notes": o.notes,
        "status": o.status,
        "paymentStatus": o.payment_status,
        "total": f"{o.total:.2f}",
        "itemCount": o.item_count,
        "items": [{
            "productId": i.product_id,
            "productName": i.product_name,
            "productBarcode": i.product_barcode,
            "productImage": i.product_image,
            "quantity": i.quantity,
            "unitPrice": f"{i.unit_price:.2f}",
            "selectedSize": i.selected_size,
            "selectedColor": i.selected_color,
            "subtotal": f"{i.subtotal:.2f}",
        } for i in o.items],
        "history": [{"from": h.from_status, "to": h.to_status, "at": h.at, "by": h.actor, "note": h.note}
                    for h in o.history],
        "paymentProofs": [{
            "kind": p.kind,
            "provider": p.provider,
            "transactionCode": p.transaction_code,
            "amount": money(p.amount),
            "currency": p.currency,
            "receivedAt": p.received_at,
            "mediaUrl": p.media_url,
            "flags": p.flags,
            "verifiedBy": p.verified_by,
        } for p in o.payment_proofs],
        "deliveryLocation": o.delivery_location,
        "createdAt": o.created_at,
        "updatedAt": o.updated_at,
    }
    if extra:
        answer.update({"whatsappUrl": extra["whatsapp_url"]})
    return answer


def page(count: int, limit: int, offset: int, rows) -> dict:
    """OrderPage."""
    return {"count": count, "limit": limit, "offset": offset, "results": [order(o) for o in rows]}
