"""Abuse limits (CONTRACT §1): unpaid orders per number, guest checkouts per address, inbound
messages per sender. Each is off until the shop sets it; set, it refuses with words a person can act on."""
import asyncio
from datetime import timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from core.models import InboundMessage, PaymentProof
from core.settings import Settings, problems
from tests.conftest import ADMIN_PHONE, CUSTOMER_PHONE, WhatsApp, open_windows
from tests.helpers import make_product, order_body
from tests.problem_details import order_count, problem_of
from webhooks.app import create_app
from webhooks.delivery import Policy

LIMITS = ("max_pending_orders_per_phone", "rate_limit_orders_per_minute", "rate_limit_inbound_per_minute")


@pytest.fixture
def shop(aiohttp_client, settings, clock):
    """The app with some limits set: `await shop(max_pending_orders_per_phone=2)`."""
    async def start(**limits):
        return await aiohttp_client(create_app(settings.model_copy(update=limits), clock=clock))
    return start


@pytest.fixture
def whatsapp(aiohttp_client, wa_settings, twilio, clock, uow):
    """Like the `wa` fixture, with some limits set: `await whatsapp(rate_limit_inbound_per_minute=2)`."""
    async def start(**limits):
        app = create_app(wa_settings.model_copy(update=limits), clock=clock, sweep_seconds=0.1,
                         policy=Policy(backoff_first=timedelta(milliseconds=50), backoff_cap=timedelta(milliseconds=200)))
        client = await aiohttp_client(app)
        await open_windows(uow, wa_settings.admin_phones)
        return WhatsApp(client, twilio)
    return start


async def _post_order(client, product, *, phone="0712 345 678", headers=None, **extra):
    return await client.post("/api/orders/", json=order_body((product, 1), phone=phone, **extra), headers=headers)


def _at_start_of_a_minute(clock) -> None:
    """Move the clock just past a minute boundary, so the steps of a test share one minute window."""
    now = clock.now()
    clock.advance(seconds=60 - now.second - now.microsecond / 1e6 + 0.1)


async def _stored(uow, phone: str) -> list[InboundMessage]:
    async with uow() as tx:
        rows = await tx.session.execute(select(InboundMessage).where(InboundMessage.from_phone == f"whatsapp:{phone}")
                                        .order_by(InboundMessage.id))
        return list(rows.scalars())


async def _quiet_then_count(twilio, phone: str, *, containing: str = "") -> int:
    await asyncio.sleep(0.5)  # what would have been sent is sent by now
    return len([m for m in twilio.messages_to(phone) if containing in (m["Body"] or "")])


# --- off by default ------------------------------------------------------------------------------

def test_every_limit_is_off_unless_the_shop_sets_it():
    settings = Settings(_env_file=None)

    assert [getattr(settings, name) for name in LIMITS] == [None, None, None]
    assert settings.trust_proxy_headers is False


@pytest.mark.parametrize("raw, parsed", [("5", 5), ("off", None), ("", None), ("0", None), ("none", None)])
def test_a_limit_is_a_number_or_off(monkeypatch, raw, parsed):
    for name in LIMITS:
        monkeypatch.setenv(name.upper(), raw)

    settings = Settings(_env_file=None)

    assert [getattr(settings, name) for name in LIMITS] == [parsed] * 3


def test_a_negative_limit_is_refused_with_what_to_write(monkeypatch):
    monkeypatch.setenv("MAX_PENDING_ORDERS_PER_PHONE", "-1")

    with pytest.raises(ValidationError) as refused:
        Settings(_env_file=None)

    assert problems(refused.value) == ["MAX_PENDING_ORDERS_PER_PHONE: -1 is not a limit (e.g. 3 or off)"]


async def test_without_limits_one_number_and_one_address_may_place_many_orders(client, admin):
    shirt = await make_product(client, admin, stock=100)

    statuses = [(await _post_order(client, shirt)).status for _ in range(8)]

    assert statuses == [201] * 8


async def test_without_limits_every_inbound_message_is_answered(wa):
    for n in range(6):
        await wa.say(f"hello {n}")

    assert len(await wa.replies_to(CUSTOMER_PHONE, 6)) == 6


# --- MAX_PENDING_ORDERS_PER_PHONE ----------------------------------------------------------------

