"""Confirm: stock reduced all-or-nothing, never below zero, whatever runs at once."""
import asyncio

from sqlalchemy import func, select

from core.models import OrderEvent, OutboundMessage, StockMovement
from tests.helpers import make_product, place_order


async def _written(uow, order_id: str) -> tuple[list[str], list[str], list[tuple[int, str]]]:
    """What the order's changes wrote: its history kinds, its messages' keys, its stock movements."""
    async with uow(readonly=True) as tx:
        kinds = (await tx.session.execute(select(OrderEvent.kind).where(OrderEvent.order_id == order_id)
                                          .order_by(OrderEvent.id))).scalars().all()
        keys = (await tx.session.execute(select(OutboundMessage.key).where(OutboundMessage.order_id == order_id)
                                         .order_by(OutboundMessage.id))).scalars().all()
        moved = (await tx.session.execute(select(StockMovement.delta, StockMovement.reason)
                                          .where(StockMovement.order_id == order_id)
                                          .order_by(StockMovement.id))).all()
    return list(kinds), list(keys), [tuple(m) for m in moved]


async def test_confirm_reduces_stock_and_marks_out_of_stock(client, admin):
    # The seed backend crashed here with "'Product' object has no attribute 'stock_quantity'".
    shirt = await make_product(client, admin, stock=2)
    order = await place_order(client, (shirt, 2))

    response = await client.post(f"/api/orders/{order['orderReference']}/confirm/", headers=admin)

    assert response.status == 200, await response.text()
    body = await response.json()
    assert body["status"] == "confirmed" and body["paymentStatus"] == "verified"
    product = await (await client.get(f"/api/products/{shirt['id']}/")).json()
    assert product["stockQuantity"] == 0 and product["inStock"] is False


async def test_confirm_that_fails_on_one_item_changes_no_stock(client, admin):
    plenty = await make_product(client, admin, stock=10)
    scarce = await make_product(client, admin, stock=1, name="Scarce Belt")
    order = await place_order(client, (plenty, 3), (scarce, 2))

    response = await client.post(f"/api/orders/{order['id']}/confirm/", headers=admin)

    assert response.status == 409
    problem = await response.json()
    assert response.content_type == "application/problem+json"
    assert [(s["name"], s["wanted"], s["available"]) for s in problem["shortages"]] == [("Scarce Belt", 2, 1)]
    for product, stock in ((plenty, 10), (scarce, 1)):
        fresh = await (await client.get(f"/api/products/{product['id']}/")).json()
        assert fresh["stockQuantity"] == stock
    fresh_order = await (await client.get(f"/api/orders/{order['id']}/", headers=admin)).json()
    assert fresh_order["status"] == "pending"


async def test_a_confirm_short_on_two_lines_names_both_and_writes_nothing(client, admin, uow):
    plenty = await make_product(client, admin, stock=10, name="Plenty")
    short = [await make_product(client, admin, stock=1, name=f"Scarce {n}") for n in (1, 2)]
    order = await place_order(client, (short[1], 2), (plenty, 3), (short[0], 3))

    response = await client.post(f"/api/orders/{order['id']}/confirm/", headers=admin)

    assert response.status == 409
    shortages = (await response.json())["shortages"]
    named = sorted((s["name"], s["wanted"], s["available"]) for s in shortages)
    assert named == [("Scarce 1", 3, 1), ("Scarce 2", 2, 1)]
    assert [s["productId"] for s in shortages] == sorted(s["productId"] for s in shortages)  # in product-id order
    for product, stock in ((plenty, 10), (short[0], 1), (short[1], 1)):
        assert (await (await client.get(f"/api/products/{product['id']}/")).json())["stockQuantity"] == stock
    kinds, keys, moved = await _written(uow, order["id"])
    assert kinds == ["order_created"] and not any(":status:" in key for key in keys) and moved == []


async def test_thirty_concurrent_confirms_for_ten_units_confirm_exactly_ten(client, admin):
    shirt = await make_product(client, admin, stock=10)
    orders = [await place_order(client, (shirt, 1)) for _ in range(30)]

    responses = await asyncio.gather(*(client.post(f"/api/orders/{o['id']}/confirm/", headers=admin) for o in orders))

    statuses = sorted(r.status for r in responses)
    assert statuses.count(200) == 10 and statuses.count(409) == 20, statuses
    product = await (await client.get(f"/api/products/{shirt['id']}/")).json()
    assert product["stockQuantity"] == 0
    page = await (await client.get("/api/orders/?status=confirmed&limit=100", headers=admin)).json()
    assert page["count"] == 10


