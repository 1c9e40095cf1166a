"""Two actors on one order (or product, or payment code) at the same moment: every check that gates
a change, or the answer about it, is made under the lock of what it reads (the order's row, the
product's, the code's), so the other side's change landing between the bot's look and its act is
seen, never overwritten.

The in-process tests force that interleaving with a hook (`meanwhile`): the other actor's request
starts just before the bot's step runs and the step waits until that request has finished or is
waiting for a lock the bot holds. They need PostgreSQL: on SQLite writers take turns whole (BEGIN
IMMEDIATE), so no other write can land inside the bot's transaction. The last test races two real
`orderdesk serve` processes on one PostgreSQL database, as the issue's attack did.
"""
from __future__ import annotations

import asyncio
from datetime import timedelta

import aiohttp
import pytest
from sqlalchemy import text

from core import catalog, inbox, jobs, orders, proofs
from tests.conftest import ADMIN_PHONE, CUSTOMER_PHONE, open_windows, run_blocking, _truncate
from tests.helpers import eventually, make_product, order_body
from tests.test_jobs import with_settings
from tests.test_processes import Server, cli, environment, say
from webhooks import keys, twilio as twilio_webhook

postgres_only = pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
WAITING_FOR_A_LOCK = text("SELECT count(*) FROM pg_stat_activity "
                          "WHERE datname = current_database() AND wait_event_type = 'Lock'")


class Meanwhile:
    """`before(owner, name, change)`: the first call of `owner.name` first starts `change()` (another
    actor's request) and goes on once it has finished or waits for a lock the caller holds."""

    def __init__(self, monkeypatch, uow) -> None:
        self.monkeypatch, self.uow = monkeypatch, uow
        self.task: asyncio.Task | None = None

    def before(self, owner, name: str, change) -> None:
        real = getattr(owner, name)

        async def hooked(*args, **kwargs):
            if self.task is None:
                self.task = asyncio.ensure_future(change())
                await eventually(self._settled, timeout=5.0, interval=0.01)
            return await real(*args, **kwargs)
        self.monkeypatch.setattr(owner, name, hooked)

    async def _settled(self) -> bool:
        if self.task.done():
            return True
        async with self.uow(readonly=True) as tx:
            return await tx.scalar(WAITING_FOR_A_LOCK) > 0

    async def result(self):
        assert self.task is not None, "the hooked step never ran"
        return await asyncio.wait_for(self.task, 10)


@pytest.fixture
def meanwhile(monkeypatch, uow) -> Meanwhile:
    return Meanwhile(monkeypatch, uow)


@pytest.fixture
async def order(wa, admin, uow) -> dict:
    """A customer who wrote to us today and their pending order of 2 (stock 10); the admin's alert is out."""
    await open_windows(uow, [CUSTOMER_PHONE])
    product = await make_product(wa.client, admin, stock=10)
    placed = await (await wa.client.post("/api/orders/", json=order_body((product, 2)))).json()
    await wa.replies_to(ADMIN_PHONE)
    return {**placed, "product": product}


async def order_now(wa, admin, order) -> dict:
    return await (await wa.client.get(f"/api/orders/{order['id']}/", headers=admin)).json()


async def stock_of(wa, product) -> int:
    return (await (await wa.client.get(f"/api/products/{product['id']}/")).json())["stockQuantity"]


async def reply_with(wa, phone: str, words: str) -> str:
    [body] = await wa.twilio.wait_for(lambda: [m["Body"] for m in wa.twilio.messages_to(phone) if words in m["Body"]])
    return body


def confirm_via_api(wa, admin, order):
    return lambda: wa.client.post(f"/api/orders/{order['id']}/confirm/", headers=admin)


@postgres_only
async def test_a_customer_cannot_cancel_an_order_an_admin_confirmed_meanwhile(wa, admin, order, meanwhile):
    meanwhile.before(orders, "cancel_order", confirm_via_api(wa, admin, order))

    await wa.say(f"cancel {order['orderReference']}")

    assert (await meanwhile.result()).status == 200
    now = await order_now(wa, admin, order)
    assert now["status"] == "confirmed"
    assert [h["to"] for h in now["history"]] == ["pending", "confirmed"]
    assert await stock_of(wa, order["product"]) == 8
    refusal = await reply_with(wa, CUSTOMER_PHONE, "can't be cancelled")
    assert order["orderReference"] in refusal and "confirmed" in refusal


