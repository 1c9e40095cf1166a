"""Products over HTTP (CONTRACT §2): the catalog, edits, and stock that never goes below zero."""
import asyncio

import pytest

from tests.databases import sqlite_only
from tests.helpers import make_product
from tests.problem_details import field_messages, problem_of

SHIRT = {"name": "Classic Oxford Shirt", "barcode": "LEG-SHIRT-001", "price": "1500.00", "stockQuantity": 25,
         "sizes": ["S", "M"], "colors": ["White"], "imageUrl": "https://example.com/oxford.jpg",
         "description": "Cotton oxford.", "category": "shirts"}


async def product(client, product_id) -> dict:
    response = await client.get(f"/api/products/{product_id}/")
    assert response.status == 200, await response.text()
    return await response.json()


async def test_create_answers_201_with_the_product(client, admin):
    response = await client.post("/api/products/", headers=admin, json=SHIRT)

    assert response.status == 201, await response.text()
    created = await response.json()
    assert {k: created[k] for k in SHIRT} == SHIRT
    assert created["inStock"] is True and created["imageUrls"] == ["https://example.com/oxford.jpg"]
    assert created["id"] and created["createdAt"] and created["updatedAt"]


async def test_a_product_has_every_field_the_contract_names(client, admin):
    fields = {"id", "name", "barcode", "price", "stockQuantity", "inStock", "sizes", "colors", "imageUrl", "imageUrls",
              "description", "category", "createdAt", "updatedAt"}

    created = await make_product(client, admin)

    assert fields <= created.keys(), fields - created.keys()


async def test_staff_can_create_a_product(client, staff):
    response = await client.post("/api/products/", headers=staff, json=SHIRT)

    assert response.status == 201, await response.text()


async def test_create_accepts_snake_case_keys(client, admin):
    response = await client.post("/api/products/", headers=admin, json={
        "name": "Belt", "barcode": "BELT-1", "price": "900", "stock_quantity": 4, "image_url": "https://e.com/b.jpg"})

    assert response.status == 201, await response.text()
    created = await response.json()
    assert (created["stockQuantity"], created["imageUrl"]) == (4, "https://e.com/b.jpg")


async def test_money_is_answered_as_a_two_place_decimal_string(client, admin):
    created = await make_product(client, admin, price="1500")

    assert created["price"] == "1500.00"


async def test_a_duplicate_barcode_is_409_and_creates_nothing(client, admin):
    await client.post("/api/products/", headers=admin, json=SHIRT)

    response = await client.post("/api/products/", headers=admin, json={**SHIRT, "name": "Another Shirt"})

    problem = await problem_of(response, 409)
    assert SHIRT["barcode"] in problem["detail"]
    catalog = await (await client.get("/api/products/")).json()
    assert [p["name"] for p in catalog] == ["Classic Oxford Shirt"]


async def test_the_same_barcode_created_at_once_makes_one_product(client, admin):
    responses = await asyncio.gather(*(client.post("/api/products/", headers=admin, json=SHIRT) for _ in range(5)))

    assert sorted(r.status for r in responses) == [201] + [409] * 4
    assert len(await (await client.get("/api/products/")).json()) == 1


async def test_a_product_keeps_the_id_it_is_created_with(client, admin):
    response = await client.post("/api/products/", headers=admin, json={**SHIRT, "id": "42"})

    assert response.status == 201, await response.text()
    assert (await product(client, "42"))["name"] == SHIRT["name"]


async def test_a_duplicate_product_id_is_409_naming_the_id_not_the_barcode(client, admin):
    await client.post("/api/products/", headers=admin, json={**SHIRT, "id": "42"})

    response = await client.post("/api/products/", headers=admin,
                                 json={**SHIRT, "id": "42", "barcode": "FRESH-BARCODE", "name": "Other"})

    problem = await problem_of(response, 409)
    assert "42" in problem["detail"] and "FRESH-BARCODE" not in problem["detail"], problem["detail"]
    assert (await product(client, "42"))["name"] == SHIRT["name"]


async def test_the_catalog_is_readable_by_anyone(client, admin):
    shirt = await make_product(client, admin)

    response = await client.get("/api/products/")

    assert response.status == 200
    assert [p["id"] for p in await response.json()] == [shirt["id"]]


async def test_the_catalog_is_served_without_the_trailing_slash_too(client, admin):
    shirt = await make_product(client, admin)

    response = await client.get("/api/products")

    assert [p["id"] for p in await response.json()] == [shirt["id"]]


async def test_a_product_is_readable_by_anyone(client, admin):
    shirt = await make_product(client, admin, name="Kikoi Shorts")

    fetched = await product(client, shirt["id"])

    assert fetched == shirt


async def test_an_unknown_product_is_404(client):
    response = await client.get("/api/products/no-such-product/")

    await problem_of(response, 404)


async def test_patch_changes_only_what_it_names(client, admin):
    shirt = await make_product(client, admin, price="1500.00", name="Oxford")

    response = await client.patch(f"/api/products/{shirt['id']}/", headers=admin, json={"price": "1750.50"})

    assert response.status == 200, await response.text()
    changed = await product(client, shirt["id"])
    assert (changed["price"], changed["name"], changed["barcode"]) == ("1750.50", "Oxford", shirt["barcode"])


async def test_patch_stock_quantity_sets_the_level(client, admin):
    shirt = await make_product(client, admin, stock=10)

    response = await client.patch(f"/api/products/{shirt['id']}/", headers=admin, json={"stockQuantity": 4})

    assert response.status == 200, await response.text()
    assert (await product(client, shirt["id"]))["stockQuantity"] == 4


