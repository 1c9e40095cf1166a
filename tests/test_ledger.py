"""The shop's own ledger (CONTRACT §4), end to end: money-in texts posted to POST /webhooks/ledger as an
SMS-forwarder app posts them (or forwarded by an admin on WhatsApp), customers' forwarded confirmations
through the signed Twilio webhook, and what the customers and the admins get, through the fake Twilio.
A claim is verified only by the shop's own received text with the same code and amount."""
from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from core import jobs, ledger
from core.models import LedgerEntry, OutboundMessage
from tests.conftest import ADMIN_PHONE, CUSTOMER_PHONE, open_windows
from tests.databases import sqlite_only
from tests.helpers import eventually, make_product, place_order
from webhooks import keys, scheduler
from webhooks.app import create_app
from webhooks.delivery import Policy

TOKEN = "ledger-forwarder-token-0123456789"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
ZONE = ZoneInfo("Africa/Nairobi")
TEMPLATE = "HX" + "7" * 32


@pytest.fixture
def wa_settings(wa_settings):
    """The WhatsApp app of conftest, with the shop keeping a ledger (LEDGER_TOKEN set)."""
    return wa_settings.model_copy(update={"ledger_token": TOKEN, "shop_timezone": "Africa/Nairobi",
                                          "whatsapp_templates": {"payment_received": TEMPLATE}})


@pytest.fixture
def make_app(aiohttp_client, wa_settings, twilio, clock, uow):
    """Another app on the same database and fake Twilio, with other settings (AUTO_CONFIRM_ON_LEDGER…)."""
    async def make(**changes):
        from tests.conftest import WhatsApp

        app = create_app(wa_settings.model_copy(update=changes), clock=clock, sweep_seconds=0.1,
                         policy=Policy(backoff_first=timedelta(milliseconds=50),
                                       backoff_cap=timedelta(milliseconds=200)))
        client = await aiohttp_client(app)
        await open_windows(uow, wa_settings.admin_phones)
        return WhatsApp(client, twilio)
    return make


# --- the texts: the customer's forwarded claim, the shop's own received text ---------------------------

def _when(clock) -> str:
    now = clock.now().astimezone(ZONE)
    return f"{now.day}/{now.month}/{now:%y} at {now:%I:%M %p}".replace(" 0", " ")


def claim(clock, code: str, amount: str = "3,000.00") -> str:
    """What the customer forwards: M-PESA's "sent" text from their phone."""
    return (f"{code} Confirmed. Ksh{amount} sent to DEMO SHOP 0711000000 on {_when(clock)}. New M-PESA balance is "
            f"Ksh1,234.00. Transaction cost, Ksh0.00.")


def received(clock, code: str, amount: str = "3,000.00", payer: str = "AMINA OTIENO 0712***678") -> str:
    """What the shop's phone gets: M-PESA's "You have received" text (the payer's number masked, as
    Safaricom prints it now)."""
    return (f"{code} Confirmed.You have received Ksh{amount} from {payer} on {_when(clock)} New M-PESA balance is "
            f"Ksh45,000.00. Separate personal and business funds through Pochi la Biashara on *334#.")


def paybill(clock, code: str, account: str, amount: str = "3,000.00") -> str:
    return (f"{code} Confirmed. Ksh{amount} received from AMINA OTIENO 254712345678 for account {account} on "
            f"{_when(clock)}. New Utility balance is Ksh48,000.00.")


async def post_ledger(client, text: str | None = None, *, headers=BEARER, **fields):
    body = {"from": "MPESA", "text": text, "sentStamp": 1764500000000, **fields}
    return await client.post("/webhooks/ledger", json={k: v for k, v in body.items() if v is not None},
                             headers=headers)


async def pending_order(wa, admin, *, phone: str = CUSTOMER_PHONE, price: str = "3000.00", stock: int = 10,
                        quantity: int = 1) -> dict:
    product = await make_product(wa.client, admin, stock=stock, price=price)
    order = await place_order(wa.client, (product, quantity), phone=phone)
    return {**order, "product": product}


async def order_now(wa, admin, order) -> dict:
    response = await wa.client.get(f"/api/orders/{order['id']}/", headers=admin)
    assert response.status == 200
    return await response.json()


async def ledger_page(wa, admin, query: str = "") -> dict:
    response = await wa.client.get(f"/api/ledger/{query}", headers=admin)
    assert response.status == 200, await response.text()
    return await response.json()


