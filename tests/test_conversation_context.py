"""Real conversations (CONTRACT §4 "Context" and "References as people type them"): a swipe-reply or
a button is about the order its message was about; references find their order when typed with
look-alike characters or a phone keyboard's dashes. Every observed input of issue 14 is here."""
import pytest
from sqlalchemy import select

from core.models import OutboundMessage
from core.references import lookup_key, new_reference
from tests.conftest import ADMIN_PHONE, CUSTOMER_PHONE, open_windows
from tests.helpers import eventually, make_product, order_body

X_REF = "LEG-1795969230-ORER"   # the observed order, with an O people type as 0


@pytest.fixture
async def two_orders(wa, admin, uow):
    """X (1,500) and the newer Y (4,500), both pending, from a customer who has written to us."""
    await open_windows(uow, [CUSTOMER_PHONE])
    shirt = await make_product(wa.client, admin, stock=10, price="1500.00", name="Oxford Shirt")
    x = await _place(wa, order_body((shirt, 1), orderReference=X_REF))
    y = await _place(wa, order_body((shirt, 3)))
    await wa.replies_to(ADMIN_PHONE, count=2)  # the new-order alerts
    return x, y


async def _place(wa, body) -> dict:
    response = await wa.client.post("/api/orders/", json=body)
    assert response.status == 201, await response.text()
    return await response.json()


async def order_of(wa, admin, ref) -> dict:
    return await (await wa.client.get(f"/api/orders/{ref}/", headers=admin)).json()


async def last_sid(wa, uow, phone: str, containing: str) -> str:
    """The SID of our latest message to `phone` containing `containing`, once the outbox has recorded it."""
    message = (await wa.twilio.wait_for(
        lambda: [m for m in wa.twilio.messages_to(phone) if containing in (m["Body"] or "")][-1:]))[0]

    async def recorded():
        async with uow() as tx:
            return await tx.session.scalar(select(OutboundMessage.id).where(OutboundMessage.twilio_sid == message["sid"]))
    await eventually(recorded)
    return message["sid"]


async def said_to(wa, phone: str, before: int) -> str:
    """The first message to `phone` after the first `before` ones."""
    return (await wa.twilio.wait_for(lambda: wa.twilio.messages_to(phone)[before:]))[0]["Body"]


def count_to(wa, phone: str) -> int:
    return len(wa.twilio.messages_to(phone))


# --- Context: swipe-replies --------------------------------------------------------------------

async def test_a_payment_swiped_onto_an_orders_summary_goes_on_that_order(wa, admin, uow, two_orders):
    x, y = two_orders
    await wa.say(X_REF)
    summary = await last_sid(wa, uow, CUSTOMER_PHONE, "Order " + X_REF)
    before = count_to(wa, CUSTOMER_PHONE)

    await wa.say("I have paid 1,500", replied_to=summary)   # observed: went on Y, "3,000.00 to go"

    ack = await said_to(wa, CUSTOMER_PHONE, before)
    assert X_REF in ack and "to go" not in ack
    assert (await order_of(wa, admin, X_REF))["paymentStatus"] == "reported"
    assert (await order_of(wa, admin, y["orderReference"]))["paymentStatus"] == "unpaid"


async def test_a_bare_i_have_paid_swiped_onto_the_older_orders_summary_goes_on_it(wa, admin, uow, two_orders):
    x, y = two_orders
    await wa.say(f"hi, about {X_REF}")
    summary = await last_sid(wa, uow, CUSTOMER_PHONE, "Order " + X_REF)
    await wa.say(y["orderReference"])   # the conversation moved on to Y since
    await last_sid(wa, uow, CUSTOMER_PHONE, "Order " + y["orderReference"])

    await wa.say("I have paid", replied_to=summary)

    assert (await order_of(wa, admin, X_REF))["paymentStatus"] == "reported"
    assert (await order_of(wa, admin, y["orderReference"]))["paymentStatus"] == "unpaid"


async def test_a_question_swiped_onto_a_status_message_reaches_the_admins_about_that_order(wa, admin, uow, two_orders):
    x, y = two_orders
    assert (await wa.client.post(f"/api/orders/{X_REF}/confirm/", headers=admin)).status == 200
    status_message = await last_sid(wa, uow, CUSTOMER_PHONE, "is confirmed")
    before = count_to(wa, ADMIN_PHONE)

    await wa.say("When will it arrive?", replied_to=status_message)

    relay = await said_to(wa, ADMIN_PHONE, before)
    assert f"about {X_REF} (confirmed)" in relay and y["orderReference"] not in relay


