"""Hostile and clumsy input (CONTRACT §2): always a 4xx problem+json a person can act on, never a 5xx,
and nothing half-written.

Everything refused here is refused before the database is reached, so these run on SQLite alone;
text that the two databases store differently is in test_stored_text.py, on both.
"""
import json

import pytest

from tests.databases import sqlite_only
from tests.helpers import make_product, order_body, place_order
from tests.problem_details import field_messages, item_with, order_count, problem_of, snapshot

pytestmark = sqlite_only

LONG = "x" * 10_000


async def post_raw(client, path, raw: bytes, headers=None, method="POST"):
    return await client.request(method, path, data=raw, headers={"Content-Type": "application/json", **(headers or {})})


RAW_BODIES = {
    "truncated JSON": b'{"customerName": "Amina", "items": [',
    "trailing comma": b'{"customerName": "Amina",}',
    "single quotes": b"{'customerName': 'Amina'}",
    "not UTF-8": b'{"customerName": "Am\xffina"}',
    "a JSON array": b'[{"customerName": "Amina"}]',
    "a JSON string": b'"one shirt please"',
    "a JSON number": b"42",
    "JSON null": b"null",
    "a 5000-digit number": b'{"itemCount": ' + b"9" * 5000 + b"}",
    "nesting 100000 deep": b'{"notes": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    "nesting 950 deep": b'{"notes": ' + b"[" * 950 + b"]" * 950 + b"}",
}


@pytest.fixture
async def shop(client, admin) -> dict:
    """A product and an order to aim bad requests at."""
    shirt = await make_product(client, admin, stock=5)
    order = await place_order(client, (shirt, 1))
    return {"shirt": shirt, "order": order}


WRITE_ROUTES = {
    "create order": ("POST", "/api/orders/"),
    "patch order": ("PATCH", "/api/orders/{order}/"),
    "create product": ("POST", "/api/products/"),
    "patch product": ("PATCH", "/api/products/{product}/"),
    "adjust stock": ("POST", "/api/products/{product}/stock/"),
}


@pytest.mark.parametrize("raw", RAW_BODIES.values(), ids=RAW_BODIES.keys())
@pytest.mark.parametrize("route", WRITE_ROUTES.values(), ids=WRITE_ROUTES.keys())
async def test_a_body_that_is_not_a_usable_json_object_is_400_and_writes_nothing(client, admin, shop, raw, route):
    method, path = route[0], route[1].format(order=shop["order"]["id"], product=shop["shirt"]["id"])
    before = await snapshot(client, admin)

    response = await post_raw(client, path, raw, admin, method)

    await problem_of(response, 400)
    assert await snapshot(client, admin) == before


async def test_malformed_json_says_so(client):
    response = await post_raw(client, "/api/orders/", b'{"customerName": "Amina",}')

    problem = await problem_of(response, 400)
    assert "JSON" in problem["detail"]


async def test_a_json_array_is_refused_as_not_an_object(client):
    response = await post_raw(client, "/api/orders/", b'[{"customerName": "Amina"}]')

    problem = await problem_of(response, 400)
    assert "object" in problem["detail"]


@pytest.mark.parametrize("raw", [b"{}", b""], ids=["empty object", "empty body"])
async def test_an_empty_order_lists_every_missing_field(client, raw):
    response = await post_raw(client, "/api/orders/", raw)

    problem = await problem_of(response, 400)
    assert {"customerName", "customerPhone", "items"} <= field_messages(problem).keys()


@pytest.mark.parametrize("field,value", [
    ("customerName", 42), ("customerName", ["Amina"]), ("customerPhone", 712345678), ("items", "a shirt"),
    ("items", {"productId": "x", "quantity": 1}), ("total", "lots"), ("total", [3000]),
    ("notes", {"text": "hi"}), ("itemCount", "two"), ("orderReference", 1738704998)])
async def test_a_wrong_type_on_an_order_is_400_naming_the_field(client, admin, shop, field, value):
    before = await order_count(client, admin)

    response = await client.post("/api/orders/", json=order_body((shop["shirt"], 1), **{field: value}))

    problem = await problem_of(response, 400)
    assert field in field_messages(problem), problem
    assert await order_count(client, admin) == before


@pytest.mark.parametrize("field,value", [
    ("quantity", "two"), ("quantity", 1.5), ("quantity", None), ("quantity", True), ("quantity", [1]),
    ("unitPrice", "cheap"), ("selectedSize", 3), ("selectedColor", ["Black"]), ("productId", {"id": 1}),
    ("productId", 4.5)])
async def test_a_wrong_type_on_an_item_is_400_naming_the_item_field(client, admin, shop, field, value):
    body = order_body()
    body["items"] = [item_with(shop["shirt"], **{field: value})]
    before = await order_count(client, admin)

    response = await client.post("/api/orders/", json=body)

    problem = await problem_of(response, 400)
    assert f"items[0].{field}" in field_messages(problem), problem
    assert await order_count(client, admin) == before


async def test_an_order_without_items_is_400_naming_items(client, admin):
    response = await client.post("/api/orders/", json=order_body())

    problem = await problem_of(response, 400)
    assert "items" in field_messages(problem)
    assert await order_count(client, admin) == 0


async def test_an_item_naming_no_product_is_400(client, admin):
    body = order_body()
    body["items"] = [{"quantity": 1, "selectedSize": "M"}]

    response = await client.post("/api/orders/", json=body)

    problem = await problem_of(response, 400)
    assert "items[0]" in field_messages(problem)
    assert await order_count(client, admin) == 0


async def test_an_unknown_order_field_is_400_naming_it(client, shop):
    response = await client.post("/api/orders/", json=order_body((shop["shirt"], 1), coupon="FREEBIE"))

    problem = await problem_of(response, 400)
    assert "coupon" in field_messages(problem)


async def test_an_unknown_item_field_is_400_naming_it(client, shop):
    body = order_body()
    body["items"] = [item_with(shop["shirt"], discount="100%")]

    response = await client.post("/api/orders/", json=body)

    problem = await problem_of(response, 400)
    assert "items[0].discount" in field_messages(problem)


async def test_an_unknown_product_field_is_400_naming_it(client, admin, shop):
    response = await client.patch(f"/api/products/{shop['shirt']['id']}/", headers=admin, json={"stock": 99})

    problem = await problem_of(response, 400)
    assert "stock" in field_messages(problem)


@pytest.mark.parametrize("quantity", [0, -1, -1000])
async def test_a_quantity_below_one_is_400_and_writes_nothing(client, admin, shop, quantity):
    body = order_body()
    body["items"] = [item_with(shop["shirt"]), item_with(shop["shirt"], quantity=quantity)]
    before = await order_count(client, admin)

    response = await client.post("/api/orders/", json=body)

    problem = await problem_of(response, 400)
    assert "items[1].quantity" in field_messages(problem)
    assert await order_count(client, admin) == before


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity", b"1e400"])
async def test_a_non_finite_total_is_400(client, admin, shop, literal):
    raw = json.dumps(order_body((shop["shirt"], 1), total="@")).encode().replace(b'"@"', literal)

    response = await post_raw(client, "/api/orders/", raw)

    problem = await problem_of(response, 400)
    assert "total" in field_messages(problem)
    assert await order_count(client, admin) == 1


@pytest.mark.parametrize("price", ["NaN", "sNaN", "Infinity", "-Infinity", "inf", "1e400", "-1"])
async def test_a_price_that_is_not_money_is_400_naming_it(client, admin, price):
    response = await client.post("/api/products/", headers=admin,
                                 json={"name": "Belt", "barcode": "BELT-1", "price": price})

    problem = await problem_of(response, 400)
    assert "price" in field_messages(problem)
    assert await (await client.get("/api/products/")).json() == []


async def test_a_body_over_one_mib_is_413_problem_json(client, admin, shop):
    body = order_body((shop["shirt"], 1), notes="x" * (1024 * 1024 + 1))

    response = await client.post("/api/orders/", json=body)

    await problem_of(response, 413)
    assert await order_count(client, admin) == 1


@pytest.mark.parametrize("field", ["customerName", "customerPhone", "customerAddress", "notes", "orderReference"])
async def test_a_10k_character_order_field_is_400_naming_it(client, admin, shop, field):
    response = await client.post("/api/orders/", json=order_body((shop["shirt"], 1), **{field: LONG}))

    problem = await problem_of(response, 400)
    assert field in field_messages(problem)
    assert await order_count(client, admin) == 1


@pytest.mark.parametrize("field", ["productId", "barcode", "selectedSize", "selectedColor", "productName"])
async def test_a_10k_character_item_field_is_400_naming_it(client, admin, shop, field):
    body = order_body()
    body["items"] = [item_with(shop["shirt"], **{field: LONG})]

    response = await client.post("/api/orders/", json=body)

    problem = await problem_of(response, 400)
    assert f"items[0].{field}" in field_messages(problem)
    assert await order_count(client, admin) == 1


@pytest.mark.parametrize("field", ["name", "barcode", "description", "category", "imageUrl"])
async def test_a_10k_character_product_field_is_400_naming_it(client, admin, field):
    product = {"name": "Belt", "barcode": "BELT-1", "price": "900.00", field: LONG}

    response = await client.post("/api/products/", headers=admin, json=product)

    problem = await problem_of(response, 400)
    assert field in field_messages(problem)
    assert await (await client.get("/api/products/")).json() == []


async def test_a_10k_character_search_is_400(client, admin):
    response = await client.get("/api/orders/", headers=admin, params={"search": LONG})

    problem = await problem_of(response, 400)
    assert "search" in field_messages(problem)


async def test_a_lone_surrogate_in_a_name_is_400(client, admin, shop):
    raw = json.dumps(order_body((shop["shirt"], 1), customerName="@")).encode().replace(b'"@"', b'"\\ud800"')

    response = await post_raw(client, "/api/orders/", raw)

    problem = await problem_of(response, 400)
    assert "customerName" in field_messages(problem)
    assert await order_count(client, admin) == 1


async def test_an_unknown_path_is_404_problem_json(client):
    response = await client.get("/api/nothing-here/")

    await problem_of(response, 404)


async def test_a_method_a_route_does_not_have_is_405_problem_json(client, admin, shop):
    response = await client.delete(f"/api/orders/{shop['order']['id']}/", headers=admin)

    await problem_of(response, 405)
    assert await order_count(client, admin) == 1
