"""What reaches the databases (CONTRACT §2): text kept verbatim on SQLite and PostgreSQL alike, or refused
alike as a client error — never a 5xx, never half-written. The two differ underneath (U+0000, LIKE
escapes, NOT NULL checks), so every test here runs on both."""
from urllib.parse import quote_plus

import pytest
from sqlalchemy import select

from core.models import InboundMessage
from tests.conftest import CUSTOMER_PHONE, PUBLIC_BASE_URL
from tests.fake_twilio import sign
from tests.helpers import make_product, order_body, place_order
from tests.problem_details import field_messages, item_with, order_count, problem_of, snapshot

NUL = "\x00"  # PostgreSQL cannot store U+0000 in text; SQLite can


@pytest.fixture
async def shop(client, admin) -> dict:
    shirt = await make_product(client, admin, stock=5)
    order = await place_order(client, (shirt, 1))
    return {"shirt": shirt, "order": order}


@pytest.mark.parametrize("field", ["customerName", "customerAddress", "notes"])
async def test_a_nul_character_in_an_order_field_is_400_naming_it(client, admin, shop, field):
    response = await client.post("/api/orders/", json=order_body((shop["shirt"], 1), **{field: f"Ami{NUL}na"}))

    problem = await problem_of(response, 400)
    assert field in field_messages(problem)
    assert await order_count(client, admin) == 1


@pytest.mark.parametrize("field", ["productId", "barcode", "selectedSize"])
async def test_a_nul_character_in_an_item_field_is_400_naming_it(client, admin, shop, field):
    body = order_body()
    body["items"] = [item_with(shop["shirt"], **{field: f"M{NUL}"})]

    response = await client.post("/api/orders/", json=body)

    problem = await problem_of(response, 400)
    assert f"items[0].{field}" in field_messages(problem)
    assert await order_count(client, admin) == 1


async def test_a_nul_character_in_a_product_name_is_400_naming_it(client, admin):
    response = await client.post("/api/products/", headers=admin,
                                 json={"name": f"Belt{NUL}", "barcode": "BELT-1", "price": "900.00"})

    problem = await problem_of(response, 400)
    assert "name" in field_messages(problem)


@pytest.mark.parametrize("path", ["/api/orders/%00/", "/api/products/%00/"])
async def test_a_nul_character_in_an_id_is_404(client, admin, path):
    response = await client.get(path, headers=admin)

    await problem_of(response, 404)


@pytest.mark.parametrize("path", ["/api/orders/?search=%00", "/api/products/?search=%00"])
async def test_a_nul_character_in_a_search_is_400_naming_search(client, admin, path):
    response = await client.get(path, headers=admin)

    problem = await problem_of(response, 400)
    assert "search" in field_messages(problem)


@pytest.mark.parametrize("field", ["name", "price", "barcode", "sizes", "description", "category"])
async def test_patching_a_required_product_field_to_null_is_400_naming_it(client, admin, shop, field):
    before = await snapshot(client, admin)

    response = await client.patch(f"/api/products/{shop['shirt']['id']}/", headers=admin, json={field: None})

    problem = await problem_of(response, 400)
    assert field in field_messages(problem)
    assert await snapshot(client, admin) == before


NAMES = ["Robert'); DROP TABLE orders;--", "' OR '1'='1", "Amina 👩🏾‍💻 Otieno ✨", "Zoë Ñandú 测试 عائشة",
         "%_\\ LIKE '%'"]


@pytest.mark.parametrize("name", NAMES)
async def test_sql_looking_and_emoji_text_round_trips_verbatim_on_an_order(client, admin, shop, name):
    body = order_body((shop["shirt"], 1), customerName=name, customerAddress=name, notes=name)
    body["items"][0]["selectedColor"] = name[:50]

    response = await client.post("/api/orders/", json=body)

    assert response.status == 201, await response.text()
    created = await response.json()
    fetched = await (await client.get(f"/api/orders/{created['id']}/", headers=admin)).json()
    assert (fetched["customerName"], fetched["customerAddress"], fetched["notes"]) == (name, name, name)
    assert fetched["items"][0]["selectedColor"] == name[:50]
    assert await order_count(client, admin) == 2