@postgres_only
async def test_a_payment_report_never_undoes_the_verified_payment_of_a_confirm_meanwhile(
        wa, admin, order, meanwhile):
    meanwhile.before(proofs, "record_proof", confirm_via_api(wa, admin, order))

    await wa.say(f"I have paid for {order['orderReference']}")

    assert (await meanwhile.result()).status == 200
    now = await order_now(wa, admin, order)
    assert (now["status"], now["paymentStatus"]) == ("confirmed", "verified")
    assert len(now["paymentProofs"]) == 1
    await reply_with(wa, CUSTOMER_PHONE, "We got your payment report")


@postgres_only
async def test_an_order_is_never_expired_while_its_payment_report_is_recorded(wa, admin, order, uow, clock,
                                                                              meanwhile):
    clock.advance(hours=25)
    expiring = with_settings(uow, pending_expiry_after=timedelta(hours=24))
    meanwhile.before(proofs, "record_proof", lambda: jobs.expire_unpaid(expiring))

    await wa.say("I have paid")  # no reference: the newest pending order

    expired = await meanwhile.result()
    now = await order_now(wa, admin, order)
    # The report took the order's lock first, so the expiry, waiting for it, found the proof.
    assert expired == "0 order(s) expired"
    assert (now["status"], now["paymentStatus"]) == ("pending", "reported")
    ack = await reply_with(wa, CUSTOMER_PHONE, "We got your payment report")
    assert order["orderReference"] in ack


@postgres_only
async def test_no_payment_reminder_is_queued_while_a_payment_report_is_recorded(wa, admin, order, uow, clock,
                                                                                 meanwhile):
    clock.advance(hours=7)
    reminding = with_settings(uow, payment_reminder_after=timedelta(hours=6))
    meanwhile.before(proofs, "record_proof", lambda: jobs.remind_unpaid(reminding))

    await wa.say("I have paid")

    reminded = await meanwhile.result()
    await reply_with(wa, CUSTOMER_PHONE, "We got your payment report")
    # The reminder job waited for the report's lock on the order, then found it reported.
    assert reminded == "0 reminder(s) queued", reminded
    assert not [m for m in wa.twilio.messages_to(CUSTOMER_PHONE) if "reminder" in m["Body"]]


@postgres_only
async def test_an_admins_cancel_says_stock_was_put_back_when_a_confirm_took_it_meanwhile(
        wa, admin, order, meanwhile):
    meanwhile.before(orders, "cancel_order", confirm_via_api(wa, admin, order))

    await wa.say(f"cancel {order['orderReference']}", phone=ADMIN_PHONE)

    assert (await meanwhile.result()).status == 200
    answer = await reply_with(wa, ADMIN_PHONE, "✖")
    assert "stock put back" in answer
    assert await stock_of(wa, order["product"]) == 10


@postgres_only
async def test_an_admins_stock_change_answers_the_level_it_started_from(wa, admin, order, meanwhile):
    product = order["product"]  # 10 in stock
    delivery = lambda: wa.client.post(f"/api/products/{product['id']}/stock/", json={"delta": 3, "reason": "delivery"},
                                      headers=admin)
    meanwhile.before(catalog, "adjust_stock", delivery)

    await wa.say(f"stock {product['barcode']} +5", phone=ADMIN_PHONE)

    assert (await meanwhile.result()).status == 200
    answer = await reply_with(wa, ADMIN_PHONE, "→")
    assert "10 → 15" in answer
    assert await stock_of(wa, product) == 18


def paybill(code: str, reference: str) -> str:
    return (f"{code} Confirmed. Ksh3,000.00 sent to LEGO MENSWEAR for account {reference} on 4/2/26 at 9:36 PM "
            f"New M-PESA balance is Ksh1,234.00. Transaction cost, Ksh0.00.")


