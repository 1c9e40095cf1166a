"""WhatsApp's 24-hour window: templates outside it, failures told to the admins once."""
import json

import pytest
from sqlalchemy import select

from core.models import OutboundMessage
from core.window import content_variables, sanitise, template_for
from tests.conftest import ADMIN_PHONE, CUSTOMER_PHONE, open_windows
from tests.helpers import eventually, make_product, order_body

TEMPLATE = "HX" + "1" * 32


@pytest.fixture
def templates() -> dict:
    return {}


@pytest.fixture
def wa_settings(wa_settings, templates):
    return wa_settings.model_copy(update={"whatsapp_templates": templates})


async def _confirmed_order(wa, admin, name="Amina Otieno"):
    product = await make_product(wa.client, admin, stock=10)
    order = await (await wa.client.post("/api/orders/", json={**order_body((product, 1)), "customerName": name})).json()
    await wa.replies_to(ADMIN_PHONE)
    await wa.client.post(f"/api/orders/{order['id']}/confirm/", headers=admin)
    return order


async def _messages_to(uow, phone):
    async with uow() as tx:
        return (await tx.session.execute(
            select(OutboundMessage).where(OutboundMessage.to_phone == phone).order_by(OutboundMessage.id))).scalars().all()


async def test_outside_the_window_without_a_template_the_message_fails_and_admins_hear_once(wa, admin, uow):
    order = await _confirmed_order(wa, admin)  # the customer never wrote: their window is closed
    await wa.client.patch(f"/api/orders/{order['id']}/", json={"status": "shipped"}, headers=admin)

    async def both_failed():
        messages = await _messages_to(uow, CUSTOMER_PHONE)
        return len(messages) == 2 and all(m.status == "failed" for m in messages) and messages
    messages = await eventually(both_failed)

    assert all(m.error_code == "outside_window" and "24-hour window" in m.error_message for m in messages)
    alerts = [m for m in await wa.replies_to(ADMIN_PHONE, count=2) if m.startswith("📵")]
    assert len(alerts) == 1 and CUSTOMER_PHONE in alerts[0] and order["orderReference"] in alerts[0]
    assert wa.twilio.messages_to(CUSTOMER_PHONE) == []


@pytest.mark.parametrize("templates", [{"order_status": TEMPLATE}])
async def test_outside_the_window_the_kinds_template_goes_instead(wa, admin, templates):
    order = await _confirmed_order(wa, admin, name="Séan O'Brien 🇰🇪\nMoi Avenue,\tNairobi")

    [sent] = await wa.twilio.wait_for_messages(1, to=CUSTOMER_PHONE)

    assert sent["ContentSid"] == TEMPLATE and not sent["Body"]
    assert json.loads(sent["ContentVariables"]) == {
        "1": "Séan O'Brien 🇰🇪 Moi Avenue, Nairobi", "2": order["orderReference"], "3": "confirmed"}


async def test_inside_the_window_the_text_goes(wa, admin, uow):
    await open_windows(uow, [CUSTOMER_PHONE])

    order = await _confirmed_order(wa, admin)

    [sent] = await wa.twilio.wait_for_messages(1, to=CUSTOMER_PHONE)
    assert sent["ContentSid"] is None and order["orderReference"] in sent["Body"]


async def test_a_63016_from_twilio_fails_the_message_and_alerts_the_admins_once(wa, admin, uow):
    await open_windows(uow, [CUSTOMER_PHONE])  # we think it is open; Twilio says otherwise
    wa.twilio.reject_next(63016, n=2, to=CUSTOMER_PHONE)
    order = await _confirmed_order(wa, admin)
    await wa.client.patch(f"/api/orders/{order['id']}/", json={"status": "shipped"}, headers=admin)

    async def both_failed():
        messages = await _messages_to(uow, CUSTOMER_PHONE)
        return len(messages) == 2 and all(m.status == "failed" for m in messages) and messages
    messages = await eventually(both_failed)

    assert [m.error_code for m in messages] == ["63016", "63016"]
    alerts = [m for m in await wa.replies_to(ADMIN_PHONE, count=2) if m.startswith("📵")]
    assert len(alerts) == 1 and "24-hour window" in alerts[0]


@pytest.mark.parametrize("templates", [{"order_status": TEMPLATE}])
async def test_a_63016_with_a_template_configured_is_resent_as_the_template(wa, admin, uow, templates):
    await open_windows(uow, [CUSTOMER_PHONE])
    wa.twilio.reject_next(63016, to=CUSTOMER_PHONE, freeform_only=True)

    await _confirmed_order(wa, admin)

    sent = await wa.twilio.wait_for_messages(1, to=CUSTOMER_PHONE)
    assert sent[-1]["ContentSid"] == TEMPLATE


