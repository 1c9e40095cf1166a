"""Orders over HTTP (CONTRACT §2): guest checkout, idempotent references, listing, status changes."""
import asyncio
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select

from core.models import OrderEvent, OrderItem, OutboundMessage
from tests.databases import sqlite_only
from tests.helpers import make_product, order_body, place_order
from tests.problem_details import field_messages, order_count, problem_of

ALL_STATUSES = ["pending", "confirmed", "processing", "shipped", "delivered", "cancelled"]


async def detail(client, headers, key) -> dict:
    response = await client.get(f"/api/orders/{key}/", headers=headers)
    assert response.status == 200, await response.text()
    return await response.json()


async def stock_of(client, product) -> int:
    return (await (await client.get(f"/api/products/{product['id']}/")).json())["stockQuantity"]


async def patch_status(client, headers, order, status):
    return await client.patch(f"/api/orders/{order['id']}/", headers=headers, json={"status": status})


# --- creating ---------------------------------------------------------------------------------

async def test_create_prices_every_line_from_the_catalog(client, admin):
    shirt = await make_product(client, admin, price="1500.00")
    belt = await make_product(client, admin, price="900.00")

    response = await client.post("/api/orders/", json=order_body((shirt, 2), (belt, 1)))

    assert response.status == 201, await response.text()
    order = await response.json()
    assert order["status"] == "pending" and order["paymentStatus"] == "unpaid"
    assert [(i["productId"], i["unitPrice"], i["subtotal"]) for i in order["items"]] == [
        (shirt["id"], "1500.00", "3000.00"), (belt["id"], "900.00", "900.00")]
    assert order["total"] == "3900.00" and order["itemCount"] == 3


async def test_create_names_a_product_by_barcode(client, admin):
    shirt = await make_product(client, admin, price="1500.00")
    body = order_body()
    body["items"] = [{"barcode": shirt["barcode"], "quantity": 2}]

    response = await client.post("/api/orders/", json=body)

    assert response.status == 201, await response.text()
    order = await response.json()
    assert [(i["productId"], i["quantity"]) for i in order["items"]] == [(shirt["id"], 2)]
    assert order["total"] == "3000.00"


async def test_create_with_the_right_client_prices_and_total_is_accepted(client, admin):
    shirt = await make_product(client, admin, price="1500.00")
    body = order_body((shirt, 2), total="3000.00")
    body["items"][0]["unitPrice"] = "1500.00"

    response = await client.post("/api/orders/", json=body)

    assert response.status == 201, await response.text()


async def test_a_stale_unit_price_is_409_with_the_current_prices(client, admin):
    shirt = await make_product(client, admin, price="1500.00")
    body = order_body((shirt, 2))
    body["items"][0]["unitPrice"] = "1200.00"
    before = await order_count(client, admin)

    response = await client.post("/api/orders/", json=body)

    problem = await problem_of(response, 409)
    assert problem["currentPrices"] == {shirt["id"]: "1500.00"}
    assert "1500" in problem["detail"]
    assert await order_count(client, admin) == before


async def test_a_wrong_total_is_409_with_the_current_prices(client, admin):
    shirt = await make_product(client, admin, price="1500.00")

    response = await client.post("/api/orders/", json=order_body((shirt, 2), total="2000.00"))

    problem = await problem_of(response, 409)
    assert problem["currentPrices"] == {shirt["id"]: "1500.00"}
    assert problem["total"] == "3000.00"


async def test_a_wrong_item_count_is_409_like_a_wrong_total(client, admin):
    shirt = await make_product(client, admin)

    response = await client.post("/api/orders/", json=order_body((shirt, 2), itemCount=3))

    problem = await problem_of(response, 409)
    assert problem["itemCount"] == 2
    assert problem["currentPrices"] == {shirt["id"]: shirt["price"]}