@pytest.mark.parametrize("name", NAMES)
async def test_sql_looking_and_emoji_text_round_trips_verbatim_on_a_product(client, admin, name):
    response = await client.post("/api/products/", headers=admin, json={
        "name": name, "barcode": "B-1", "price": "1.00", "description": name, "category": name})

    assert response.status == 201, await response.text()
    fetched = await (await client.get(f"/api/products/{(await response.json())['id']}/")).json()
    assert (fetched["name"], fetched["description"], fetched["category"]) == (name, name, name)


@pytest.mark.parametrize("search", ["%", "_", "%%", "\\"])
async def test_like_wildcards_in_a_search_are_taken_literally(client, admin, shop, search):
    response = await client.get("/api/orders/", headers=admin, params={"search": search})

    assert response.status == 200, await response.text()
    assert (await response.json())["count"] == 0


async def test_a_search_finds_text_with_wildcard_characters_in_it(client, admin, shop):
    wanted = await place_order(client, (shop["shirt"], 1), customerName="100% Cotton_Shop")

    response = await client.get("/api/orders/", headers=admin, params={"search": "0% cotton_"})

    assert [o["id"] for o in (await response.json())["results"]] == [wanted["id"]]


# -- Twilio's webhooks (CONTRACT §3): a form Twilio would not send is a 400 that stores nothing;
# control characters in free text are removed and the message kept.

async def _inbound_rows(uow) -> list[InboundMessage]:
    async with uow(readonly=True) as tx:
        return list((await tx.session.execute(select(InboundMessage).order_by(InboundMessage.id))).scalars())


def _raw_form(form: dict[str, str | bytes]) -> bytes:
    return b"&".join(name.encode() + b"=" + (value if isinstance(value, bytes) else quote_plus(value).encode())
                     for name, value in form.items())


@pytest.mark.parametrize("body", [b"\x00\xff\xfe", b"%00%FF%FE"], ids=["raw", "percent-encoded"])
@pytest.mark.parametrize("path", ["/webhooks/twilio/whatsapp", "/webhooks/twilio/status"])
async def test_a_webhook_body_that_is_not_utf8_is_400_and_stores_nothing(wa, uow, body, path):
    form = {**wa.twilio.inbound_form(CUSTOMER_PHONE, "x"), "MessageStatus": "delivered"}
    raw = _raw_form({**form, "Body": body})
    for signature in ("forged", sign(PUBLIC_BASE_URL + path, form, wa.twilio.auth_token)):
        response = await wa.client.post(path, data=raw, headers={
            "Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature})
        assert response.status == 400, await response.text()
    assert await _inbound_rows(uow) == []


@pytest.mark.parametrize("field", ["MessageSid", "From"])
async def test_a_nul_in_a_webhooks_message_sid_or_sender_is_400_and_stores_nothing(wa, uow, field):
    form = wa.twilio.inbound_form(CUSTOMER_PHONE, "hi")
    form[field] = form[field][:6] + NUL + form[field][6:]
    if field == "MessageSid":
        form["SmsMessageSid"] = form["SmsSid"] = form["MessageSid"]

    response = await wa.post_form("/webhooks/twilio/whatsapp", form)

    assert response.status == 400
    assert await _inbound_rows(uow) == [] and wa.twilio.requests == []


async def test_control_characters_in_a_webhooks_text_are_removed_and_the_customer_answered(wa, uow):
    await wa.say(f"hi{NUL}there\x07\nsecond line", profile_name=f"Ami{NUL}na\x1b")

    [stored] = await _inbound_rows(uow)
    assert (stored.body, stored.profile_name) == ("hithere\nsecond line", "Amina")
    await wa.replies_to(CUSTOMER_PHONE)


async def test_a_nul_in_a_status_callbacks_sid_is_400(wa):
    form = {"MessageSid": f"SM{NUL}1", "MessageStatus": "delivered", "AccountSid": wa.twilio.account_sid}
    response = await wa.post_form("/webhooks/twilio/status", form)
    assert response.status == 400
