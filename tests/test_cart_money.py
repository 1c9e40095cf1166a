"""Money from a JavaScript cart (CONTRACT §2): JSON-number prices and totals are compared after
rounding to the cent, and counts may come as numeric strings, as the Django-era API took them."""
import pytest

from tests.helpers import make_product, order_body
from tests.problem_details import field_messages, problem_of


@pytest.mark.parametrize("price, quantity, unit_price, total, expected", [
    ("19.99", 6, 19.99, 119.93999999999998, "119.94"),   # observed: 400 "no more than 12 digits"
    ("0.10", 3, 0.1, 0.30000000000000004, "0.30"),
    ("33.33", 3, 33.33, 99.99, "99.99"),
    ("1500.00", 2, 1500, 3000, "3000.00"),
    ("4.35", 100, 4.35, 434.99999999999994, "435.00"),
])
async def test_json_number_money_equal_to_the_catalog_to_the_cent_is_accepted(
        client, admin, price, quantity, unit_price, total, expected):
    product = await make_product(client, admin, price=price)
    body = order_body((product, quantity), total=total)
    body["items"][0]["unitPrice"] = unit_price

    response = await client.post("/api/orders/", json=body)

    assert response.status == 201, await response.text()
    assert (await response.json())["total"] == expected


async def test_a_json_number_total_a_cent_off_the_catalog_is_409(client, admin):
    product = await make_product(client, admin, price="19.99")

    response = await client.post("/api/orders/", json=order_body((product, 6), total=119.93))

    assert (await problem_of(response, 409))["total"] == "119.94"


async def test_a_decimal_string_with_three_places_is_still_refused(client, admin):
    product = await make_product(client, admin, price="19.99")

    response = await client.post("/api/orders/", json=order_body((product, 6), total="119.945"))

    assert "total" in field_messages(await problem_of(response, 400))


@pytest.mark.parametrize("quantity, item_count", [("3", "3"), (" 3 ", 3), ("3", None)])
async def test_counts_as_numeric_strings_are_accepted(client, admin, quantity, item_count):
    product = await make_product(client, admin, price="1500.00")
    body = order_body((product, 1), **({"itemCount": item_count} if item_count is not None else {}))
    body["items"][0]["quantity"] = quantity   # observed: 400 where the Django-era API accepted it

    response = await client.post("/api/orders/", json=body)

    assert response.status == 201, await response.text()
    assert (await response.json())["itemCount"] == 3


@pytest.mark.parametrize("quantity", ["3.0", "-3", "three", True, 2.5, ""])
async def test_a_count_that_is_not_a_whole_number_is_400_naming_the_field(client, admin, quantity):
    product = await make_product(client, admin)
    body = order_body((product, 1))
    body["items"][0]["quantity"] = quantity

    response = await client.post("/api/orders/", json=body)

    assert "items[0].quantity" in field_messages(await problem_of(response, 400))