async def test_an_unknown_product_is_refused_and_writes_nothing(client, admin):
    shirt = await make_product(client, admin)
    body = order_body((shirt, 1))
    body["items"].append({"productId": "no-such-product", "quantity": 1})
    before = await order_count(client, admin)

    response = await client.post("/api/orders/", json=body)

    problem = await problem_of(response, 400)
    assert "items[1].productId" in field_messages(problem)
    assert await order_count(client, admin) == before


@sqlite_only
@pytest.mark.parametrize("written", ["0712 345 678", "+254 712 345 678", "254712345678", "whatsapp:+254712345678"])
async def test_the_customer_phone_is_stored_in_e164(client, admin, written):
    shirt = await make_product(client, admin)

    order = await place_order(client, (shirt, 1), phone=written)

    assert order["customerPhone"] == "+254712345678"


@sqlite_only
@pytest.mark.parametrize("written", ["12345", "0712", "call me maybe", "+999 712 345 678"])
async def test_an_invalid_phone_is_400_naming_customer_phone(client, admin, written):
    shirt = await make_product(client, admin)
    before = await order_count(client, admin)

    response = await client.post("/api/orders/", json=order_body((shirt, 1), phone=written))

    problem = await problem_of(response, 400)
    assert "customerPhone" in field_messages(problem)
    assert await order_count(client, admin) == before


async def test_creating_an_order_never_touches_stock(client, admin):
    shirt = await make_product(client, admin, stock=3)

    await place_order(client, (shirt, 2))
    await place_order(client, (shirt, 3))

    assert await stock_of(client, shirt) == 3


async def test_the_created_order_carries_a_whatsapp_link_with_its_reference(client, admin, settings):
    shirt = await make_product(client, admin)

    order = await place_order(client, (shirt, 1))

    link = urlsplit(order["whatsappUrl"])
    assert (link.scheme, link.netloc) == ("https", "wa.me")
    assert link.path == "/" + re.sub(r"\D", "", settings.twilio_whatsapp_from)
    (text,) = parse_qs(link.query)["text"]
    assert order["orderReference"] in text


ORDER_FIELDS = {"id", "orderReference", "customerName", "customerPhone", "customerAddress", "status", "paymentStatus",
                "total", "itemCount", "items", "history", "paymentProofs", "createdAt", "updatedAt"}
ITEM_FIELDS = {"productId", "productName", "productBarcode", "productImage", "quantity", "unitPrice", "selectedSize",
               "selectedColor", "subtotal"}
HISTORY_FIELDS = {"from", "to", "at", "by", "note"}


async def test_an_order_has_every_field_the_contract_names(client, admin):
    shirt = await make_product(client, admin)
    order = await place_order(client, (shirt, 1))

    fetched = await detail(client, admin, order["id"])

    assert ORDER_FIELDS <= fetched.keys(), ORDER_FIELDS - fetched.keys()
    assert ITEM_FIELDS <= fetched["items"][0].keys(), ITEM_FIELDS - fetched["items"][0].keys()
    assert HISTORY_FIELDS <= fetched["history"][0].keys(), HISTORY_FIELDS - fetched["history"][0].keys()
    assert fetched["paymentProofs"] == []


async def test_a_generated_reference_is_prefix_decimal_seconds_and_a_four_character_tail(client, admin):
    shirt = await make_product(client, admin)

    order = await place_order(client, (shirt, 1))

    assert re.fullmatch(r"LEG-\d{10}-[A-Z0-9]{4}", order["orderReference"]), order["orderReference"]


async def test_times_are_iso_8601_utc(client, admin):
    shirt = await make_product(client, admin)

    order = await place_order(client, (shirt, 1))

    for stamp in (order["createdAt"], order["updatedAt"], order["history"][0]["at"]):
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|\+00:00)", stamp), stamp


# --- idempotent references --------------------------------------------------------------------

@pytest.mark.parametrize("reference", ["LEG-1738704998-X7K2", "LEG-MGX2K7Q1-A3F9"])
async def test_a_client_reference_in_either_stamp_form_is_kept(client, admin, reference):
    shirt = await make_product(client, admin)

    order = await place_order(client, (shirt, 1), orderReference=reference)

    assert order["orderReference"] == reference