@postgres_only
async def test_one_code_reported_for_two_orders_at_once_is_flagged_on_the_second(wa, admin, order, uow, meanwhile):
    other_phone = "+254712000999"
    other = await (await wa.client.post("/api/orders/",
                                        json=order_body((order["product"], 2), phone=other_phone))).json()

    async def other_customer_reports_the_same_code():
        async with uow() as tx:
            message_id = await inbox.store(tx, message_sid="SM" + "9" * 32, from_phone=f"whatsapp:{other_phone}",
                                           body=paybill("QJK3RACE12", other["orderReference"]), media=[],
                                           wa_id=other_phone[1:], profile_name="Baraka")
            await tx.commit()
        await twilio_webhook.process(wa.client.app[keys.UOW], message_id)
    meanwhile.before(proofs, "record_proof", other_customer_reports_the_same_code)

    await wa.say(paybill("QJK3RACE12", order["orderReference"]))

    await meanwhile.result()
    [first] = (await order_now(wa, admin, order))["paymentProofs"]
    [second] = (await order_now(wa, admin, other))["paymentProofs"]
    assert not [flag for flag in first["flags"] if flag.startswith("code_reused")]
    assert f"code_reused: QJK3RACE12 already used for {order['orderReference']}" in second["flags"]


async def test_paid_on_a_cancelled_order_is_refused_and_records_nothing(wa, admin, order):
    await wa.client.post(f"/api/orders/{order['id']}/cancel/", json={"reason": "customer asked"}, headers=admin)

    await wa.say(f"paid {order['orderReference']} QJK3ABCD12 3000", phone=ADMIN_PHONE)

    answer = await reply_with(wa, ADMIN_PHONE, "⛔")
    assert order["orderReference"] in answer and "cancelled" in answer
    now = await order_now(wa, admin, order)
    assert now["paymentProofs"] == [] and now["paymentStatus"] == "unpaid"


# --- two real processes on one PostgreSQL ----------------------------------------------------

RACES = 10
PRODUCT_ID = "7f1c8a52-3f0e-4d6b-9a51-0c2b7e6d1a01"  # seed-demo's shirt, 25 in stock


async def test_a_customers_cancel_racing_an_admins_confirm_on_two_servers_ends_one_legal_way(
        tmp_path, twilio, request):
    database_url = request.getfixturevalue("postgres_database")
    run_blocking(_truncate(database_url))
    env = environment(database_url, twilio)
    token = (await asyncio.to_thread(cli, tmp_path, env, "token", "create", "--role", "admin", "--name", "ops")
             ).strip().splitlines()[-1]
    await asyncio.to_thread(cli, tmp_path, env, "seed-demo")
    admin = {"Authorization": f"Bearer {token}"}
    phones = [f"+2547120001{n:02d}" for n in range(RACES)]
    servers = [await Server(tmp_path, env).start(), await Server(tmp_path, env).start()]
    try:
        async with aiohttp.ClientSession() as http:
            placed = []
            for i, phone in enumerate(phones):
                async with http.post(f"{servers[0].url}/api/orders/", json={
                        "customerName": f"Customer {i}", "customerPhone": phone,
                        "items": [{"productId": PRODUCT_ID, "quantity": 1}]}) as response:
                    assert response.status == 201
                    placed.append(await response.json())

            async def confirm(order) -> int:
                async with http.post(f"{servers[1].url}/api/orders/{order['id']}/confirm/", headers=admin) as response:
                    return response.status

            outcomes = []
            for phone, order in zip(phones, placed):
                # The customer's cancel to one server (the webhook answers at once; the bot's turn runs after)
                # and, while that turn runs, the admin's confirm to the other.
                await say(http, servers[0], twilio, phone, f"cancel {order['orderReference']}")
                confirmed = await confirm(order)
                # The bot has answered once the customer hears the refusal or the cancellation.
                await twilio.wait_for(lambda: [m for m in twilio.messages_to(phone) if
                                               "can't be cancelled" in m["Body"] or "been cancelled" in m["Body"]],
                                      timeout=15.0)
                async with http.get(f"{servers[0].url}/api/orders/{order['id']}/", headers=admin) as response:
                    now = await response.json()
                outcomes.append((phone, confirmed, [(h["to"], h["by"]) for h in now["history"]]))

        for phone, confirmed, steps in outcomes:  # one of the two legal outcomes, each time
            if confirmed == 200:
                assert steps == [("pending", "storefront"), ("confirmed", "token:ops")], steps
            else:
                assert (confirmed, steps) == (409, [("pending", "storefront"), ("cancelled", phone)])
    finally:
        for server in servers:
            server.stop()