async def message_to(wa, phone: str, words: str) -> dict:
    [message] = await wa.twilio.wait_for(lambda: [m for m in wa.twilio.messages_to(phone)
                                                  if words in (m["Body"] or "") + (m["ContentVariables"] or "")])
    return message


async def all_sent(wa) -> None:
    """Until the outbox holds nothing waiting: what was queued has reached the fake Twilio."""
    async def idle():
        async with wa.client.app[keys.UOW](readonly=True) as tx:
            return await tx.scalar(select(func.count()).select_from(OutboundMessage).where(
                OutboundMessage.twilio_sid.is_(None), OutboundMessage.status.in_(("queued", "sending")))) == 0
    await eventually(idle)


def to_admin(wa, words: str) -> list[str]:
    return [m["Body"] for m in wa.twilio.messages_to(ADMIN_PHONE) if words in (m["Body"] or "")]


# --- claim and entry -----------------------------------------------------------------------------------

async def test_a_claim_then_its_ledger_entry_verifies_the_payment(wa, admin, clock):
    # Given a customer who forwarded M-PESA's text for their order
    order = await pending_order(wa, admin)
    await wa.say(claim(clock, "TKA1LEDG01") + f" {order['orderReference']}")
    assert (await order_now(wa, admin, order))["paymentStatus"] == "reported"

    # When the shop's phone forwards its own "You have received" text for that code
    response = await post_ledger(wa.client, received(clock, "TKA1LEDG01"))

    # Then it is kept, the payment is verified by the ledger, and the admins are told
    assert response.status == 201, await response.text()
    [entry] = (await response.json())["entries"]
    assert (entry["transactionCode"], entry["amount"], entry["orderReference"], entry["matchedBy"]) == (
        "TKA1LEDG01", "3000.00", order["orderReference"], "claim")
    assert entry["paidAt"].endswith("Z") and entry["receivedAt"] == "2025-11-30T10:53:20Z"   # times in UTC
    now = await order_now(wa, admin, order)
    assert (now["status"], now["paymentStatus"]) == ("pending", "verified")   # confirming stays the admin's
    [proof] = now["paymentProofs"]
    assert (proof["transactionCode"], proof["verifiedBy"]) == ("TKA1LEDG01", "ledger")
    alert = (await message_to(wa, ADMIN_PHONE, "✅ In your ledger"))["Body"]
    assert order["orderReference"] in alert and "verified" in alert and f"confirm {order['orderReference']}" in alert


async def test_an_entry_then_its_claim_verifies_the_payment(wa, admin, clock):
    order = await pending_order(wa, admin)
    response = await post_ledger(wa.client, received(clock, "TKA1LEDG02"))
    assert response.status == 201
    assert (await ledger_page(wa, admin, "?unmatched=true"))["count"] == 1   # money with no order, so far

    await wa.say(claim(clock, "TKA1LEDG02") + f" {order['orderReference']}")

    now = await order_now(wa, admin, order)
    assert now["paymentStatus"] == "verified"
    assert [p["verifiedBy"] for p in now["paymentProofs"]] == ["ledger"]
    report = (await message_to(wa, ADMIN_PHONE, f"💰 Payment report for {order['orderReference']}"))["Body"]
    assert "in your ledger ✅" in report
    page = await ledger_page(wa, admin)
    assert page["count"] == 1 and page["results"][0]["orderReference"] == order["orderReference"]
    assert (await ledger_page(wa, admin, "?unmatched=true"))["count"] == 0


@pytest.mark.parametrize("entry_first", [False, True], ids=["claim first", "entry first"])
async def test_a_claim_with_an_edited_amount_is_flagged_and_never_verified(wa, admin, clock, entry_first):
    # The customer paid 1,500 and edited the text to say 3,000
    order = await pending_order(wa, admin)
    if entry_first:
        assert (await post_ledger(wa.client, received(clock, "TKA1LEDG03", "1,500.00"))).status == 201
    await wa.say(claim(clock, "TKA1LEDG03", "3,000.00") + f" {order['orderReference']}")
    if not entry_first:
        assert (await post_ledger(wa.client, received(clock, "TKA1LEDG03", "1,500.00"))).status == 201

    now = await order_now(wa, admin, order)
    assert now["paymentStatus"] == "reported"
    [proof] = now["paymentProofs"]
    assert proof["verifiedBy"] is None
    assert "ledger_amount_differs: your ledger has KES 1,500.00 for TKA1LEDG03, not KES 3,000.00" in proof["flags"]
    # entry first: the verdict is in the payment report itself; claim first: an alert of its own
    words = f"💰 Payment report for {order['orderReference']}" if entry_first else f"Check {order['orderReference']}"
    alert = (await message_to(wa, ADMIN_PHONE, words))["Body"]
    assert "KES 1,500.00" in alert
    assert (await ledger_page(wa, admin, "?unmatched=true"))["count"] == 1   # the 1,500 paid nothing yet