async def test_the_same_reference_and_content_again_returns_the_same_order_with_200(client, admin):
    shirt = await make_product(client, admin)
    body = order_body((shirt, 2), orderReference="LEG-1738704998-X7K2")
    first = await (await client.post("/api/orders/", json=body)).json()

    response = await client.post("/api/orders/", json=body)

    assert response.status == 200, await response.text()
    again = await response.json()
    assert again["id"] == first["id"] and again["orderReference"] == "LEG-1738704998-X7K2"
    assert again["whatsappUrl"] == first["whatsappUrl"]
    assert await order_count(client, admin) == 1


async def test_the_same_reference_with_the_phone_written_another_way_is_the_same_order(client, admin):
    shirt = await make_product(client, admin)
    first = await place_order(client, (shirt, 1), orderReference="LEG-MGX2K7Q1-A3F9", phone="0712 345 678")

    response = await client.post("/api/orders/", json=order_body(
        (shirt, 1), orderReference="LEG-MGX2K7Q1-A3F9", phone="+254712345678"))

    assert response.status == 200, await response.text()
    assert (await response.json())["id"] == first["id"]


async def test_the_same_reference_with_other_content_is_409_and_changes_nothing(client, admin):
    shirt = await make_product(client, admin)
    first = await place_order(client, (shirt, 1), orderReference="LEG-1738704998-X7K2")

    response = await client.post("/api/orders/", json=order_body((shirt, 5), orderReference="LEG-1738704998-X7K2"))

    await problem_of(response, 409)
    kept = await detail(client, admin, first["id"])
    assert [i["quantity"] for i in kept["items"]] == [1]
    assert await order_count(client, admin) == 1


async def test_the_same_reference_sent_at_once_creates_one_order(client, admin):
    shirt = await make_product(client, admin)
    body = order_body((shirt, 2), orderReference="LEG-1738704998-X7K2")

    responses = await asyncio.gather(*(client.post("/api/orders/", json=body) for _ in range(6)))

    assert sorted(r.status for r in responses) == [200] * 5 + [201]
    assert len({(await r.json())["id"] for r in responses}) == 1
    assert await order_count(client, admin) == 1


async def test_the_same_reference_sent_at_once_writes_its_lines_history_and_alert_once(client, admin, uow):
    shirt, cap = await make_product(client, admin), await make_product(client, admin)
    body = order_body((shirt, 2), (cap, 1), orderReference="LEG-1738704998-X7K2")

    responses = await asyncio.gather(*(client.post("/api/orders/", json=body) for _ in range(6)))

    order = await responses[0].json()
    assert {tuple(item["productId"] for item in (await r.json())["items"]) for r in responses} == {
        (shirt["id"], cap["id"])}
    async with uow(readonly=True) as tx:
        lines = await tx.session.scalar(select(func.count()).where(OrderItem.order_id == order["id"]))
        history = (await tx.session.execute(select(OrderEvent.kind).where(OrderEvent.order_id == order["id"]))).all()
        alerts = (await tx.session.execute(select(OutboundMessage.key).where(
            OutboundMessage.key.like(f"order:{order['id']}:created:%")))).all()
    assert (lines, len(history), len(alerts)) == (2, 1, 1)  # one admin


async def test_a_storefront_retry_after_a_price_change_returns_the_existing_order(client, admin):
    # The storefront retries a create whose answer it never got; meanwhile the shop changed the price.
    shirt = await make_product(client, admin, price="1500.00")
    body = order_body((shirt, 2), orderReference="LEG-1738704998-X7K2", total="3000.00")
    body["items"][0]["unitPrice"] = "1500.00"
    first = await (await client.post("/api/orders/", json=body)).json()
    await client.patch(f"/api/products/{shirt['id']}/", headers=admin, json={"price": "1750.00"})

    response = await client.post("/api/orders/", json=body)

    assert response.status == 200, await response.text()
    again = await response.json()
    assert (again["id"], again["total"]) == (first["id"], "3000.00")


