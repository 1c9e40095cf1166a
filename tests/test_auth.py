"""Bearer tokens and roles (CONTRACT §2): 401 without a good token, 403 for the wrong role, customers see their own."""
import pytest
from sqlalchemy import select

from core.models import ApiToken
from core.tokens import Role, create_token, revoke_token
from tests.databases import sqlite_only
from tests.helpers import make_product, place_order
from tests.problem_details import problem_of

STAFF_ONLY = [
    ("POST", "/api/products/", {"name": "X", "barcode": "X-1", "price": "1.00"}),
    ("PATCH", "/api/products/any/", {"name": "Y"}),
    ("POST", "/api/products/any/stock/", {"delta": 1}),
    ("GET", "/api/orders/", None),
    ("PATCH", "/api/orders/any/", {"status": "shipped"}),
    ("POST", "/api/orders/any/confirm/", None),
    ("POST", "/api/orders/any/cancel/", None),
]


async def new_token(uow, role: Role, name: str, phone: str | None = None) -> dict:
    async with uow() as tx:
        secret = await create_token(tx, name=name, role=role, phone=phone)
        await tx.commit()
    return {"Authorization": f"Bearer {secret}"}


@sqlite_only
@pytest.mark.parametrize("method,path,body", STAFF_ONLY)
async def test_a_staff_route_without_a_token_is_401(client, method, path, body):
    response = await client.request(method, path, json=body)

    await problem_of(response, 401)


@pytest.mark.parametrize("header", ["Bearer od_not-a-real-token", "Bearer ", "Basic YWRtaW46YWRtaW4=", "od_x"])
async def test_a_bad_token_is_401(client, header):
    response = await client.get("/api/orders/", headers={"Authorization": header})

    await problem_of(response, 401)


async def test_a_revoked_token_is_401(client, uow):
    headers = await new_token(uow, Role.ADMIN, "leaving-clerk")
    assert (await client.get("/api/orders/", headers=headers)).status == 200
    async with uow() as tx:
        await revoke_token(tx, "leaving-clerk")
        await tx.commit()

    response = await client.get("/api/orders/", headers=headers)

    await problem_of(response, 401)


@sqlite_only
@pytest.mark.parametrize("method,path,body", STAFF_ONLY)
async def test_a_customer_token_on_a_staff_route_is_403(client, customer, method, path, body):
    response = await client.request(method, path, headers=customer, json=body)

    problem = await problem_of(response, 403)
    assert "customer" in problem["detail"]


async def test_a_staff_token_on_my_orders_is_403(client, staff):
    response = await client.get("/api/orders/my-orders/", headers=staff)

    await problem_of(response, 403)


async def test_a_role_check_changes_nothing(client, admin, customer):
    shirt = await make_product(client, admin, stock=5)
    order = await place_order(client, (shirt, 2))

    await client.post(f"/api/orders/{order['id']}/confirm/", headers=customer)

    fresh = await (await client.get(f"/api/orders/{order['id']}/", headers=admin)).json()
    assert fresh["status"] == "pending"
    assert (await (await client.get(f"/api/products/{shirt['id']}/")).json())["stockQuantity"] == 5


async def test_my_orders_lists_only_the_orders_of_the_tokens_phone(client, admin, customer):
    shirt = await make_product(client, admin)
    mine = [await place_order(client, (shirt, 1), phone="0712 345 678") for _ in range(2)]
    await place_order(client, (shirt, 1), phone="0722 000 111")

    response = await client.get("/api/orders/my-orders/", headers=customer)

    assert response.status == 200, await response.text()
    page = await response.json()
    assert page["count"] == 2
    assert [o["id"] for o in page["results"]] == [o["id"] for o in reversed(mine)]


async def test_a_customer_reads_their_own_order(client, admin, customer):
    shirt = await make_product(client, admin)
    order = await place_order(client, (shirt, 1), phone="+254712345678")

    response = await client.get(f"/api/orders/{order['orderReference']}/", headers=customer)

    assert response.status == 200, await response.text()
    assert (await response.json())["id"] == order["id"]


async def test_another_customers_order_is_404_for_a_customer(client, admin, customer):
    shirt = await make_product(client, admin)
    theirs = await place_order(client, (shirt, 1), phone="0722 000 111")

    by_id = await client.get(f"/api/orders/{theirs['id']}/", headers=customer)
    by_reference = await client.get(f"/api/orders/{theirs['orderReference']}/", headers=customer)

    for response in (by_id, by_reference):
        problem = await problem_of(response, 404)
        assert "0722" not in problem["detail"] and "+254722000111" not in problem["detail"]


async def test_reading_an_order_without_a_token_is_401(client, admin):
    shirt = await make_product(client, admin)
    order = await place_order(client, (shirt, 1))

    response = await client.get(f"/api/orders/{order['id']}/")

    await problem_of(response, 401)


async def test_guest_checkout_needs_no_token(client, admin):
    shirt = await make_product(client, admin)

    response = await client.post("/api/orders/", json={
        "customerName": "Amina", "customerPhone": "0712 345 678", "items": [{"productId": shirt["id"], "quantity": 1}]})

    assert response.status == 201, await response.text()


async def test_tokens_are_stored_hashed_never_in_plaintext(client, uow):
    headers = await new_token(uow, Role.STAFF, "till")
    secret = headers["Authorization"].removeprefix("Bearer ")

    async with uow() as tx:
        rows = (await tx.session.execute(select(ApiToken.__table__))).all()

    stored = " ".join(str(value) for row in rows for value in row)
    assert rows and secret not in stored
    assert (await client.get("/api/orders/", headers=headers)).status == 200
