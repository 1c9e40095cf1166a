"""The storefront that exists (CONTRACT §2): its Django-era calls work unchanged against API_COMPAT=drf.

Each test posts exactly what that Next.js storefront posts and reads exactly what it reads.
"""
from datetime import datetime, timedelta

import pytest

from tests.problem_details import problem_of
from webhooks.app import create_app

ORDER_KEYS = {"id", "order_reference", "order_date", "customer_name", "customer_phone", "customer_address", "status",
              "items", "total", "item_count", "user", "created_at", "updated_at"}
ITEM_KEYS = {"id", "product", "product_name", "product_barcode", "product_image", "quantity", "unit_price",
             "selected_size", "selected_color", "subtotal"}
PRODUCT_KEYS = {"id", "name", "description", "barcode", "category", "subcategory", "brand", "price", "discountedPrice",
                "quantity", "inStock", "sizes", "colors", "sizeQuantities", "minQuantity", "rating", "reviewCount",
                "imagePaths", "primaryImage", "created_at", "updated_at"}

# The old backend's catalog, moved over with its integer ids (as `catalog import` does).
SHIRT = {"id": "101", "name": "Classic Oxford Shirt", "barcode": "LEG-SHIRT-001", "price": "1500.00",
         "stockQuantity": 5, "sizes": ["S", "M", "L"], "colors": ["White", "Blue"], "category": "shirts",
         "description": "Cotton oxford.", "imageUrls": ["https://example.com/img/oxford.jpg",
                                                        "https://example.com/img/oxford-back.jpg"]}
CHINOS = {"id": "102", "name": "Slim Chinos", "barcode": "LEG-CHINO-002", "price": "2400.00", "stockQuantity": 2,
          "sizes": ["32"], "colors": ["Khaki"], "category": "trousers", "description": "Stretch cotton."}


def storefront_order(**overrides) -> dict:
    """What the storefront's createOrder posts, key for key."""
    body = {
        "order_reference": "LEG-MGX2K7Q1-A3F9",
        "order_date": "2026-02-04T11:58:03.120Z",
        "customer_name": "Amina Otieno",
        "customer_phone": "0712 345 678",
        "customer_address": "Moi Ave 12, Nairobi",
        "items": [
            {"product": 101, "product_name": "Classic Oxford Shirt", "product_barcode": "LEG-SHIRT-001",
             "product_image": "/media/products/oxford.jpg", "quantity": 2, "unit_price": "1500.00",
             "selected_size": "M", "selected_color": "White"},
            {"product": 102, "product_name": "Slim Chinos", "product_barcode": "LEG-CHINO-002",
             "product_image": "", "quantity": 1, "unit_price": "2400.00",
             "selected_size": "32", "selected_color": "Khaki"},
        ],
        "total": "5400.00",
        "item_count": 3,
    }
    body.update(overrides)
    return body


@pytest.fixture
async def drf(aiohttp_client, settings, clock):
    """The app as the shop runs it for the old storefront: API_COMPAT=drf."""
    return await aiohttp_client(create_app(settings.model_copy(update={"api_compat": "drf"}), clock=clock))


@pytest.fixture
async def catalog(drf, admin, clock):
    for product in (SHIRT, CHINOS):
        response = await drf.post("/api/products/", headers=admin, json=product)
        assert response.status == 201, await response.text()
        clock.advance(minutes=1)


async def placed(drf, **overrides) -> dict:
    response = await drf.post("/api/orders/", json=storefront_order(**overrides))
    assert response.status == 201, await response.text()
    return await response.json()


# --- orders -----------------------------------------------------------------------------------

async def test_the_storefront_order_is_created_and_answered_in_snake_case(drf, catalog):
    response = await drf.post("/api/orders/", json=storefront_order())

    assert response.status == 201, await response.text()
    order = await response.json()
    assert ORDER_KEYS <= order.keys() and not any(k != k.lower() for k in order), order.keys()
    assert (order["order_reference"], order["status"], order["customer_phone"]) == (
        "LEG-MGX2K7Q1-A3F9", "pending", "+254712345678")
    assert (order["total"], order["item_count"]) == ("5400.00", 3)
    shirt, chinos = order["items"]
    assert set(shirt) == ITEM_KEYS
    assert (shirt["product"], shirt["quantity"], shirt["unit_price"], shirt["subtotal"]) == ("101", 2, "1500.00",
                                                                                             "3000.00")
    assert (shirt["selected_size"], shirt["selected_color"]) == ("M", "White")
    assert isinstance(shirt["id"], int) and chinos["product"] == "102"
    assert order["user"] is None  # a guest's, as the old backend wrote it


