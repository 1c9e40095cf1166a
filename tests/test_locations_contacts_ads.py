"""Locations, contacts, ads (CONTRACT §4): a shared pin is the delivery location, a contact card
reaches the admins with its name and number, a click-to-WhatsApp ad stays visible to the admins."""
import pytest

from bot.contacts import Card, read_cards
from tests.conftest import ADMIN_PHONE, CUSTOMER_PHONE, open_windows
from tests.helpers import make_product, order_body

PIN = (-1.2921, 36.8219, "Moi Avenue, Nairobi", "My shop")   # observed: answered with the greeting menu
AD = {"ReferralHeadline": "Oxford Shirt sale", "ReferralBody": "All sizes, KES 1,500",
      "ReferralSourceUrl": "https://fb.me/1AbCdEfGh", "ReferralSourceType": "ad",
      "ReferralSourceId": "120210000000000001", "ReferralCtwaClid": "ARAkLkA8rmlFeiCktEJQ-QTwRiyYHAFDLMNDBH0CD3q",
      "ReferralNumMedia": "0"}
VCARD = ("BEGIN:VCARD\r\nVERSION:3.0\r\nN:Wanjiru;Jane;;;\r\nFN:Jane Wanjiru\r\n"
         "TEL;type=CELL;type=VOICE;waid=254722000111:+254 722 000111\r\nEND:VCARD\r\n")


@pytest.fixture
async def order(wa, admin, uow):
    await open_windows(uow, [CUSTOMER_PHONE])
    shirt = await make_product(wa.client, admin, stock=5, name="Oxford Shirt")
    response = await wa.client.post("/api/orders/", json=order_body((shirt, 1)))
    assert response.status == 201
    await wa.replies_to(ADMIN_PHONE)   # the new-order alert
    return await response.json()


def admin_messages(wa) -> list[str]:
    return [m["Body"] for m in wa.twilio.messages_to(ADMIN_PHONE)]


async def admin_message(wa, containing: str) -> str:
    return (await wa.twilio.wait_for(lambda: [b for b in admin_messages(wa) if containing in b]))[-1]


# --- Locations ----------------------------------------------------------------------------------

async def test_a_shared_location_is_the_open_orders_delivery_location(wa, admin, order):
    await wa.say("", location=PIN)

    [ack] = await wa.replies_to(CUSTOMER_PHONE)
    assert ack == f"📍 Thank you! We'll deliver order {order['orderReference']} to My shop, Moi Avenue, Nairobi."
    detail = await (await wa.client.get(f"/api/orders/{order['id']}/", headers=admin)).json()
    location = detail["deliveryLocation"]
    assert (location["latitude"], location["longitude"], location["address"], location["label"]) == \
        (-1.2921, 36.8219, "Moi Avenue, Nairobi", "My shop")
    assert location["at"].endswith("Z")
    alert = await admin_message(wa, "shared a location")
    assert order["orderReference"] in alert and "https://maps.google.com/?q=-1.2921,36.8219" in alert


async def test_an_order_without_a_shared_location_shows_none(wa, admin, order):
    detail = await (await wa.client.get(f"/api/orders/{order['id']}/", headers=admin)).json()
    assert detail["deliveryLocation"] is None


async def test_a_location_from_someone_with_no_open_order_is_kept_and_answered(wa, uow):
    await wa.say("", location=(-6.7924, 39.2083, "", ""))

    [answer] = await wa.replies_to(CUSTOMER_PHONE)
    assert "we have your location (-6.7924, 39.2083)" in answer and "send its reference" in answer
    assert "https://maps.google.com/?q=-6.7924,39.2083" in await admin_message(wa, "shared a location")


async def test_a_location_after_the_order_was_cancelled_is_not_put_on_it(wa, admin, order):
    assert (await wa.client.post(f"/api/orders/{order['id']}/cancel/", headers=admin)).status == 200
    await wa.replies_to(CUSTOMER_PHONE)   # the cancellation

    await wa.say("", location=PIN)

    answer = (await wa.replies_to(CUSTOMER_PHONE, count=2))[-1]
    assert "no open order" in answer
    detail = await (await wa.client.get(f"/api/orders/{order['id']}/", headers=admin)).json()
    assert detail["deliveryLocation"] is None


async def test_the_admins_show_command_gives_the_delivery_location(wa, order):
    await wa.say("", location=PIN)
    await wa.replies_to(CUSTOMER_PHONE)

    await wa.say(f"show {order['orderReference']}", phone=ADMIN_PHONE)

    answer = await admin_message(wa, "📍 Deliver to")
    assert "My shop, Moi Avenue, Nairobi" in answer


# --- Contacts -----------------------------------------------------------------------------------

async def test_a_contact_card_reaches_the_admins_with_its_name_and_number(wa, order):
    await wa.say("", attachments=[(VCARD.encode(), "text/vcard")])   # observed: "[text/vcard]"

    alert = await admin_message(wa, "shared a contact")
    assert "Jane Wanjiru +254 722 000111" in alert and order["orderReference"] in alert
    [ack] = await wa.replies_to(CUSTOMER_PHONE)
    assert "will answer you here" in ack


@pytest.mark.parametrize("card, read", [
    (VCARD, [Card("Jane Wanjiru", ["+254 722 000111"])]),
    ("BEGIN:VCARD\nVERSION:3.0\nN:Otieno;Amina;;;\nTEL;TYPE=CELL:0712 345 678\nTEL;TYPE=WORK:+254 20 123\nEND:VCARD\n",
     [Card("Amina Otieno", ["0712 345 678", "+254 20 123"])]),
    ("BEGIN:VCARD\nFN:Long\n  Name\nEND:VCARD\nBEGIN:VCARD\nFN:B\nTEL:+255 710 000 000\nEND:VCARD",
     [Card("Long Name", []), Card("B", ["+255 710 000 000"])]),
    ("not a card at all", []),
])
def test_contact_cards_are_read_for_name_and_numbers(card, read):
    assert read_cards(card) == read


def test_a_file_of_many_cards_reads_a_bounded_few():
    assert len(read_cards("BEGIN:VCARD\nFN:x\nEND:VCARD\n" * 10_000)) == 5


# --- Click-to-WhatsApp ads ----------------------------------------------------------------------

async def test_a_greeting_from_an_ad_shows_the_admins_which_ad(wa):
    await wa.say("Hi, is this still available?", fields=AD)   # observed: the ad's fields were dropped

    alert = await admin_message(wa, "from your ad")
    assert "“Oxford Shirt sale”" in alert and "is this still available" in alert


async def test_the_ad_stays_with_the_customer_in_later_alerts_and_on_their_order(wa, order):
    await wa.say("hello", fields=AD)
    await wa.replies_to(CUSTOMER_PHONE)

    await wa.say(f"I have paid for {order['orderReference']}")
    assert "(from your ad “Oxford Shirt sale”)" in await admin_message(wa, "Payment report")

    await wa.say(f"show {order['orderReference']}", phone=ADMIN_PHONE)
    assert "📣 Came from your ad “Oxford Shirt sale”" in await admin_message(wa, "📣 Came from")