async def test_the_same_order_confirmed_at_once_takes_stock_once(client, admin):
    shirt = await make_product(client, admin, stock=5)
    order = await place_order(client, (shirt, 2))

    responses = await asyncio.gather(*(client.post(f"/api/orders/{order['id']}/confirm/", headers=admin)
                                       for _ in range(8)))

    assert all(r.status == 200 for r in responses)
    product = await (await client.get(f"/api/products/{shirt['id']}/")).json()
    assert product["stockQuantity"] == 3
    detail = await (await client.get(f"/api/orders/{order['id']}/", headers=admin)).json()
    assert [h["to"] for h in detail["history"]] == ["pending", "confirmed"]


async def test_cancel_restocks_once_even_when_sent_twice_at_once(client, admin):
    shirt = await make_product(client, admin, stock=5)
    order = await place_order(client, (shirt, 4))
    await client.post(f"/api/orders/{order['id']}/confirm/", headers=admin)

    responses = await asyncio.gather(*(client.post(f"/api/orders/{order['id']}/cancel/", headers=admin)
                                       for _ in range(5)))

    assert all(r.status == 200 for r in responses)
    product = await (await client.get(f"/api/products/{shirt['id']}/")).json()
    assert product["stockQuantity"] == 5


async def test_confirms_of_orders_sharing_products_in_either_line_order_never_oversell(client, admin, uow):
    # Each confirm takes its products in product-id order, whatever the order of its lines: two
    # confirms never wait on each other in a cycle (PostgreSQL would abort one as a deadlock: a 500).
    cap, belt = await make_product(client, admin, stock=6), await make_product(client, admin, stock=6)
    orders = [await place_order(client, *(((cap, 1), (belt, 1)) if n % 2 else ((belt, 1), (cap, 1))))
              for n in range(20)]

    responses = await asyncio.gather(*(client.post(f"/api/orders/{o['id']}/confirm/", headers=admin) for o in orders))

    statuses = [r.status for r in responses]
    assert statuses.count(200) == 6 and statuses.count(409) == 14, statuses
    for product in (cap, belt):
        assert (await (await client.get(f"/api/products/{product['id']}/")).json())["stockQuantity"] == 0
    written = [await _written(uow, o["id"]) for o, r in zip(orders, responses) if r.status == 200]
    assert all(kinds == ["order_created", "order_confirmed"] and len(moved) == 2 for kinds, _, moved in written)
    async with uow(readonly=True) as tx:
        taken = select(func.sum(StockMovement.delta)).where(StockMovement.order_id.isnot(None))
        assert await tx.session.scalar(taken) == -12


async def test_the_same_order_confirmed_at_once_tells_the_customer_and_records_it_once(client, admin, uow):
    shirt = await make_product(client, admin, stock=5)
    order = await place_order(client, (shirt, 2))

    await asyncio.gather(*(client.post(f"/api/orders/{order['id']}/confirm/", headers=admin) for _ in range(8)))

    kinds, keys, moved = await _written(uow, order["id"])
    assert kinds == ["order_created", "order_confirmed"]
    assert [key for key in keys if ":status:" in key] == [f"order:{order['id']}:status:confirmed"]
    assert moved == [(-2, f"confirmed {order['orderReference']}")]


async def test_a_cancel_sent_twice_at_once_records_its_restock_once(client, admin, uow):
    shirt, cap = await make_product(client, admin, stock=5), await make_product(client, admin, stock=5)
    order = await place_order(client, (shirt, 4), (cap, 1))
    await client.post(f"/api/orders/{order['id']}/confirm/", headers=admin)

    await asyncio.gather(*(client.post(f"/api/orders/{order['id']}/cancel/", headers=admin) for _ in range(5)))

    kinds, keys, moved = await _written(uow, order["id"])
    assert kinds == ["order_created", "order_confirmed", "order_cancelled"]
    assert [key.rsplit(":", 1)[1] for key in keys if ":status:" in key] == ["confirmed", "cancelled"]
    reference = order["orderReference"]
    assert sorted(moved) == sorted([(-4, f"confirmed {reference}"), (-1, f"confirmed {reference}"),
                                    (4, f"cancelled {reference}"), (1, f"cancelled {reference}")])
