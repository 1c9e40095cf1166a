"""One long message costs a bounded amount and produces a bounded amount (issue 12, item 6): a
20,000-character WhatsApp message of payments gives at most a few proofs and no message longer than
WhatsApp's 1,600 characters; an order keeps at most so many proofs, and the admins hear once when
more come. Counted, never timed: `make bench` measures what the worst of these costs."""
import pytest

from bot.payment_texts import MAX_READS_PER_MESSAGE
from core import orders, proofs
from core.outbox import MAX_BODY_CHARS
from tests.conftest import ADMIN_PHONE, CUSTOMER_PHONE, open_windows
from tests.helpers import make_product, place_order
from tests.hostile_texts import HOSTILE
from tests.test_payment_evidence import order_detail, payment_alert
from tests.test_payment_texts import MPESA_SENT


def every_body_sent(wa) -> list[str]:
    """Every Body the app handed to Twilio, refused sends included."""
    return [request["Body"] or "" for request in wa.twilio.requests]


@pytest.mark.parametrize("name", ["sent to, no code", "distinct codes"])
async def test_one_20000_character_payment_message_gives_a_few_proofs_and_short_messages(wa, admin, name):
    # Given a customer with a pending order
    order = await place_order(wa.client, (await make_product(wa.client, admin, stock=5), 1))
    ref = order["orderReference"]

    # When they send one message of hundreds of payments, as long as the webhook keeps
    await wa.say(HOSTILE[name])

    # Then the order holds a few proofs, the admins read that the rest were cut, the customer is thanked
    [ack] = await wa.replies_to(CUSTOMER_PHONE)
    assert ref in ack and "Thank you" in ack
    detail = await order_detail(wa, admin, order)
    assert 1 <= len(detail["paymentProofs"]) <= MAX_READS_PER_MESSAGE
    assert detail["paymentStatus"] == "reported"
    alert = await payment_alert(wa, ref)
    assert f"only the first {MAX_READS_PER_MESSAGE} were read" in alert
    # and nothing sent to Twilio is longer than WhatsApp takes
    assert max(map(len, every_body_sent(wa))) <= MAX_BODY_CHARS


async def test_an_order_keeps_at_most_so_many_proofs_and_the_admins_hear_once_that_more_came(wa, admin, uow):
    # Given a pending order that already holds all but one of the proofs an order keeps
    order = await place_order(wa.client, (await make_product(wa.client, admin, stock=5), 1))
    ref = order["orderReference"]
    async with uow() as tx:
        row = await orders.get_order(tx, ref)
        for _ in range(proofs.MAX_PROOFS_PER_ORDER - 1):
            await proofs.record_proof(tx, row, kind="text", actor=CUSTOMER_PHONE, raw_text="I have paid")
        await tx.commit()

    # When the customer forwards two confirmations in one message, then two more messages
    second_code = MPESA_SENT.replace("QJK3ABCD12", "QJK3ABCD13")
    await wa.say(MPESA_SENT + "\n" + second_code)
    for code in ("QJK3ABCD14", "QJK3ABCD15"):
        await wa.say(MPESA_SENT.replace("QJK3ABCD12", code))

    # Then the order holds exactly as many as it keeps: the first confirmation's
    detail = await order_detail(wa, admin, order)
    assert len(detail["paymentProofs"]) == proofs.MAX_PROOFS_PER_ORDER
    assert detail["paymentProofs"][-1]["transactionCode"] == "QJK3ABCD12"
    # the customer was answered every time, told the last reports were not added
    answers = await wa.replies_to(CUSTOMER_PHONE, count=3)
    assert "We got your payment report" in answers[0]
    assert all(ref in a and "already has" in a for a in answers[1:])
    # and the admins heard once that more reports came than are kept
    full = await wa.twilio.wait_for(
        lambda: [m["Body"] for m in wa.twilio.messages_to(ADMIN_PHONE) if "no longer kept" in m["Body"]])
    assert len(full) == 1 and ref in full[0] and f"show {ref}" in full[0]


async def test_a_message_longer_than_whatsapp_takes_goes_out_cut_to_1600_characters(wa, uow):
    # Given a customer who wrote today
    await open_windows(uow, [CUSTOMER_PHONE])

    # When an admin replies with more than WhatsApp takes in one message
    await wa.say(f"reply {CUSTOMER_PHONE} " + "Karibu sana! " * 200, phone=ADMIN_PHONE)

    # Then the customer gets it cut to WhatsApp's limit, ending with "…", and the admin is told so
    [sent] = await wa.replies_to(CUSTOMER_PHONE)
    assert len(sent) == MAX_BODY_CHARS and sent.startswith("Karibu sana! Karibu") and sent.endswith("…")
    [answer] = await wa.replies_to(ADMIN_PHONE)
    assert "cut to 1,600 characters" in answer