async def test_a_number_with_the_most_unpaid_orders_allowed_gets_a_429_saying_what_to_do(shop, admin):
    client = await shop(max_pending_orders_per_phone=2)
    shirt = await make_product(client, admin, stock=100)
    for _ in range(2):
        assert (await _post_order(client, shirt)).status == 201

    response = await _post_order(client, shirt)

    problem = await problem_of(response, 429)
    assert problem["type"] == "/problems/too-many-pending-orders"
    assert "already has 2 unpaid orders" in problem["detail"] and "pay or cancel one first" in problem["detail"]
    assert problem["limit"] == 2 and problem["pending"] == 2
    assert "Retry-After" not in response.headers  # waiting does not help; paying or cancelling does
    assert await order_count(client, admin) == 2


async def test_the_pending_limit_counts_per_number(shop, admin):
    client = await shop(max_pending_orders_per_phone=1)
    shirt = await make_product(client, admin, stock=100)
    assert (await _post_order(client, shirt, phone="0712 345 678")).status == 201

    response = await _post_order(client, shirt, phone="0733 000 111")

    assert response.status == 201


async def test_a_retried_checkout_of_an_existing_reference_still_gets_its_order(shop, admin):
    client = await shop(max_pending_orders_per_phone=1)
    shirt = await make_product(client, admin, stock=100)
    first = await _post_order(client, shirt, orderReference="LEG-1738704998-X7K2")
    assert first.status == 201

    retry = await _post_order(client, shirt, orderReference="LEG-1738704998-X7K2")

    assert retry.status == 200
    assert (await retry.json())["id"] == (await first.json())["id"]
    await problem_of(await _post_order(client, shirt), 429)


async def test_cancelling_an_unpaid_order_makes_room_for_a_new_one(shop, admin):
    client = await shop(max_pending_orders_per_phone=1)
    shirt = await make_product(client, admin, stock=100)
    order = await (await _post_order(client, shirt)).json()
    await problem_of(await _post_order(client, shirt), 429)

    cancelled = await client.post(f"/api/orders/{order['id']}/cancel/", headers=admin, json={"reason": "test"})
    assert cancelled.status == 200

    assert (await _post_order(client, shirt)).status == 201


async def test_simultaneous_checkouts_of_one_number_never_pass_the_pending_limit(shop, admin):
    client = await shop(max_pending_orders_per_phone=2)
    shirt = await make_product(client, admin, stock=100)

    responses = await asyncio.gather(*(_post_order(client, shirt) for _ in range(6)))

    assert sorted(r.status for r in responses) == [201, 201, 429, 429, 429, 429]
    assert await order_count(client, admin) == 2


async def test_simultaneous_retries_of_one_reference_at_the_limit_all_get_the_one_order(shop, admin):
    client = await shop(max_pending_orders_per_phone=1)
    shirt = await make_product(client, admin, stock=100)

    responses = await asyncio.gather(*(_post_order(client, shirt, orderReference="LEG-1738704998-X7K2")
                                       for _ in range(4)))

    assert sorted(r.status for r in responses) == [200, 200, 200, 201]
    assert len({(await r.json())["id"] for r in responses}) == 1


# --- RATE_LIMIT_ORDERS_PER_MINUTE ----------------------------------------------------------------

async def test_an_address_past_the_checkout_rate_gets_a_429_with_retry_after(shop, admin):
    client = await shop(rate_limit_orders_per_minute=2)
    shirt = await make_product(client, admin, stock=100)
    for phone in ("0712 000 001", "0712 000 002"):
        assert (await _post_order(client, shirt, phone=phone)).status == 201

    response = await _post_order(client, shirt, phone="0712 000 003")

    problem = await problem_of(response, 429)
    assert problem["type"] == "/problems/rate-limited"
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert problem["retryAfter"] == int(response.headers["Retry-After"])
    assert await order_count(client, admin) == 2


async def test_the_checkout_rate_window_passes(shop, admin, clock):
    client = await shop(rate_limit_orders_per_minute=1)
    shirt = await make_product(client, admin, stock=100)
    assert (await _post_order(client, shirt, phone="0712 000 001")).status == 201
    await problem_of(await _post_order(client, shirt, phone="0712 000 002"), 429)

    clock.advance(minutes=2)

    assert (await _post_order(client, shirt, phone="0712 000 002")).status == 201


async def test_a_refused_retry_of_an_existing_reference_gets_its_order_once_the_window_passes(shop, admin, clock):
    client = await shop(rate_limit_orders_per_minute=1)
    shirt = await make_product(client, admin, stock=100)
    assert (await _post_order(client, shirt, orderReference="LEG-1738704998-X7K2")).status == 201
    await problem_of(await _post_order(client, shirt, orderReference="LEG-1738704998-X7K2"), 429)

    clock.advance(minutes=2)

    assert (await _post_order(client, shirt, orderReference="LEG-1738704998-X7K2")).status == 200