async def test_status_swiped_onto_a_summary_answers_for_that_order(wa, uow, two_orders):
    await wa.say(X_REF)
    summary = await last_sid(wa, uow, CUSTOMER_PHONE, "Order " + X_REF)
    before = count_to(wa, CUSTOMER_PHONE)

    await wa.say("status", replied_to=summary)

    assert (await said_to(wa, CUSTOMER_PHONE, before)).startswith(f"Order {X_REF}:")


async def test_an_admins_confirm_swiped_onto_a_payment_alert_confirms_that_order(wa, admin, uow, two_orders):
    await wa.say(f"I have paid for {X_REF}")
    alert = await last_sid(wa, uow, ADMIN_PHONE, f"Payment report for {X_REF}")
    before = count_to(wa, ADMIN_PHONE)

    await wa.say("Confirm", phone=ADMIN_PHONE, replied_to=alert)   # observed: "Usage: confirm <ref>"

    assert (await said_to(wa, ADMIN_PHONE, before)).startswith(f"✅ {X_REF} confirmed")
    assert (await order_of(wa, admin, X_REF))["status"] == "confirmed"


async def test_an_admins_cancel_with_a_reason_swiped_onto_an_alert_cancels_that_order(wa, admin, uow, two_orders):
    await wa.say(f"I have paid for {X_REF}")
    alert = await last_sid(wa, uow, ADMIN_PHONE, f"Payment report for {X_REF}")

    await wa.say("cancel out of stock", phone=ADMIN_PHONE, replied_to=alert)

    order = await eventually(lambda: _cancelled(wa, admin))
    assert order["history"][-1]["note"] == "out of stock"


async def _cancelled(wa, admin):
    order = await order_of(wa, admin, X_REF)
    return order if order["status"] == "cancelled" else None


async def test_an_admins_reply_swiped_onto_a_relayed_question_goes_to_that_customer(wa, uow):
    await wa.say("Do you have it in size M?", phone="+254733000111")
    relay = await last_sid(wa, uow, ADMIN_PHONE, "Do you have it in size M?")

    await wa.say("reply Yes, M is in stock", phone=ADMIN_PHONE, replied_to=relay)

    answer = (await wa.twilio.wait_for(lambda: [m["Body"] for m in wa.twilio.messages_to("+254733000111")
                                                if m["Body"] == "Yes, M is in stock"]))
    assert answer == ["Yes, M is in stock"]


# --- Context: buttons ---------------------------------------------------------------------------

async def test_a_paid_button_reports_the_payment_on_its_payloads_order(wa, admin, two_orders):
    x, y = two_orders

    await wa.say("I have paid", button=(f"paid:{X_REF}", "I have paid"))   # observed: went on Y

    [ack] = await wa.replies_to(CUSTOMER_PHONE)
    assert X_REF in ack
    assert (await order_of(wa, admin, X_REF))["paymentStatus"] == "reported"
    assert (await order_of(wa, admin, y["orderReference"]))["paymentStatus"] == "unpaid"


async def test_a_cancel_button_cancels_its_payloads_order(wa, admin, two_orders):
    x, y = two_orders

    await wa.say("Cancel order", button=(f"cancel:{X_REF}", "Cancel order"))   # observed: "which order?"

    assert (await eventually(lambda: _cancelled(wa, admin)))["status"] == "cancelled"
    assert (await order_of(wa, admin, y["orderReference"]))["status"] == "pending"


async def test_a_status_button_answers_with_its_payloads_order(wa, two_orders):
    await wa.say("Where is my order?", button=(f"status:{X_REF}", "Order status"))

    [answer] = await wa.replies_to(CUSTOMER_PHONE)
    assert answer.startswith(f"Order {X_REF}:")


