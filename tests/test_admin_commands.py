"""Admins run the shop from WhatsApp: every command through signed webhooks and the fake Twilio."""
import asyncio

import pytest
from sqlalchemy import select

from core.models import StockMovement
from tests.conftest import ADMIN_PHONE, CUSTOMER_PHONE, open_windows
from tests.helpers import make_product, order_body


@pytest.fixture
async def shop(wa, admin, uow):
    """A product with 5 in stock and a pending order of 2 from a customer who has written to us
    (their 24-hour window is open); the new-order alert is out."""
    await open_windows(uow, [CUSTOMER_PHONE])
    product = await make_product(wa.client, admin, stock=5, name="Oxford Shirt")
    response = await wa.client.post("/api/orders/", json=order_body((product, 2)))
    order = await response.json()
    await wa.replies_to(ADMIN_PHONE)
    return {"product": product, "order": order, "ref": order["orderReference"]}


async def command(wa, text: str) -> str:
    """Send `text` as the admin; return the answer to it (alerts such as low stock may arrive beside it)."""
    def answers():
        return [m["Body"] for m in wa.twilio.messages_to(ADMIN_PHONE) if not m["Body"].startswith("📉")]
    before = len(answers())
    await wa.say(text, phone=ADMIN_PHONE)
    return (await wa.twilio.wait_for(lambda: answers()[before:]))[-1]


async def order_of(wa, admin, ref) -> dict:
    return await (await wa.client.get(f"/api/orders/{ref}/", headers=admin)).json()


async def stock_of(wa, product) -> int:
    return (await (await wa.client.get(f"/api/products/{product['id']}/")).json())["stockQuantity"]


async def test_help_lists_every_command(wa):
    from bot.commands import COMMANDS

    answer = await command(wa, "HELP")

    for c in COMMANDS:
        assert c.usage in answer


async def test_orders_lists_pending_orders_one_line_each(wa, shop):
    answer = await command(wa, "orders")

    assert shop["ref"] in answer and "Amina Otieno" in answer and "3,000.00" in answer


async def test_orders_of_another_status(wa, shop):
    assert "No confirmed orders" in await command(wa, "orders  Confirmed")


async def test_show_and_a_bare_reference_give_the_details(wa, shop):
    for text in (f"show {shop['ref']}", shop["ref"].lower(), f"#{shop['ref']}"):
        answer = await command(wa, text)
        assert shop["ref"] in answer and "Oxford Shirt" in answer and CUSTOMER_PHONE in answer


async def test_confirm_takes_stock_tells_the_customer_and_names_the_admin(wa, admin, shop, uow):
    answer = await command(wa, f"confirm {shop['ref'].replace('-', ' ')}")

    assert "confirmed" in answer and shop["ref"] in answer and "Oxford Shirt 3" in answer
    [told] = await wa.replies_to(CUSTOMER_PHONE)
    assert shop["ref"] in told and "confirmed" in told
    order = await order_of(wa, admin, shop["ref"])
    assert order["status"] == "confirmed" and order["history"][-1]["by"] == ADMIN_PHONE
    assert await stock_of(wa, shop["product"]) == 3
    async with uow() as tx:
        movement = (await tx.session.execute(select(StockMovement).order_by(StockMovement.id.desc()))).scalars().first()
    assert movement.actor == ADMIN_PHONE and movement.delta == -2


async def test_confirm_reports_shortages_by_name_and_barcode_and_changes_nothing(wa, admin, shop):
    await wa.client.post(f"/api/products/{shop['product']['id']}/stock/", json={"delta": -4}, headers=admin)

    answer = await command(wa, f"confirm {shop['ref']}")

    assert "Not enough stock" in answer and "Oxford Shirt" in answer and shop["product"]["barcode"] in answer
    assert "need 2, have 1" in answer and "stock <barcode> +N" in answer
    assert (await order_of(wa, admin, shop["ref"]))["status"] == "pending"
    assert await stock_of(wa, shop["product"]) == 1


async def test_ship_and_deliver_follow_the_table_and_tell_the_customer(wa, admin, shop):
    assert "can't become shipped" in await command(wa, f"ship {shop['ref']}")
    await command(wa, f"confirm {shop['ref']}")

    assert "now shipped" in await command(wa, f"ship {shop['ref']}")
    assert "now delivered" in await command(wa, f"deliver {shop['ref']}")

    told = await wa.replies_to(CUSTOMER_PHONE, count=3)
    assert "on its way" in told[1] and "delivered" in told[2]


async def test_status_command_takes_any_case_and_refuses_unknown_words(wa, shop):
    assert "“sent” is not a status" in await command(wa, f"status {shop['ref']} sent")
    assert "confirmed" in await command(wa, f"STATUS {shop['ref']} Confirmed")