async def test_a_reference_that_is_not_a_reference_is_400(client, admin):
    shirt = await make_product(client, admin)

    response = await client.post("/api/orders/", json=order_body((shirt, 1), orderReference="my order please"))

    problem = await problem_of(response, 400)
    assert "orderReference" in field_messages(problem)


# --- the storefront that exists ---------------------------------------------------------------

def django_body(product, **overrides) -> dict:
    """What the Django-era Next.js storefront posts, byte for byte in shape."""
    body = {
        "order_reference": "LEG-MGX2K7Q1-A3F9",
        "order_date": "2026-02-04T11:58:03.120Z",
        "customer_name": "Amina Otieno",
        "customer_phone": "0712 345 678",
        "customer_address": "Moi Ave 12, Nairobi",
        "items": [{
            "product": product["id"], "product_name": "What the cart remembered",
            "product_barcode": "OLD-BARCODE", "product_image": "/media/products/old.jpg",
            "quantity": 2, "unit_price": product["price"], "selected_size": "M", "selected_color": "Black",
        }],
        "total": f"{2 * float(product['price']):.2f}",
        "item_count": 2,
    }
    body.update(overrides)
    return body


async def test_the_django_storefront_snake_case_body_creates_the_order(client, admin):
    shirt = await make_product(client, admin, price="1500.00", name="Classic Oxford Shirt")

    response = await client.post("/api/orders/", json=django_body(shirt))

    assert response.status == 201, await response.text()
    order = await response.json()
    assert order["orderReference"] == "LEG-MGX2K7Q1-A3F9"
    assert order["customerPhone"] == "+254712345678" and order["customerAddress"] == "Moi Ave 12, Nairobi"
    (item,) = order["items"]
    assert (item["productId"], item["quantity"], item["selectedSize"], item["selectedColor"]) == (
        shirt["id"], 2, "M", "Black")
    assert order["total"] == "3000.00" and order["itemCount"] == 2


async def test_the_django_storefront_display_fields_are_ignored_for_the_catalog(client, admin):
    shirt = await make_product(client, admin, price="1500.00", name="Classic Oxford Shirt")

    order = await (await client.post("/api/orders/", json=django_body(shirt))).json()

    (item,) = order["items"]
    assert item["productName"] == "Classic Oxford Shirt"
    assert item["productBarcode"] == shirt["barcode"]


async def test_the_django_storefront_order_date_is_ignored_for_the_server_clock(client, admin):
    shirt = await make_product(client, admin)

    order = await (await client.post("/api/orders/", json=django_body(shirt, order_date="1999-01-01T00:00:00Z"))).json()

    assert not order["createdAt"].startswith("1999")


async def test_the_django_storefront_integer_product_id_names_an_imported_product(client, admin):
    response = await client.post("/api/products/", headers=admin, json={
        "id": "42", "name": "Imported Shirt", "barcode": "DJ-42", "price": "1500.00", "stockQuantity": 5})
    assert response.status == 201, await response.text()
    body = django_body({"id": 42, "price": "1500.00"})

    response = await client.post("/api/orders/", json=body)

    assert response.status == 201, await response.text()
    assert (await response.json())["items"][0]["productId"] == "42"


async def test_the_django_storefront_item_count_that_disagrees_is_409(client, admin):
    shirt = await make_product(client, admin)

    response = await client.post("/api/orders/", json=django_body(shirt, item_count=5))

    problem = await problem_of(response, 409)
    assert problem["itemCount"] == 2
    assert await order_count(client, admin) == 0


# --- listing and reading ----------------------------------------------------------------------

async def test_the_list_is_newest_first_with_a_count(client, admin):
    shirt = await make_product(client, admin)
    placed = [await place_order(client, (shirt, 1)) for _ in range(3)]

    page = await (await client.get("/api/orders/", headers=admin)).json()

    assert page["count"] == 3
    assert [o["id"] for o in page["results"]] == [o["id"] for o in reversed(placed)]