async def test_a_claimed_code_that_never_reaches_the_ledger_is_flagged_once_after_the_grace(wa, admin, clock):
    order = await pending_order(wa, admin)
    await wa.say(claim(clock, "TKA1LEDG04") + f" {order['orderReference']}")
    uow = wa.client.app[keys.UOW]

    async def sweep():   # the scheduled job, one due time
        return await scheduler.run(uow, jobs.LEDGER_GRACE, ledger.flag_overdue)

    clock.advance(minutes=9)
    assert await sweep() == "0 claim(s) not in the ledger flagged"   # within LEDGER_GRACE (10m)
    clock.advance(minutes=2)
    assert await sweep() == "1 claim(s) not in the ledger flagged"
    clock.advance(minutes=2)
    assert await sweep() == "0 claim(s) not in the ledger flagged"

    await all_sent(wa)
    [alert] = to_admin(wa, "Not in your ledger")
    assert "TKA1LEDG04" in alert and order["orderReference"] in alert and "11 min" in alert
    [proof] = (await order_now(wa, admin, order))["paymentProofs"]
    assert any(flag.startswith("not_in_ledger: TKA1LEDG04") for flag in proof["flags"])
    assert proof["verifiedBy"] is None

    # When it does arrive after all, it is still verified, and the flag goes
    assert (await post_ledger(wa.client, received(clock, "TKA1LEDG04"))).status == 201
    now = await order_now(wa, admin, order)
    assert now["paymentStatus"] == "verified" and now["paymentProofs"][0]["flags"] == []


async def test_an_entry_naming_the_order_as_its_account_pays_it_and_the_customer_is_acknowledged(wa, admin, clock):
    # Given an order whose customer never wrote (their WhatsApp window is closed)
    order = await pending_order(wa, admin)

    response = await post_ledger(wa.client, paybill(clock, "TKA1LEDG05", order["orderReference"]))

    assert response.status == 201
    assert (await response.json())["entries"][0]["matchedBy"] == "reference"
    now = await order_now(wa, admin, order)
    assert now["paymentStatus"] == "verified"
    [proof] = now["paymentProofs"]
    assert (proof["kind"], proof["transactionCode"], proof["amount"], proof["verifiedBy"]) == (
        "ledger", "TKA1LEDG05", "3000.00", "ledger")
    # the customer: the payment_received template, as their window is closed
    acknowledgement = await message_to(wa, CUSTOMER_PHONE, order["orderReference"])
    assert acknowledgement["ContentSid"] == TEMPLATE
    assert json.loads(acknowledgement["ContentVariables"]) == {
        "1": "Amina Otieno", "2": order["orderReference"], "3": "KES 3,000.00"}
    alert = (await message_to(wa, ADMIN_PHONE, "💰 Paid, in your ledger"))["Body"]
    assert order["orderReference"] in alert and "account reference" in alert


async def test_a_customer_whose_window_is_open_gets_the_acknowledgement_as_text(wa, admin, clock, uow):
    await open_windows(uow, [CUSTOMER_PHONE])
    order = await pending_order(wa, admin)

    await post_ledger(wa.client, paybill(clock, "TKA1LEDG06", order["orderReference"]))

    message = await message_to(wa, CUSTOMER_PHONE, "we have received your payment of KES 3,000.00")
    assert message["ContentSid"] is None and order["orderReference"] in message["Body"]


async def test_the_same_entry_twice_is_kept_once(wa, admin, clock):
    text = received(clock, "TKA1LEDG07")

    first, second = await post_ledger(wa.client, text), await post_ledger(wa.client, text)

    assert (first.status, second.status) == (201, 200)
    assert (await second.json())["status"] == "already kept"
    assert (await ledger_page(wa, admin))["count"] == 1


async def test_the_same_entry_posted_twice_at_once_is_kept_once(wa, admin, clock):
    text = received(clock, "TKA1LEDG08")

    answers = await asyncio.gather(*(post_ledger(wa.client, text) for _ in range(4)))

    assert sorted(a.status for a in answers) == [200, 200, 200, 201]
    assert (await ledger_page(wa, admin))["count"] == 1