async def test_staff_placing_orders_for_customers_are_not_rate_limited(shop, admin):
    client = await shop(rate_limit_orders_per_minute=1)
    shirt = await make_product(client, admin, stock=100)

    statuses = [(await _post_order(client, shirt, headers=admin)).status for _ in range(3)]

    assert statuses == [201, 201, 201]


@pytest.mark.parametrize("trusted, third_status", [(True, 201), (False, 429)])
async def test_x_forwarded_for_names_the_client_only_when_the_proxy_is_trusted(shop, admin, trusted, third_status):
    client = await shop(rate_limit_orders_per_minute=2, trust_proxy_headers=trusted)
    shirt = await make_product(client, admin, stock=100)
    for phone in ("0712 000 001", "0712 000 002"):
        response = await client.post("/api/orders/", json=order_body((shirt, 1), phone=phone),
                                     headers={"X-Forwarded-For": "192.0.2.1, 203.0.113.7"})
        assert response.status == 201

    # The router appends the address it saw; what comes before it is whatever the client wrote.
    response = await client.post("/api/orders/", json=order_body((shirt, 1), phone="0712 000 003"),
                                 headers={"X-Forwarded-For": "203.0.113.7, 198.51.100.9"})

    assert response.status == third_status


# --- RATE_LIMIT_INBOUND_PER_MINUTE ---------------------------------------------------------------

async def test_messages_past_the_inbound_rate_are_kept_unanswered_and_admins_are_told_once(whatsapp, uow, admin, clock):
    _at_start_of_a_minute(clock)
    wa = await whatsapp(rate_limit_inbound_per_minute=2)
    shirt = await make_product(wa.client, admin, stock=10)
    order = await (await _post_order(wa.client, shirt)).json()
    await wa.say("hello")
    await wa.say("hello again")
    await wa.replies_to(CUSTOMER_PHONE, 2)

    await wa.say(f"I have paid for {order['orderReference']}")
    await wa.say("hello?")

    stored = await _stored(uow, CUSTOMER_PHONE)
    assert [m.body for m in stored][2:] == [f"I have paid for {order['orderReference']}", "hello?"]
    assert all(m.processed_at is not None and "RATE_LIMIT_INBOUND_PER_MINUTE" in m.error for m in stored[2:])
    assert await _quiet_then_count(wa.twilio, CUSTOMER_PHONE) == 2
    assert await _quiet_then_count(wa.twilio, ADMIN_PHONE, containing="🚦") == 1
    [alert] = [m["Body"] for m in wa.twilio.messages_to(ADMIN_PHONE) if "🚦" in m["Body"]]
    assert CUSTOMER_PHONE in alert and "more than 2 messages in a minute" in alert
    detail = await (await wa.client.get(f"/api/orders/{order['id']}/", headers=admin)).json()
    assert detail["paymentStatus"] == "unpaid"  # no effects either
    async with uow() as tx:
        assert (await tx.session.execute(select(PaymentProof))).first() is None


async def test_the_inbound_rate_window_passes(whatsapp, clock):
    wa = await whatsapp(rate_limit_inbound_per_minute=1)
    await wa.say("hello")
    await wa.say("hello again")
    assert await _quiet_then_count(wa.twilio, CUSTOMER_PHONE) == 1

    clock.advance(minutes=2)
    await wa.say("anyone there?")

    assert len(await wa.replies_to(CUSTOMER_PHONE, 2)) == 2


async def test_a_sender_still_flooding_in_a_later_minute_is_reported_again(whatsapp, clock):
    wa = await whatsapp(rate_limit_inbound_per_minute=1)
    for _ in range(2):
        await wa.say("hello")
        await wa.say("hello")
        clock.advance(minutes=2)

    assert await _quiet_then_count(wa.twilio, ADMIN_PHONE, containing="🚦") == 2


async def test_the_inbound_rate_counts_per_sender(whatsapp):
    wa = await whatsapp(rate_limit_inbound_per_minute=1)
    await wa.say("hello", phone=CUSTOMER_PHONE)

    await wa.say("hello", phone="+254733000111")

    assert len(await wa.replies_to("+254733000111")) == 1


async def test_admins_commands_are_not_rate_limited(whatsapp):
    wa = await whatsapp(rate_limit_inbound_per_minute=1)

    for _ in range(3):
        await wa.say("help", phone=ADMIN_PHONE)

    assert len(await wa.replies_to(ADMIN_PHONE, 3)) == 3