async def test_the_list_pages_with_limit_and_offset(client, admin):
    shirt = await make_product(client, admin)
    placed = [await place_order(client, (shirt, 1)) for _ in range(4)]

    page = await (await client.get("/api/orders/?limit=2&offset=1", headers=admin)).json()

    assert page["count"] == 4
    assert [o["id"] for o in page["results"]] == [placed[2]["id"], placed[1]["id"]]


async def test_the_list_filters_by_status(client, admin):
    shirt = await make_product(client, admin)
    kept, confirmed = await place_order(client, (shirt, 1)), await place_order(client, (shirt, 1))
    await client.post(f"/api/orders/{confirmed['id']}/confirm/", headers=admin)

    page = await (await client.get("/api/orders/?status=pending", headers=admin)).json()

    assert page["count"] == 1 and [o["id"] for o in page["results"]] == [kept["id"]]


@pytest.mark.parametrize("search", ["wanjiru", "KAMAU", "+254733123456"])
async def test_the_list_searches_name_and_phone(client, admin, search):
    shirt = await make_product(client, admin)
    await place_order(client, (shirt, 1))
    wanted = await place_order(client, (shirt, 1), customerName="Wanjiru Kamau", phone="0733 123 456")

    page = await (await client.get("/api/orders/", headers=admin, params={"search": search})).json()

    assert page["count"] == 1 and [o["id"] for o in page["results"]] == [wanted["id"]]


async def test_the_list_searches_the_reference(client, admin):
    shirt = await make_product(client, admin)
    await place_order(client, (shirt, 1))
    wanted = await place_order(client, (shirt, 1), orderReference="LEG-MGX2K7Q1-A3F9")

    page = await (await client.get("/api/orders/?search=mgx2k7q1", headers=admin)).json()

    assert [o["id"] for o in page["results"]] == [wanted["id"]]


@sqlite_only
@pytest.mark.parametrize("query", ["limit=0", "limit=abc", "offset=-1", "status=lost"])
async def test_a_bad_list_query_is_400(client, admin, query):
    response = await client.get(f"/api/orders/?{query}", headers=admin)

    problem = await problem_of(response, 400)
    assert field_messages(problem).keys() == {query.split("=")[0]}


async def test_an_order_is_read_by_its_uuid(client, admin):
    shirt = await make_product(client, admin)
    order = await place_order(client, (shirt, 1))

    fetched = await detail(client, admin, order["id"])

    assert fetched["orderReference"] == order["orderReference"]


@pytest.mark.parametrize("spelling", [str.upper, str.lower])
async def test_an_order_is_read_by_its_reference_in_any_case(client, admin, spelling):
    shirt = await make_product(client, admin)
    order = await place_order(client, (shirt, 1), orderReference="LEG-MGX2K7Q1-A3F9")

    fetched = await detail(client, admin, spelling(order["orderReference"]))

    assert fetched["id"] == order["id"]


async def test_an_unknown_order_is_404(client, admin):
    response = await client.get("/api/orders/LEG-1738704998-ZZZZ/", headers=admin)

    await problem_of(response, 404)


# --- changing status --------------------------------------------------------------------------

@sqlite_only
@pytest.mark.parametrize("written", ["shipped", "SHIPPED", "Shipped", " sHiPpEd "])
async def test_patch_status_accepts_any_letter_case(client, admin, written):
    shirt = await make_product(client, admin)
    order = await place_order(client, (shirt, 1))
    await client.post(f"/api/orders/{order['id']}/confirm/", headers=admin)

    response = await patch_status(client, admin, order, written)

    assert response.status == 200, await response.text()
    assert (await response.json())["status"] == "shipped"