async def test_a_button_naming_another_customers_order_reveals_nothing(wa, admin, two_orders):
    shirt = await make_product(wa.client, admin, stock=5, price="2000.00")
    other = await _place(wa, order_body((shirt, 1), phone="0722 000 111"))

    await wa.say("Cancel order", button=(f"cancel:{other['orderReference']}", "Cancel order"))

    [answer] = await wa.replies_to(CUSTOMER_PHONE)
    assert "another number" in answer and "2,000" not in answer
    assert (await order_of(wa, admin, other["orderReference"]))["status"] == "pending"


# --- References as people type them ------------------------------------------------------------

@pytest.mark.parametrize("typed", [
    "LEG-1795969230-0RER",          # observed: O typed as 0
    "leg 1795969230 0rer",
    "LEG-I795969230-ORER",          # I for 1 in the stamp
    "LEG-l795969230-0RER",          # l for 1, and 0 for O
])
async def test_a_reference_typed_with_look_alikes_finds_the_customers_order(wa, two_orders, typed):
    await wa.say(typed)

    [answer] = await wa.replies_to(CUSTOMER_PHONE)
    assert answer.startswith(f"Order {X_REF}:")   # observed: "We couldn't find an order"


async def test_an_admin_confirms_a_reference_typed_with_look_alikes(wa, admin, two_orders):
    before = count_to(wa, ADMIN_PHONE)

    await wa.say("confirm LEG-1795969230-0RER", phone=ADMIN_PHONE)   # observed: "No order"

    assert (await said_to(wa, ADMIN_PHONE, before)).startswith(f"✅ {X_REF} confirmed")


@pytest.mark.parametrize("dash", ["\u2013", "\u2014", "\u2011", "\u2212", "\u2010"],
                         ids=["en dash", "em dash", "non-breaking hyphen", "minus sign", "hyphen"])
async def test_an_admins_command_with_typographic_dashes_works(wa, admin, two_orders, dash):
    before = count_to(wa, ADMIN_PHONE)

    await wa.say(f"confirm LEG{dash}1795969230{dash}ORER", phone=ADMIN_PHONE)   # observed: "Usage: confirm <ref>"

    assert (await said_to(wa, ADMIN_PHONE, before)).startswith(f"✅ {X_REF} confirmed")


async def test_a_customers_cancel_with_an_em_dash_reference_cancels_it(wa, admin, two_orders):
    await wa.say("cancel LEG\u20141795969230\u2014ORER")

    assert (await eventually(lambda: _cancelled(wa, admin)))["status"] == "cancelled"


async def test_an_admins_reference_that_matches_nothing_suggests_the_closest(wa, two_orders):
    before = count_to(wa, ADMIN_PHONE)

    await wa.say("confirm LEG-1795969230-ORFR", phone=ADMIN_PHONE)

    answer = await said_to(wa, ADMIN_PHONE, before)
    assert "No order LEG-1795969230-ORFR" in answer and f"Did you mean {X_REF}" in answer


async def test_a_reference_far_from_every_order_gets_no_suggestion(wa, two_orders):
    before = count_to(wa, ADMIN_PHONE)

    await wa.say("show LEG-1600000000-ZZZZ", phone=ADMIN_PHONE)

    answer = await said_to(wa, ADMIN_PHONE, before)
    assert "No order LEG-1600000000-ZZZZ" in answer and "Did you mean" not in answer


async def test_a_look_alike_reference_matching_two_orders_finds_neither(wa, admin, uow):
    shirt = await make_product(wa.client, admin, stock=5)
    for reference in ("LEG-1795969230-AIBC", "LEG-1795969230-ALBC"):
        await _place(wa, order_body((shirt, 1), orderReference=reference))

    response = await wa.client.get("/api/orders/LEG-1795969230-A1BC/", headers=admin)

    assert response.status == 404
    assert (await wa.client.get("/api/orders/LEG-1795969230-AIBC/", headers=admin)).status == 200


def test_new_references_hold_no_look_alike_characters_and_the_prefix_is_never_folded():
    from datetime import datetime, timezone

    tails = {new_reference("LEG", datetime(2026, 11, 29, tzinfo=timezone.utc)).rsplit("-", 1)[1] for _ in range(2000)}
    assert not set("".join(tails)) & set("O0I1L")
    assert lookup_key("LEG-1795969230-ORER") == "LEG-1795969230-0RER"
    assert lookup_key("LOL-I795969230-LIO0") == "LOL-1795969230-1100"