async def test_a_whole_payer_number_matches_its_one_pending_order_of_that_total(wa, admin, clock):
    order = await pending_order(wa, admin)

    response = await post_ledger(wa.client, received(clock, "TKA1LEDG09", payer="AMINA OTIENO 0712345678"))

    assert (await response.json())["entries"][0]["matchedBy"] == "phone"
    assert (await order_now(wa, admin, order))["paymentStatus"] == "verified"
    await message_to(wa, ADMIN_PHONE, "by the payer's number")


@pytest.mark.parametrize("printed", ["0712***678", "254712XXX678"])
async def test_a_masked_payer_number_never_matches_by_phone(wa, admin, clock, printed):
    order = await pending_order(wa, admin)   # placed from +254712345678, which the mask would fit

    response = await post_ledger(wa.client, received(clock, "TKA1LEDG10", payer=f"AMINA OTIENO {printed}"))

    assert response.status == 201
    [entry] = (await response.json())["entries"]
    assert (entry["payerPhone"], entry["payerPhoneMasked"], entry["orderReference"]) == (printed, True, None)
    now = await order_now(wa, admin, order)
    assert (now["paymentStatus"], now["paymentProofs"]) == ("unpaid", [])
    assert (await ledger_page(wa, admin, "?unmatched=true"))["results"][0]["transactionCode"] == "TKA1LEDG10"


async def test_a_payer_number_with_two_pending_orders_of_that_total_matches_neither(wa, admin, clock):
    first, second = await pending_order(wa, admin), await pending_order(wa, admin)

    await post_ledger(wa.client, received(clock, "TKA1LEDG11"))

    assert [(await order_now(wa, admin, o))["paymentStatus"] for o in (first, second)] == ["unpaid", "unpaid"]


# --- AUTO_CONFIRM_ON_LEDGER ------------------------------------------------------------------------------

async def stock_of(wa, product) -> int:
    return (await (await wa.client.get(f"/api/products/{product['id']}/")).json())["stockQuantity"]


@pytest.mark.parametrize("entry_first", [False, True], ids=["claim first", "entry first"])
async def test_with_auto_confirm_an_order_fully_paid_in_the_ledger_confirms_itself_once(
        make_app, admin, clock, entry_first):
    wa = await make_app(auto_confirm_on_ledger=True)
    order = await pending_order(wa, admin, stock=10, quantity=2, price="1500.00")
    steps = [lambda: wa.say(claim(clock, "TKA1LEDG12") + f" {order['orderReference']}"),
             lambda: post_ledger(wa.client, received(clock, "TKA1LEDG12"))]
    for step in (reversed(steps) if entry_first else steps):
        await step()
    await post_ledger(wa.client, received(clock, "TKA1LEDG12"))   # the forwarder retries: nothing more

    now = await order_now(wa, admin, order)
    assert (now["status"], now["paymentStatus"]) == ("confirmed", "verified")
    assert [(h["to"], h["by"]) for h in now["history"]] == [("pending", "storefront"), ("confirmed", "ledger")]
    assert await stock_of(wa, order["product"]) == 8
    await message_to(wa, ADMIN_PHONE, f"✅ {order['orderReference']} confirmed by itself")
    await message_to(wa, CUSTOMER_PHONE, "is confirmed")


async def test_with_auto_confirm_and_stock_short_the_order_stays_pending_and_verified(make_app, admin, clock):
    wa = await make_app(auto_confirm_on_ledger=True)
    order = await pending_order(wa, admin, stock=3, quantity=2, price="1500.00")
    await wa.client.post(f"/api/products/{order['product']['id']}/stock/", json={"delta": -2}, headers=admin)

    await post_ledger(wa.client, paybill(clock, "TKA1LEDG13", order["orderReference"]))

    now = await order_now(wa, admin, order)
    assert (now["status"], now["paymentStatus"]) == ("pending", "verified")
    assert await stock_of(wa, order["product"]) == 1
    alert = (await message_to(wa, ADMIN_PHONE, "stock is short"))["Body"]
    assert order["orderReference"] in alert and "need 2, have 1" in alert


async def test_without_auto_confirm_a_fully_paid_order_waits_for_the_admin(wa, admin, clock):
    order = await pending_order(wa, admin)
    await post_ledger(wa.client, paybill(clock, "TKA1LEDG14", order["orderReference"]))
    assert (await order_now(wa, admin, order))["status"] == "pending"