async def test_cancel_with_a_reason_restocks_and_passes_the_reason_on(wa, admin, shop):
    await command(wa, f"confirm {shop['ref']}")

    answer = await command(wa, f"cancel {shop['ref']} out of this colour")

    assert "cancelled" in answer and "stock put back" in answer
    assert await stock_of(wa, shop["product"]) == 5
    told = await wa.replies_to(CUSTOMER_PHONE, count=2)
    assert "cancelled" in told[-1] and "out of this colour" in told[-1]


async def test_stock_shows_and_adjusts_with_a_movement_naming_the_admin(wa, shop, uow):
    barcode = shop["product"]["barcode"]
    assert "5 in stock" in await command(wa, f"stock {barcode}")
    assert "5 → 8" in await command(wa, f"stock {barcode} +3")
    assert "8 → 6" in await command(wa, f"stock {barcode.lower()} -2")
    assert "6 → 20" in await command(wa, f"stock {barcode} =20")

    async with uow() as tx:
        movements = (await tx.session.execute(
            select(StockMovement).where(StockMovement.actor == ADMIN_PHONE).order_by(StockMovement.id))).scalars().all()
    assert [m.delta for m in movements] == [3, -2, 14]


@pytest.mark.parametrize("text, words", [
    ("stock {barcode} +lots", "not a stock change"),
    ("stock {barcode} -99", "would go below 0"),
    ("stock {barcode} +999999", "would pass the cap of 1,000,000 units"),
    ("stock {barcode} =9999999", "would pass the cap of 1,000,000 units"),
    ("stock NOPE-1", "No product with barcode"),
    ("confirm", "Usage: confirm <ref>"),
    ("confirm XYZ-1738704998-X7K2", "not one of our references"),
    ("confirm LEG-1738704998-ZZZZ", "No order"),
    ("confrim {ref}", "Did you mean confirm?"),
    ("dance", "I don't know"),
])
async def test_bad_commands_get_a_helpful_answer_and_change_nothing(wa, admin, shop, text, words):
    answer = await command(wa, text.format(barcode=shop["product"]["barcode"], ref=shop["ref"]))

    assert words in answer
    assert await stock_of(wa, shop["product"]) == 5
    assert (await order_of(wa, admin, shop["ref"]))["status"] == "pending"


async def test_reply_sends_the_shops_text_and_quiets_the_bots_prompts(wa, admin, shop):
    answer = await command(wa, f"reply {shop['ref']} Your parcel leaves at 3pm")

    assert CUSTOMER_PHONE in answer and shop["ref"] in answer
    [sent] = await wa.replies_to(CUSTOMER_PHONE)
    assert sent == "Your parcel leaves at 3pm"
    await wa.say("hello")  # would get the menu, but the shop is talking now
    await wa.say("thanks!")  # relayed to the admins, without the bot's "we'll answer you" prompt
    await wa.replies_to(ADMIN_PHONE, count=3)
    await asyncio.sleep(0.3)
    assert len(wa.twilio.messages_to(CUSTOMER_PHONE)) == 1
    conversation = await (await wa.client.get(f"/api/orders/{shop['order']['id']}/messages/", headers=admin)).json()
    assert "Your parcel leaves at 3pm" in [m["body"] for m in conversation]


async def test_reply_by_phone_reaches_the_customer(wa, shop):
    answer = await command(wa, "reply 0712345678 We have your size")

    assert CUSTOMER_PHONE in answer
    assert (await wa.replies_to(CUSTOMER_PHONE))[-1] == "We have your size"


async def test_paid_records_a_verified_proof(wa, admin, shop):
    answer = await command(wa, f"paid {shop['ref']} qjk3abcd12 3,000")

    assert "QJK3ABCD12" in answer and "3,000.00" in answer and f"confirm {shop['ref']}" in answer
    order = await order_of(wa, admin, shop["ref"])
    assert order["paymentStatus"] == "verified" and order["status"] == "pending"
    [proof] = order["paymentProofs"]
    assert proof["transactionCode"] == "QJK3ABCD12" and proof["amount"] == "3000.00"


@pytest.mark.parametrize("amount", ["NaN", "nan", "sNaN", "inf", "Infinity", "-Infinity", "1e400", "-3000", "1e3",
                                    "3,000.005"])
async def test_paid_with_an_amount_that_is_not_money_says_so_and_records_nothing(wa, admin, shop, amount):
    answer = await command(wa, f"paid {shop['ref']} QJK3ABCD12 {amount}")

    assert f"“{amount}” is not an amount" in answer and f"paid {shop['ref']} QJK3ABCD12 3000" in answer
    order = await order_of(wa, admin, shop["ref"])
    assert order["paymentProofs"] == [] and order["paymentStatus"] == "unpaid"


async def test_a_customer_typing_admin_commands_changes_nothing(wa, admin, shop):
    await wa.say(f"confirm {shop['ref']}")

    await wa.replies_to(CUSTOMER_PHONE)
    assert (await order_of(wa, admin, shop["ref"]))["status"] == "pending"
    assert await stock_of(wa, shop["product"]) == 5