async def test_an_undelivered_callback_tells_the_admins_who_was_not_reached_once(wa, admin, uow):
    await open_windows(uow, [CUSTOMER_PHONE])
    order = await _confirmed_order(wa, admin)
    [sent] = await wa.twilio.wait_for_messages(1, to=CUSTOMER_PHONE)
    post_url = str(wa.client.make_url("/webhooks/twilio/status"))

    for status in ("sent", "undelivered", "failed"):
        await wa.twilio.send_status_callback(sent["sid"], status, error_code=63024, post_url=post_url)

    alerts = [m for m in await wa.replies_to(ADMIN_PHONE, count=2) if m.startswith("📵")]
    assert len(alerts) == 1
    assert CUSTOMER_PHONE in alerts[0] and order["orderReference"] in alerts[0] and "not a valid WhatsApp" in alerts[0]


ADMIN_TEMPLATE = "HX" + "2" * 32


@pytest.mark.parametrize("templates", [{"admin_alert": ADMIN_TEMPLATE}])
async def test_an_admin_outside_the_window_gets_each_alert_as_the_admin_alert_template(wa, admin, clock, templates):
    clock.advance(hours=25)  # the admin last wrote yesterday: no free-form message reaches them
    product = await make_product(wa.client, admin, stock=10)

    response = await wa.client.post("/api/orders/", json={**order_body((product, 1)), "customerName": "Amina\nOtieno"})

    [sent] = await wa.twilio.wait_for_messages(1, to=ADMIN_PHONE)
    assert sent["ContentSid"] == ADMIN_TEMPLATE and not sent["Body"]
    [alert] = json.loads(sent["ContentVariables"]).values()
    assert (await response.json())["orderReference"] in alert and "Amina Otieno" in alert and "\n" not in alert


async def test_an_admin_alert_that_cannot_go_fails_and_raises_no_further_alert(wa, admin, uow, clock):
    clock.advance(hours=25)
    product = await make_product(wa.client, admin, stock=10)

    await wa.client.post("/api/orders/", json=order_body((product, 1)))

    async def failed():
        messages = await _messages_to(uow, ADMIN_PHONE)
        return messages and all(m.status == "failed" for m in messages) and messages
    [message] = await eventually(failed)
    assert message.error_code == "outside_window" and wa.twilio.requests == []


@pytest.mark.parametrize("templates", [{"admin_alert": ADMIN_TEMPLATE}])
async def test_a_63016_to_an_admin_is_resent_as_the_admin_alert_template(wa, admin, templates):
    wa.twilio.reject_next(63016, to=ADMIN_PHONE, freeform_only=True)
    product = await make_product(wa.client, admin, stock=10)

    await wa.client.post("/api/orders/", json=order_body((product, 1)))

    sent = await wa.twilio.wait_for_messages(1, to=ADMIN_PHONE)
    assert sent[-1]["ContentSid"] == ADMIN_TEMPLATE and "New order" in sent[-1]["ContentVariables"]


def test_an_admin_alert_is_one_line_of_at_most_900_characters():
    alert = OutboundMessage(to_phone=ADMIN_PHONE, kind="admin_relay", body="line one\n" + "x" * 2000)

    sid, variables = template_for(alert, {"admin_alert": ADMIN_TEMPLATE}, [ADMIN_PHONE])

    [text] = json.loads(variables).values()
    assert sid == ADMIN_TEMPLATE and len(text) == 900 and text.startswith("line one x") and text.endswith("…")


@pytest.mark.parametrize("raw, clean", [
    ("O'Brien", "O'Brien"),
    ("Moi Ave 12\nNairobi", "Moi Ave 12 Nairobi"),
    ("a\tb", "a b"),
    ("wide     gap", "wide gap"),
    ("Habari 🙏🏽 ya leo", "Habari 🙏🏽 ya leo"),
    (["shirt", "chinos", "belt"], "3 items"),
    ("", "-"),
])
def test_template_variables_are_sanitised_for_whatsapp(raw, clean):
    assert sanitise(raw) == clean


def test_an_apostrophe_survives_the_content_variables_json():
    encoded = content_variables("payment_reminder", {"name": "Wanjiru O'Neil", "reference": "LEG-1738704998-X7K2",
                                                     "total": "KES 2,400.00"})
    assert json.loads(encoded) == {"1": "Wanjiru O'Neil", "2": "LEG-1738704998-X7K2", "3": "KES 2,400.00"}