# --- the route's door ------------------------------------------------------------------------------------

@sqlite_only
async def test_the_route_is_404_while_ledger_token_is_unset(make_app, admin, clock):
    wa = await make_app(ledger_token=None)

    response = await post_ledger(wa.client, received(clock, "TKA1LEDG15"))

    assert response.status == 404
    assert response.content_type == "application/problem+json"
    assert (await ledger_page(wa, admin))["count"] == 0


@sqlite_only
@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong-token"}, {"Authorization": TOKEN},
                                     {"Authorization": f"Basic {TOKEN}"}, {"Authorization": f"Bearer {TOKEN}x"}],
                         ids=["missing", "wrong", "no scheme", "basic", "longer"])
async def test_a_missing_or_wrong_bearer_is_401_and_stores_nothing(wa, admin, clock, headers):
    response = await post_ledger(wa.client, received(clock, "TKA1LEDG16"), headers=headers)

    assert response.status == 401
    assert response.content_type == "application/problem+json"
    assert (await ledger_page(wa, admin))["count"] == 0


@sqlite_only
@pytest.mark.parametrize("field", ["message", "body", "text"])
async def test_a_form_post_is_taken_with_the_text_as_message_or_body(wa, admin, clock, field):
    form = {"from": "MPESA", field: received(clock, "TKA1LEDG17"), "sentStamp": "1764500000000"}

    response = await wa.client.post("/webhooks/ledger", data=form, headers=BEARER)

    assert response.status == 201, await response.text()
    [entry] = (await ledger_page(wa, admin))["results"]
    assert (entry["sender"], entry["receivedAt"]) == ("MPESA", "2025-11-30T10:53:20Z")


@sqlite_only
async def test_a_plain_text_body_is_the_sms_itself(wa, admin, clock):
    response = await wa.client.post("/webhooks/ledger", data=received(clock, "TKA1LEDG25").encode(),
                                    headers={**BEARER, "Content-Type": "text/plain; charset=utf-8"})
    assert response.status == 201, await response.text()
    assert (await ledger_page(wa, admin))["results"][0]["transactionCode"] == "TKA1LEDG25"


@sqlite_only
async def test_received_at_is_taken_as_iso_8601(wa, admin, clock):
    response = await post_ledger(wa.client, received(clock, "TKA1LEDG18"), sentStamp=None,
                                 receivedAt="2026-02-04T21:36:00+03:00")
    assert response.status == 201
    assert (await ledger_page(wa, admin))["results"][0]["receivedAt"] == "2026-02-04T18:36:00Z"


@sqlite_only
async def test_a_text_that_is_not_money_in_is_202_and_kept_nowhere(wa, admin, clock):
    for text in ("Your M-PESA balance is Ksh45,000.00.", claim(clock, "TKA1LEDG19"), "Safaricom: data bundle offer"):
        response = await post_ledger(wa.client, text)
        assert response.status == 202
        assert (await response.json())["status"] == "ignored"
    assert (await ledger_page(wa, admin))["count"] == 0


@sqlite_only
@pytest.mark.parametrize("body, content_type, field", [
    (b"[1, 2]", "application/json", "body"),
    (b"{not json", "application/json", "body"),
    (b'{"from": "MPESA"}', "application/json", "text"),
    (b'{"text": 42}', "application/json", "text"),
    (b'{"text": {"a": 1}}', "application/json", "text"),
    (b'{"text": "x", "from": ["MPESA"]}', "application/json", "from"),
    (b'{"text": "x", "sentStamp": "yesterday"}', "application/json", "sentStamp"),
    (b'{"text": "x", "sentStamp": 99999999999999999999999}', "application/json", "sentStamp"),
    (b'{"text": "x", "receivedAt": "2026-13-45T99:00"}', "application/json", "receivedAt"),
    (b'{"text": "x", "receivedAt": true}', "application/json", "receivedAt"),
    (b"message=%FF%FE", "application/x-www-form-urlencoded", "body"),
    (b"from=MPESA", "application/x-www-form-urlencoded", "text"),
    (b'{"text": "' + b"x" * 10_001 + b'"}', "application/json", "text"),
])
async def test_bad_input_is_a_400_naming_the_field_and_stores_nothing(wa, admin, body, content_type, field):
    response = await wa.client.post("/webhooks/ledger", data=body, headers={**BEARER, "Content-Type": content_type})

    assert response.status == 400, await response.text()
    problem = await response.json()
    assert response.content_type == "application/problem+json"
    assert problem["errors"][0]["field"] == field and problem["detail"]
    assert (await ledger_page(wa, admin))["count"] == 0


