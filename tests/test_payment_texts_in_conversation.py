"""Forwarded confirmations in a real conversation (CONTRACT §4): each is a payment report, read,
recorded on the order with its provider named as the text names it; the admins' alert shows the
customer's words once."""
import pytest

from tests.conftest import ADMIN_PHONE, CUSTOMER_PHONE, open_windows
from tests.helpers import make_product, order_body
from tests.test_providers import TEXTS

SWAHILI, SELCOM, MIXX, BANK = TEXTS[0][0], TEXTS[4][0], TEXTS[5][0], TEXTS[7][0]


@pytest.fixture
async def order(wa, admin, uow):
    await open_windows(uow, [CUSTOMER_PHONE])
    shirt = await make_product(wa.client, admin, stock=5, price="4000.00", name="Oxford Shirt")
    response = await wa.client.post("/api/orders/", json=order_body((shirt, 1)))
    await wa.replies_to(ADMIN_PHONE)   # the new-order alert
    return await response.json()


async def payment_alert(wa) -> str:
    return (await wa.twilio.wait_for(
        lambda: [m["Body"] for m in wa.twilio.messages_to(ADMIN_PHONE) if m["Body"].startswith("💰")]))[-1]


@pytest.mark.parametrize("text, provider, code", [
    (SWAHILI, "M-PESA", "DFJ9B1FX2B"),
    (SELCOM, "Selcom", "0426JXGC"),
    (MIXX, "Mixx by Yas", "26495300000001"),   # observed: labelled Airtel Money
    (BANK, "Bank transfer", "000013251129193012345678"),
], ids=["swahili m-pesa", "selcom", "mixx by yas", "nigerian bank alert"])
async def test_a_forwarded_confirmation_is_a_read_payment_report_on_the_order(wa, admin, order, text, provider, code):
    await wa.say(text)   # observed: relayed as a question; no proof; unpaid

    [ack] = await wa.replies_to(CUSTOMER_PHONE)
    assert order["orderReference"] in ack
    detail = await (await wa.client.get(f"/api/orders/{order['id']}/", headers=admin)).json()
    assert detail["paymentStatus"] == "reported"
    [proof] = detail["paymentProofs"]
    assert (proof["provider"], proof["transactionCode"]) == (provider, code)
    assert f"{provider} {code}" in await payment_alert(wa)


async def test_a_payment_message_that_is_not_read_is_quoted_once_in_full_in_the_alert(wa, order):
    words = ("Transfer done to your account ma'am, please confirm. Acct: 0123****89 Amt: NGN15,000.00 "
             "Desc: TRANSFER TO DEMO SHOP Avail Bal: NGN45,210.50")

    await wa.say(words)

    alert = await payment_alert(wa)
    assert alert.count("Transfer done") == 1   # observed: twice, the first copy cut mid-word
    assert words in alert