async def test_the_created_order_keeps_the_catalog_s_name_and_first_image_not_the_cart_s(drf, catalog):
    order = await placed(drf)

    shirt, chinos = order["items"]
    assert (shirt["product_name"], shirt["product_barcode"]) == ("Classic Oxford Shirt", "LEG-SHIRT-001")
    assert shirt["product_image"] == "https://example.com/img/oxford.jpg"
    assert chinos["product_image"] is None


async def test_the_created_order_carries_the_whatsapp_link_with_its_reference(drf, catalog):
    order = await placed(drf)

    assert order["whatsapp_url"].startswith("https://wa.me/") and "LEG-MGX2K7Q1-A3F9" in order["whatsapp_url"]


async def test_order_date_is_the_server_clock_written_as_drf_writes_times(drf, catalog, clock):
    order = await placed(drf, order_date="1999-01-01T00:00:00Z")

    assert order["order_date"] == order["created_at"] and order["order_date"].endswith("Z")
    assert abs(datetime.fromisoformat(order["order_date"]) - clock.now()) < timedelta(minutes=1)


async def test_the_same_storefront_order_posted_twice_is_one_order(drf, catalog, admin):
    first = await placed(drf)

    again = await drf.post("/api/orders/", json=storefront_order())

    assert again.status == 200 and (await again.json())["id"] == first["id"]
    listed = await drf.get("/api/orders/", headers=admin)
    assert listed.headers["X-Total-Count"] == "1"


async def test_an_item_count_that_disagrees_is_a_409_problem_as_before(drf, catalog):
    response = await drf.post("/api/orders/", json=storefront_order(item_count=5))

    problem = await problem_of(response, 409)
    assert problem["itemCount"] == 3


async def test_the_order_list_is_a_bare_array_with_the_total_in_x_total_count(drf, catalog, admin, clock):
    references = []
    for tail in ("A001", "A002", "A003"):
        references.append((await placed(drf, order_reference=f"LEG-MGX2K7Q1-{tail}"))["order_reference"])
        clock.advance(seconds=1)

    response = await drf.get("/api/orders/?limit=2", headers=admin)

    assert response.status == 200
    orders = await response.json()
    assert isinstance(orders, list)
    assert [o["order_reference"] for o in orders] == references[::-1][:2]  # newest first
    assert response.headers["X-Total-Count"] == "3"
    assert all(set(o) == ORDER_KEYS for o in orders)


async def test_my_orders_is_a_bare_array_too(drf, catalog, customer):
    mine = await placed(drf)

    response = await drf.get("/api/orders/my-orders/", headers=customer)

    assert response.status == 200
    assert [o["id"] for o in await response.json()] == [mine["id"]]
    assert response.headers["X-Total-Count"] == "1"


@pytest.mark.parametrize("key", ["id", "order_reference"])
async def test_one_order_reads_back_in_the_same_shape(drf, catalog, admin, key):
    order = await placed(drf)

    response = await drf.get(f"/api/orders/{order[key]}/", headers=admin)

    assert response.status == 200
    fetched = await response.json()
    assert set(fetched) == ORDER_KEYS
    assert {k: v for k, v in fetched.items()} == {k: v for k, v in order.items() if k != "whatsapp_url"}


async def test_confirm_answers_success_order_and_stock_updated(drf, catalog, admin):
    order = await placed(drf)

    response = await drf.post(f"/api/orders/{order['id']}/confirm/", headers=admin)

    assert response.status == 200, await response.text()
    body = await response.json()
    assert set(body) == {"success", "order", "stock_updated", "message"}
    assert (body["success"], body["stock_updated"]) == (True, True)
    assert body["order"]["status"] == "confirmed" and set(body["order"]) == ORDER_KEYS
    assert order["order_reference"] in body["message"]


async def test_confirm_again_is_a_no_op_answered_with_stock_updated_false(drf, catalog, admin):
    order = await placed(drf)
    await drf.post(f"/api/orders/{order['id']}/confirm/", headers=admin)

    response = await drf.post(f"/api/orders/{order['order_reference']}/confirm/", headers=admin)

    assert response.status == 200
    body = await response.json()
    assert (body["success"], body["stock_updated"], body["order"]["status"]) == (True, False, "confirmed")
    shirt = await (await drf.get("/api/products/101/")).json()
    assert shirt["quantity"] == 5 - 2  # taken once