@sqlite_only
async def test_a_nul_in_the_text_is_removed_and_the_entry_kept(wa, admin, clock):
    response = await post_ledger(wa.client, received(clock, "TKA1LEDG20").replace("Confirmed", "Confi\x00rmed"))
    assert response.status == 201


# --- the admins' door and views -----------------------------------------------------------------------------

async def test_an_admin_forwarding_a_received_text_keeps_it_in_the_ledger(wa, admin, clock):
    order = await pending_order(wa, admin)

    await wa.say(paybill(clock, "TKA1LEDG21", order["orderReference"]), phone=ADMIN_PHONE)
    await wa.say("ledger " + received(clock, "TKA1LEDG22", "700.00", payer="JOHN DOE 0799***111"), phone=ADMIN_PHONE)
    await wa.say(received(clock, "TKA1LEDG22", "700.00", payer="JOHN DOE 0799***111"), phone=ADMIN_PHONE)

    kept = (await message_to(wa, ADMIN_PHONE, "📒 Kept in your ledger: M-PESA TKA1LEDG21"))["Body"]
    assert f"It paid {order['orderReference']}" in kept and "verified" in kept
    unmatched = (await message_to(wa, ADMIN_PHONE, "📒 Kept in your ledger: M-PESA TKA1LEDG22"))["Body"]
    assert "No order matched it yet" in unmatched
    await message_to(wa, ADMIN_PHONE, "📒 Already in your ledger: M-PESA TKA1LEDG22")
    assert (await order_now(wa, admin, order))["paymentStatus"] == "verified"
    page = await ledger_page(wa, admin)
    assert page["count"] == 2 and {e["source"] for e in page["results"]} == {"whatsapp"}


async def test_the_ledger_command_lists_todays_money_with_no_order(wa, admin, clock):
    await wa.say("ledger", phone=ADMIN_PHONE)
    await message_to(wa, ADMIN_PHONE, "📒 No money without an order today.")
    await post_ledger(wa.client, received(clock, "TKA1LEDG23", "700.00", payer="JOHN DOE 0799***111"),
                      sentStamp=None)
    await post_ledger(wa.client, received(clock, "TKA1LEDG24", "1,200.00", payer="MARY W. NJERI 0788***222"),
                      sentStamp=None)

    await wa.say("Ledger", phone=ADMIN_PHONE)

    listing = (await message_to(wa, ADMIN_PHONE, "📒 Money with no order today"))["Body"]
    assert "2, KES 1,900.00" in listing
    assert listing.index("TKA1LEDG24") < listing.index("TKA1LEDG23")   # newest first
    assert "MARY W. NJERI 0788***222" in listing


async def test_the_ledger_api_lists_newest_first_with_count_for_admin_and_staff_only(wa, admin, staff, customer,
                                                                                      clock):
    order = await pending_order(wa, admin)
    for n, stamp in enumerate((1764500000000, 1764500060000, 1764500120000)):
        await post_ledger(wa.client, received(clock, f"TKA1LEDG3{n}", "500.00", payer="JOHN DOE 0799***111"),
                          sentStamp=stamp)
    await post_ledger(wa.client, paybill(clock, "TKA1LEDG39", order["orderReference"]), sentStamp=1764500180000)

    page = await ledger_page(wa, staff, "?limit=2&offset=1")
    assert (page["count"], page["limit"], page["offset"]) == (4, 2, 1)
    assert [e["transactionCode"] for e in page["results"]] == ["TKA1LEDG32", "TKA1LEDG31"]
    unmatched = await ledger_page(wa, admin, "?unmatched=true")
    assert unmatched["count"] == 3 and all(e["orderReference"] is None for e in unmatched["results"])
    assert (await ledger_page(wa, admin, "?unmatched=false"))["results"][0]["orderReference"] == order["orderReference"]
    assert (await wa.client.get("/api/ledger/", headers=customer)).status == 403
    assert (await wa.client.get("/api/ledger/")).status == 401
    assert (await wa.client.get("/api/ledger/?limit=0", headers=admin)).status == 400
    assert (await wa.client.get("/api/ledger/?unmatched=perhaps", headers=admin)).status == 400


