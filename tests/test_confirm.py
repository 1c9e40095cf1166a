"""Confirm: stock reduced all-or-nothing, never below zero, whatever runs at once."""
import asyncio

from tests.helpers import make_product, place_order


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