async def test_patch_to_another_products_barcode_is_409_and_changes_nothing(client, admin):
    first = await make_product(client, admin)
    second = await make_product(client, admin, name="Second")

    response = await client.patch(f"/api/products/{second['id']}/", headers=admin,
                                  json={"barcode": first["barcode"], "name": "Renamed"})

    await problem_of(response, 409)
    assert await product(client, second["id"]) == second


async def test_a_new_price_applies_to_orders_placed_after_it(client, admin):
    shirt = await make_product(client, admin, price="1500.00")
    await client.patch(f"/api/products/{shirt['id']}/", headers=admin, json={"price": "1200.00"})

    response = await client.post("/api/orders/", json={
        "customerName": "Amina", "customerPhone": "0712 345 678", "items": [{"productId": shirt["id"], "quantity": 1}]})

    assert (await response.json())["total"] == "1200.00"


async def test_stock_adjust_adds_a_delta_and_answers_the_new_stock(client, admin):
    shirt = await make_product(client, admin, stock=3)

    response = await client.post(f"/api/products/{shirt['id']}/stock/", headers=admin,
                                 json={"delta": 5, "reason": "restock"})

    assert response.status == 200, await response.text()
    assert (await response.json())["stockQuantity"] == 8
    assert (await product(client, shirt["id"]))["stockQuantity"] == 8


async def test_stock_adjust_takes_a_negative_delta(client, staff):
    shirt = await make_product(client, staff, stock=3)

    response = await client.post(f"/api/products/{shirt['id']}/stock/", headers=staff,
                                 json={"delta": -2, "reason": "damaged"})

    assert (await response.json())["stockQuantity"] == 1


async def test_stock_never_goes_below_zero(client, admin):
    shirt = await make_product(client, admin, stock=3)

    response = await client.post(f"/api/products/{shirt['id']}/stock/", headers=admin,
                                 json={"delta": -4, "reason": "stocktake"})

    problem = await problem_of(response, 409)
    assert problem["available"] == 3
    assert (await product(client, shirt["id"]))["stockQuantity"] == 3


async def test_stock_taken_at_once_never_goes_below_zero(client, admin):
    shirt = await make_product(client, admin, stock=5)

    responses = await asyncio.gather(*(client.post(f"/api/products/{shirt['id']}/stock/", headers=admin,
                                                   json={"delta": -1, "reason": "sold in shop"}) for _ in range(12)))

    assert sorted(r.status for r in responses) == [200] * 5 + [409] * 7
    assert (await product(client, shirt["id"]))["stockQuantity"] == 0


async def test_stock_added_past_the_cap_is_409_saying_the_cap(client, admin):
    shirt = await make_product(client, admin, stock=0)
    url = f"/api/products/{shirt['id']}/stock/"

    statuses = [(await client.post(url, headers=admin, json={"delta": 1_000_000, "reason": "pallet"})).status
                for _ in range(3)]  # the run went on to 2,147,000,000 and a 500
    over = await client.post(url, headers=admin, json={"delta": 1, "reason": "one more"})

    assert statuses == [200, 409, 409]
    problem = await problem_of(over, 409)
    assert (problem["available"], problem["cap"]) == (1_000_000, 1_000_000) and "1,000,000" in problem["detail"]
    assert (await product(client, shirt["id"]))["stockQuantity"] == 1_000_000


@pytest.mark.parametrize("method, path, body", [
    ("post", "/stock/", {"delta": 2_000_000}), ("post", "/stock/", {"delta": -2_000_000}),
    ("patch", "/", {"stockQuantity": 1_000_001}), ("post", "/stock/", {"delta": 2**31})])
async def test_a_stock_figure_out_of_range_in_a_body_is_400_saying_the_cap(client, admin, method, path, body):
    shirt = await make_product(client, admin, stock=3)

    response = await getattr(client, method)(f"/api/products/{shirt['id']}{path}", headers=admin, json=body)

    problem = await problem_of(response, 400)
    assert "1000000" in str(problem["errors"])
    assert (await product(client, shirt["id"]))["stockQuantity"] == 3


async def test_a_product_at_zero_stock_is_not_in_stock(client, admin):
    shirt = await make_product(client, admin, stock=2)

    response = await client.post(f"/api/products/{shirt['id']}/stock/", headers=admin,
                                 json={"delta": -2, "reason": "sold in shop"})

    body = await response.json()
    assert (body["stockQuantity"], body["inStock"]) == (0, False)


@sqlite_only
@pytest.mark.parametrize("body", [{"reason": "restock"}, {"delta": "five"}, {"delta": 1.5}, {"delta": 5, "why": "x"}])
async def test_a_bad_stock_adjustment_is_400(client, admin, body):
    shirt = await make_product(client, admin, stock=3)

    response = await client.post(f"/api/products/{shirt['id']}/stock/", headers=admin, json=body)

    await problem_of(response, 400)
    assert (await product(client, shirt["id"]))["stockQuantity"] == 3


async def test_stock_adjust_of_an_unknown_product_is_404(client, admin):
    response = await client.post("/api/products/no-such-product/stock/", headers=admin, json={"delta": 1})

    await problem_of(response, 404)


@sqlite_only
@pytest.mark.parametrize("field,value", [("price", "-1.00"), ("price", "12.345"), ("stockQuantity", -1),
                                         ("name", ""), ("barcode", "")])
async def test_an_invalid_product_field_is_400_naming_it(client, admin, field, value):
    response = await client.post("/api/products/", headers=admin, json={**SHIRT, field: value})

    problem = await problem_of(response, 400)
    assert field in field_messages(problem)
    assert await (await client.get("/api/products/")).json() == []