async def test_confirm_short_of_stock_is_the_same_problem_details_with_error_and_details(drf, catalog, admin):
    order = await placed(drf, items=[{**storefront_order()["items"][1], "quantity": 3}], total="7200.00",
                         item_count=3)

    response = await drf.post(f"/api/orders/{order['id']}/confirm/", headers=admin)

    problem = await problem_of(response, 409)
    assert [s["productId"] for s in problem["shortages"]] == ["102"]
    # What the admin orders page shows: `error || details.join(', ')`
    assert problem["error"] == problem["title"] == "Not enough stock"
    assert problem["details"] == ["Slim Chinos (LEG-CHINO-002): need 3, have 2"]


async def test_a_validation_problem_carries_its_field_errors_as_details_in_drf_mode(drf, catalog):
    response = await drf.post("/api/orders/", json=storefront_order(customer_phone="not a phone"))

    problem = await problem_of(response, 400)
    assert problem["error"] == "Invalid request"
    assert problem["details"] == [f"{e['field']}: {e['message']}" for e in problem["errors"]]
    assert any(d.startswith("customerPhone") or "phone" in d for d in problem["details"])


async def test_problems_keep_their_own_shape_without_api_compat(client):
    response = await client.get("/api/products/999/")

    problem = await problem_of(response, 404)
    assert "error" not in problem and "details" not in problem


async def test_the_order_list_is_not_capped_at_20_without_a_limit(drf, catalog, admin, clock):
    for n in range(25):
        await placed(drf, order_reference=f"LEG-MGX2K7Q1-B{n:03d}")

    everything = await drf.get("/api/orders/", headers=admin)
    asked = await drf.get("/api/orders/?limit=5", headers=admin)

    assert len(await everything.json()) == 25 and everything.headers["X-Total-Count"] == "25"
    assert len(await asked.json()) == 5


async def test_patch_status_answers_the_order_in_snake_case(drf, catalog, admin):
    order = await placed(drf)
    await drf.post(f"/api/orders/{order['id']}/confirm/", headers=admin)

    response = await drf.patch(f"/api/orders/{order['id']}/", headers=admin, json={"status": "shipped"})

    assert response.status == 200, await response.text()
    shipped = await response.json()
    assert set(shipped) == ORDER_KEYS and shipped["status"] == "shipped"


async def test_patch_to_confirmed_reduces_stock_like_confirm(drf, catalog, admin):
    order = await placed(drf)

    response = await drf.patch(f"/api/orders/{order['id']}/", headers=admin, json={"status": "confirmed"})

    assert (await response.json())["status"] == "confirmed"
    assert (await (await drf.get("/api/products/102/")).json())["quantity"] == 2 - 1


async def test_a_wrong_status_is_the_same_400_problem(drf, catalog, admin):
    order = await placed(drf)

    response = await drf.patch(f"/api/orders/{order['id']}/", headers=admin, json={"status": "paid"})

    await problem_of(response, 400)


async def test_cancel_answers_the_order_in_snake_case(drf, catalog, admin):
    order = await placed(drf)

    response = await drf.post(f"/api/orders/{order['id']}/cancel/", headers=admin, json={})

    assert response.status == 200
    assert (await response.json())["status"] == "cancelled"


# --- products ---------------------------------------------------------------------------------

async def test_the_catalog_is_a_bare_array_in_the_old_backend_s_product_shape(drf, catalog):
    response = await drf.get("/api/products/")

    assert response.status == 200
    products = await response.json()
    assert response.headers["X-Total-Count"] == "2"
    assert all(set(p) == PRODUCT_KEYS for p in products)
    shirt = next(p for p in products if p["id"] == "101")
    assert (shirt["price"], shirt["quantity"], shirt["inStock"], shirt["discountedPrice"]) == (1500, 5, True, None)
    assert shirt["imagePaths"] == SHIRT["imageUrls"] and shirt["primaryImage"] == SHIRT["imageUrls"][0]
    assert (shirt["sizes"], shirt["colors"], shirt["category"]) == (["S", "M", "L"], ["White", "Blue"], "shirts")


async def test_a_product_reads_back_in_the_same_shape(drf, catalog):
    listed = await (await drf.get("/api/products/")).json()

    response = await drf.get("/api/products/102/")

    assert response.status == 200
    assert await response.json() == next(p for p in listed if p["id"] == "102")


async def test_product_dates_are_snake_case_as_the_storefront_reads_them(drf, catalog, clock):
    shirt = await (await drf.get("/api/products/101/")).json()

    assert "createdAt" not in shirt and shirt["created_at"].endswith("Z") and shirt["updated_at"].endswith("Z")
    assert datetime.fromisoformat(shirt["created_at"]) < clock.now()