async def test_the_daily_digest_counts_money_received_with_no_order(wa, admin, clock):
    order = await pending_order(wa, admin)
    await post_ledger(wa.client, paybill(clock, "TKA1LEDG40", order["orderReference"]), sentStamp=None)
    await post_ledger(wa.client, received(clock, "TKA1LEDG41", "700.00", payer="JOHN DOE 0799***111"), sentStamp=None)

    await scheduler.run(wa.client.app[keys.UOW], jobs.DIGEST, jobs.daily_digest)

    digest = (await message_to(wa, ADMIN_PHONE, "📊"))["Body"]
    assert "Money received with no order: 1 (KES 700.00)" in digest


async def test_an_admins_paid_is_verified_by_admin(wa, admin):
    order = await pending_order(wa, admin)
    await wa.say(f"paid {order['orderReference']} QJK3ABCD12 3000", phone=ADMIN_PHONE)
    [proof] = (await order_now(wa, admin, order))["paymentProofs"]
    assert proof["verifiedBy"] == "admin"


def test_the_ledger_settings_are_checked_with_one_line_each():
    from pydantic import ValidationError

    from core.settings import Settings, problems

    with pytest.raises(ValidationError) as refused:
        Settings(_env_file=None, ledger_grace="soon", auto_confirm_on_ledger="perhaps")
    lines = problems(refused.value)
    assert "LEDGER_GRACE: 'soon' is not a duration (e.g. 10m, 30m, 1h or off)" in lines
    assert any(line.startswith("AUTO_CONFIRM_ON_LEDGER: ") and "true or false" in line for line in lines)
    defaults = Settings(_env_file=None)
    assert (defaults.ledger_token, defaults.ledger_grace, defaults.auto_confirm_on_ledger) == (
        None, timedelta(minutes=10), False)


async def test_an_entry_row_is_one_per_code_in_the_database(wa, clock):
    await post_ledger(wa.client, received(clock, "TKA1LEDG50"))
    await post_ledger(wa.client, received(clock, "TKA1LEDG50", payer="SOMEONE ELSE 0799***111"))   # an edit
    async with wa.client.app[keys.UOW](readonly=True) as tx:
        assert await tx.scalar(select(func.count()).select_from(LedgerEntry)) == 1



# --- a claim and its entry at the same moment, in one process: each waits for the other's code lock ------

postgres_only = pytest.mark.parametrize("db_url", ["postgres"], indirect=True)


@postgres_only
async def test_an_entry_arriving_while_the_claim_is_recorded_verifies_it_once(make_app, admin, clock, monkeypatch, uow):
    from core import proofs
    from tests.test_customer_races import Meanwhile

    wa = await make_app(auto_confirm_on_ledger=True)
    order = await pending_order(wa, admin, stock=10, quantity=2, price="1500.00")
    meanwhile = Meanwhile(monkeypatch, uow)
    meanwhile.before(proofs, "record_proof", lambda: post_ledger(wa.client, received(clock, "TKA1LEDG60")))

    await wa.say(claim(clock, "TKA1LEDG60") + f" {order['orderReference']}")

    assert (await meanwhile.result()).status == 201
    now = await order_now(wa, admin, order)
    assert (now["status"], [p["verifiedBy"] for p in now["paymentProofs"]]) == ("confirmed", ["ledger"])
    assert [h["to"] for h in now["history"]] == ["pending", "confirmed"]
    assert await stock_of(wa, order["product"]) == 8


@postgres_only
async def test_a_claim_arriving_while_the_entry_is_matched_is_verified_once(make_app, admin, clock, monkeypatch, uow):
    from core import inbox
    from tests.test_customer_races import Meanwhile
    from webhooks import twilio as twilio_webhook

    wa = await make_app(auto_confirm_on_ledger=True)
    order = await pending_order(wa, admin, stock=10, quantity=2, price="1500.00")

    async def the_customer_claims():
        async with uow() as tx:
            message_id = await inbox.store(tx, message_sid="SM" + "6" * 32, from_phone=f"whatsapp:{CUSTOMER_PHONE}",
                                           body=claim(clock, "TKA1LEDG61") + f" {order['orderReference']}",
                                           media=[], wa_id=CUSTOMER_PHONE[1:], profile_name="Amina")
            await tx.commit()
        await twilio_webhook.process(wa.client.app[keys.UOW], message_id)
    meanwhile = Meanwhile(monkeypatch, uow)
    meanwhile.before(ledger, "_settle", the_customer_claims)

    assert (await post_ledger(wa.client, received(clock, "TKA1LEDG61"))).status == 201

    await meanwhile.result()
    now = await order_now(wa, admin, order)
    assert (now["status"], [p["verifiedBy"] for p in now["paymentProofs"]]) == ("confirmed", ["ledger"])
    assert [h["to"] for h in now["history"]] == ["pending", "confirmed"]
    assert await stock_of(wa, order["product"]) == 8
    assert (await ledger_page(wa, admin))["results"][0]["orderReference"] == order["orderReference"]