@sqlite_only
@pytest.mark.parametrize("received", ["lost", 3, {"name": "shipped"}, ["shipped"], True, ""])
async def test_a_status_that_is_not_a_status_is_400_naming_field_value_and_allowed(client, admin, received):
    shirt = await make_product(client, admin)
    order = await place_order(client, (shirt, 1))

    response = await patch_status(client, admin, order, received)

    problem = await problem_of(response, 400)
    message = field_messages(problem)["status"]
    assert repr(received) in message or str(received) in message, message
    assert all(s in message for s in ALL_STATUSES), message
    assert (await detail(client, admin, order["id"]))["status"] == "pending"


async def test_a_transition_not_in_the_table_is_409_naming_current_and_allowed(client, admin):
    shirt = await make_product(client, admin)
    order = await place_order(client, (shirt, 1))

    response = await patch_status(client, admin, order, "shipped")

    problem = await problem_of(response, 409)
    assert problem["currentStatus"] == "pending"
    assert sorted(problem["allowed"]) == ["cancelled", "confirmed"]
    assert "pending" in problem["detail"] and "confirmed" in problem["detail"]


@pytest.mark.parametrize("path,refused", [(["confirmed", "shipped"], "cancelled"),
                                          (["confirmed", "shipped"], "processing"),
                                          (["confirmed"], "pending"),
                                          (["confirmed", "processing"], "confirmed"),
                                          ([], "delivered")])
async def test_a_step_outside_the_table_is_409_and_changes_nothing(client, admin, path, refused):
    shirt = await make_product(client, admin, stock=5)
    order = await place_order(client, (shirt, 1))
    for status in path:
        await patch_status(client, admin, order, status)
    before, stock_before = await detail(client, admin, order["id"]), await stock_of(client, shirt)

    response = await patch_status(client, admin, order, refused)

    problem = await problem_of(response, 409)
    assert problem["currentStatus"] == before["status"]
    assert await detail(client, admin, order["id"]) == before
    assert await stock_of(client, shirt) == stock_before


async def test_a_status_change_sent_twice_at_once_writes_one_history_row(client, admin):
    shirt = await make_product(client, admin)
    order = await place_order(client, (shirt, 1))
    await patch_status(client, admin, order, "confirmed")

    responses = await asyncio.gather(*(patch_status(client, admin, order, "shipped") for _ in range(5)))

    assert [r.status for r in responses] == [200] * 5
    history = (await detail(client, admin, order["id"]))["history"]
    assert [h["to"] for h in history] == ["pending", "confirmed", "shipped"]


async def test_a_final_status_allows_nothing_next(client, admin):
    shirt = await make_product(client, admin)
    order = await place_order(client, (shirt, 1))
    await patch_status(client, admin, order, "cancelled")

    response = await patch_status(client, admin, order, "confirmed")

    problem = await problem_of(response, 409)
    assert problem["currentStatus"] == "cancelled" and problem["allowed"] == []


@pytest.mark.parametrize("path", [["confirmed", "processing", "shipped", "delivered"],
                                  ["confirmed", "shipped", "delivered"],
                                  ["confirmed", "processing", "cancelled"]])
async def test_every_allowed_transition_writes_one_history_row(client, admin, path):
    shirt = await make_product(client, admin)
    order = await place_order(client, (shirt, 1))

    for status in path:
        response = await patch_status(client, admin, order, status)
        assert response.status == 200, await response.text()

    history = (await detail(client, admin, order["id"]))["history"]
    assert [(h["from"], h["to"]) for h in history] == list(zip([None, "pending", *path[:-1]], ["pending", *path]))
    assert all(h["by"] == "token:admin" for h in history[1:])


async def test_setting_the_status_an_order_has_is_a_200_no_op_without_history(client, admin):
    shirt = await make_product(client, admin)
    order = await place_order(client, (shirt, 1))
    await patch_status(client, admin, order, "confirmed")
    before = await detail(client, admin, order["id"])

    response = await patch_status(client, admin, order, "CONFIRMED")

    assert response.status == 200, await response.text()
    after = await detail(client, admin, order["id"])
    assert after["history"] == before["history"]
    assert after["updatedAt"] == before["updatedAt"]