async def test_the_catalog_extras_are_kept_and_served(drf, admin):
    extras = {"subcategory": "Oxford", "brand": "Lego", "rating": "4.5", "reviewCount": 12, "minQuantity": 1,
              "sizeQuantities": {"S": 1, "M": 3, "L": 1}}
    await drf.post("/api/products/", headers=admin, json={**SHIRT, **extras})

    shirt = await (await drf.get("/api/products/101/")).json()

    assert {k: shirt[k] for k in extras} == {**extras, "rating": 4.5}


async def test_a_discounted_price_of_0_is_no_discount(drf, admin):
    await drf.post("/api/products/", headers=admin, json={**SHIRT, "discountedPrice": "0"})

    shirt = await (await drf.get("/api/products/101/")).json()
    priced = await drf.post("/api/orders/", json=storefront_order(
        items=[storefront_order()["items"][0]], total="3000.00", item_count=2))
    unpriced = await drf.post("/api/orders/", json={
        "customer_name": "Amina", "customer_phone": "0712 345 678", "items": [{"product": 101, "quantity": 1}]})

    assert shirt["discountedPrice"] is None
    assert priced.status == 201, await priced.text()
    assert (await priced.json())["total"] == "3000.00"
    assert (await unpriced.json())["total"] == "1500.00"


async def test_price_is_a_json_number_with_its_cents(drf, admin):
    await drf.post("/api/products/", headers=admin, json={**SHIRT, "price": "1499.50", "discountedPrice": "1200"})

    (shirt,) = await (await drf.get("/api/products/")).json()

    assert (shirt["price"], shirt["discountedPrice"]) == (1499.5, 1200)


async def test_an_unknown_product_is_the_same_404_problem(drf):
    response = await drf.get("/api/products/999/")

    await problem_of(response, 404)


async def test_a_product_sold_out_reads_in_stock_false(drf, catalog, admin):
    await drf.post("/api/products/102/stock/", headers=admin, json={"delta": -2})

    chinos = await (await drf.get("/api/products/102/")).json()

    assert (chinos["quantity"], chinos["inStock"]) == (0, False)


@pytest.mark.parametrize("query, expected", [
    ("search=oxford", ["101"]),
    ("search=STRETCH", ["102"]),
    ("category=trousers", ["102"]),
    ("in_stock=true", ["101"]),
    ("in_stock=false", ["102"]),
    ("ordering=price", ["101", "102"]),
    ("ordering=-price", ["102", "101"]),
    ("ordering=created_at", ["101", "102"]),
    ("ordering=-created_at", ["102", "101"]),
])
async def test_the_catalog_filters_and_orders_as_the_storefront_asks(drf, catalog, admin, query, expected):
    await drf.post("/api/products/102/stock/", headers=admin, json={"delta": -2})  # sold out

    response = await drf.get(f"/api/products/?{query}")

    assert response.status == 200
    assert [p["id"] for p in await response.json()] == expected
    assert response.headers["X-Total-Count"] == str(len(expected))


async def test_ordering_by_created_at_follows_time_not_price(drf, admin, clock):
    for product in (CHINOS, SHIRT):  # the dearer one first
        await drf.post("/api/products/", headers=admin, json=product)
        clock.advance(minutes=1)

    response = await drf.get("/api/products/?ordering=-created_at")

    assert [p["id"] for p in await response.json()] == ["101", "102"]


# --- off by default ---------------------------------------------------------------------------

async def test_without_api_compat_the_same_calls_answer_in_orderdesk_s_own_shape(client, admin):
    for product in (SHIRT, CHINOS):
        await client.post("/api/products/", headers=admin, json=product)

    created = await (await client.post("/api/orders/", json=storefront_order())).json()
    listed = await client.get("/api/orders/", headers=admin)
    confirmed = await (await client.post(f"/api/orders/{created['id']}/confirm/", headers=admin)).json()

    assert created["orderReference"] == "LEG-MGX2K7Q1-A3F9" and created["items"][0]["productId"] == "101"
    assert (await listed.json())["count"] == 1 and "X-Total-Count" not in listed.headers
    assert confirmed["status"] == "confirmed" and "success" not in confirmed
    product = await (await client.get("/api/products/101/")).json()
    assert product["stockQuantity"] == 3 and product["price"] == "1500.00"


def test_api_compat_is_read_in_any_letter_case_and_refuses_unknown_values():
    from pydantic import ValidationError

    from core.settings import Settings

    assert Settings(_env_file=None, api_compat=" DRF ").api_compat == "drf"
    with pytest.raises(ValidationError):
        Settings(_env_file=None, api_compat="django")