# --- a claim and its entry at the same moment, on two real processes on one PostgreSQL ------------------

RACES = 8
SHIRT = "7f1c8a52-3f0e-4d6b-9a51-0c2b7e6d1a01"   # seed-demo's, 25 in stock


async def test_a_claim_and_its_entry_racing_on_two_servers_confirm_once_and_take_stock_once(
        tmp_path, twilio, request):
    import aiohttp

    from tests.conftest import _truncate, run_blocking
    from tests.test_processes import Server, cli, environment, say, until

    database_url = request.getfixturevalue("postgres_database")
    run_blocking(_truncate(database_url))
    env = environment(database_url, twilio, LEDGER_TOKEN=TOKEN, AUTO_CONFIRM_ON_LEDGER="true",
                      SHOP_TIMEZONE="Africa/Nairobi", PAYMENT_REMINDER_AFTER="off")
    token = (await asyncio.to_thread(cli, tmp_path, env, "token", "create", "--role", "admin", "--name", "ops")
             ).strip().splitlines()[-1]
    await asyncio.to_thread(cli, tmp_path, env, "seed-demo")
    admin = {"Authorization": f"Bearer {token}"}
    servers = [await Server(tmp_path, env).start(), await Server(tmp_path, env).start()]
    phones = [f"+2547130000{n:02d}" for n in range(RACES)]
    try:
        async with aiohttp.ClientSession() as http:
            placed = []
            for i, phone in enumerate(phones):
                async with http.post(f"{servers[0].url}/api/orders/", json={
                        "customerName": f"Customer {i}", "customerPhone": phone,
                        "items": [{"productId": SHIRT, "quantity": 1}]}) as response:
                    assert response.status == 201
                    placed.append(await response.json())
            total = placed[0]["total"]
            amount = f"{float(total):,.2f}"
            now = datetime.now(ZONE)
            when = f"{now.day}/{now.month}/{now:%y} at {now:%I:%M %p}".replace(" 0", " ")

            async def entry(server, code: str) -> int:
                text = (f"{code} Confirmed.You have received Ksh{amount} from CUSTOMER 0713***000 on {when} New "
                        f"M-PESA balance is Ksh45,000.00.")
                async with http.post(f"{server.url}/webhooks/ledger", json={"from": "MPESA", "text": text},
                                     headers=BEARER) as response:
                    return response.status

            for i, (phone, order) in enumerate(zip(phones, placed)):
                code = f"RACE{i:02d}LDG9"
                claimed = (f"{code} Confirmed. Ksh{amount} sent to DEMO SHOP 0711000000 on {when}. New M-PESA "
                           f"balance is Ksh1,234.00. {order['orderReference']}")
                # The customer's forwarded text to one server and the shop's phone's to the other, at once
                # (which goes first alternates with the turn order of the two).
                one, other = servers[i % 2], servers[1 - i % 2]
                _, status = await asyncio.gather(say(http, one, twilio, phone, claimed), entry(other, code))
                assert status == 201

            async def states():
                found = []
                for order in placed:
                    async with http.get(f"{servers[0].url}/api/orders/{order['id']}/", headers=admin) as response:
                        found.append(await response.json())
                return found
            orders_now = await until(states, lambda found: all(o["status"] == "confirmed" for o in found), 30.0)
            async with http.get(f"{servers[1].url}/api/products/{SHIRT}/") as response:
                stock = (await response.json())["stockQuantity"]
            async with http.get(f"{servers[1].url}/api/ledger/?unmatched=true", headers=admin) as response:
                unmatched = (await response.json())["count"]

        for order in orders_now:
            assert [(h["to"], h["by"]) for h in order["history"]] == [("pending", "storefront"),
                                                                      ("confirmed", "ledger")]
            assert [(p["kind"], p["verifiedBy"]) for p in order["paymentProofs"]] == [("text", "ledger")]
            assert order["paymentStatus"] == "verified"
        assert stock == 25 - RACES   # taken once per order
        assert unmatched == 0
    finally:
        for server in servers:
            server.stop()