async def test_setting_pending_on_a_pending_order_is_a_200_no_op(client, admin):
    shirt = await make_product(client, admin)
    order = await place_order(client, (shirt, 1))

    response = await patch_status(client, admin, order, "pending")

    assert response.status == 200, await response.text()
    assert len((await detail(client, admin, order["id"]))["history"]) == 1


async def test_patch_confirmed_reduces_stock_and_verifies_payment_like_confirm(client, admin):
    shirt = await make_product(client, admin, stock=5)
    order = await place_order(client, (shirt, 2))

    response = await patch_status(client, admin, order, "Confirmed")

    assert response.status == 200, await response.text()
    body = await response.json()
    assert (body["status"], body["paymentStatus"]) == ("confirmed", "verified")
    assert await stock_of(client, shirt) == 3


async def test_patch_confirmed_without_stock_is_409_listing_shortages_and_changes_nothing(client, admin):
    shirt = await make_product(client, admin, stock=1, name="Scarce Shirt")
    order = await place_order(client, (shirt, 2))

    response = await patch_status(client, admin, order, "confirmed")

    problem = await problem_of(response, 409)
    assert [(s["name"], s["wanted"], s["available"]) for s in problem["shortages"]] == [("Scarce Shirt", 2, 1)]
    assert await stock_of(client, shirt) == 1
    assert (await detail(client, admin, order["id"]))["status"] == "pending"


async def test_patch_cancelled_on_a_confirmed_order_restocks(client, admin):
    shirt = await make_product(client, admin, stock=5)
    order = await place_order(client, (shirt, 2))
    await patch_status(client, admin, order, "confirmed")

    response = await patch_status(client, admin, order, "cancelled")

    assert response.status == 200, await response.text()
    assert await stock_of(client, shirt) == 5


async def test_cancelling_a_processing_order_restocks_once(client, admin):
    shirt = await make_product(client, admin, stock=5)
    order = await place_order(client, (shirt, 2))
    for status in ("confirmed", "processing"):
        await patch_status(client, admin, order, status)

    response = await client.post(f"/api/orders/{order['id']}/cancel/", headers=admin, json={"reason": "changed mind"})

    assert response.status == 200, await response.text()
    assert await stock_of(client, shirt) == 5
    assert (await patch_status(client, admin, order, "cancelled")).status == 200
    assert await stock_of(client, shirt) == 5


async def test_cancelling_a_pending_order_leaves_stock_alone(client, admin):
    shirt = await make_product(client, admin, stock=5)
    order = await place_order(client, (shirt, 2))

    await client.post(f"/api/orders/{order['id']}/cancel/", headers=admin, json={})

    assert await stock_of(client, shirt) == 5


async def test_the_cancel_reason_is_kept_in_history(client, admin):
    shirt = await make_product(client, admin)
    order = await place_order(client, (shirt, 1))

    response = await client.post(f"/api/orders/{order['id']}/cancel/", headers=admin,
                                 json={"reason": "customer never paid"})

    last = (await response.json())["history"][-1]
    assert (last["from"], last["to"], last["note"]) == ("pending", "cancelled", "customer never paid")


async def test_a_note_alone_is_recorded_in_history_without_changing_status(client, admin):
    shirt = await make_product(client, admin)
    order = await place_order(client, (shirt, 1))

    response = await client.patch(f"/api/orders/{order['id']}/", headers=admin, json={"note": "called the customer"})

    assert response.status == 200, await response.text()
    after = await response.json()
    assert after["status"] == "pending"
    assert after["history"][-1]["note"] == "called the customer"


async def test_patching_an_unknown_order_is_404(client, admin):
    response = await client.patch("/api/orders/LEG-1738704998-ZZZZ/", headers=admin, json={"status": "shipped"})

    await problem_of(response, 404)


async def test_routes_are_served_without_the_trailing_slash(client, admin):
    shirt = await make_product(client, admin)
    order = await place_order(client, (shirt, 1))

    response = await client.get(f"/api/orders/{order['id']}", headers=admin)

    assert response.status == 200, await response.text()
