"""A send in doubt (its answer never came, or its process died mid-send) is looked up at Twilio
before it is sent again: found, its SID is recorded; not found, it is sent; the lookup failing, it
waits in doubt (CONTRACT §5). On the real databases, against the loopback fake of Twilio."""
import asyncio
from datetime import datetime, timedelta, timezone

import pytest

from core import outbox
from core.models import OutboundMessage
from tests.conftest import open_windows
from webhooks.delivery import Policy
from webhooks.in_doubt import Listed, lookup_days, match
from webhooks.sender import Sender, TwilioTransport

PHONE = "+254712345678"
AT = datetime(2026, 11, 29, 12, 0, 0, 400_000, tzinfo=timezone.utc)


@pytest.fixture
async def sender(uow, wa_settings):
    transport = TwilioTransport(wa_settings)
    yield Sender(uow, transport, status_callback="https://shop.example.com/webhooks/twilio/status",
                 policy=Policy(backoff_first=timedelta(0)), lease=timedelta(seconds=15))
    await transport.close()


async def queue(uow, *bodies: str, phone: str = PHONE) -> None:
    """Messages to `phone`, who wrote to the shop just now (the 24-hour window is open)."""
    await open_windows(uow, [phone])
    async with uow() as tx:
        for n, body in enumerate(bodies):
            await outbox.enqueue(tx, to=phone, kind="admin_relay", key=f"test:{body}:{n}", body=body)
        await tx.commit()


async def rows(uow) -> list[OutboundMessage]:
    async with uow(readonly=True) as tx:
        return list((await tx.session.execute(
            OutboundMessage.__table__.select().order_by(OutboundMessage.id))).all())


async def died_mid_send(uow) -> None:
    """A process claimed every due message, began sending, and died: its claims run out."""
    async with uow() as tx:
        await outbox.claim_due(tx, limit=100, lease=timedelta(0))
        await tx.commit()


async def test_a_send_whose_answer_never_came_is_found_at_twilio_and_not_sent_again(uow, sender, twilio):
    await queue(uow, "Your order LEG-1 is confirmed")
    twilio.withhold_next(seconds=0.1)  # Twilio creates it; the answer never reaches us

    await sender.send_due()  # no answer: in doubt
    [in_doubt] = await rows(uow)
    await sender.send_due()  # looked up, found

    [message] = await rows(uow)
    [at_twilio] = twilio.messages
    assert (in_doubt.status, in_doubt.twilio_sid) == ("queued", None) and in_doubt.attempt_started_at is not None
    assert (message.twilio_sid, message.status, message.attempt_started_at) == (at_twilio["sid"], "sent", None)
    assert [(lookup["To"], lookup["DateSent"]) for lookup in twilio.lookups] == [
        (f"whatsapp:{PHONE}", at_twilio["created"].date().isoformat())]


async def test_a_claim_of_a_process_that_died_is_sent_once_when_twilio_never_got_it(uow, sender, twilio):
    await queue(uow, "Your order LEG-2 is confirmed", "Your order LEG-3 is shipped")
    await died_mid_send(uow)

    await sender.send_due()

    assert [m["Body"] for m in twilio.messages] == ["Your order LEG-2 is confirmed", "Your order LEG-3 is shipped"]
    assert [m.twilio_sid for m in await rows(uow)] == [m["sid"] for m in twilio.messages]
    assert len(twilio.lookups) == 1  # one list for the recipient, both messages looked up in it


async def test_of_two_same_texts_in_doubt_only_the_one_twilio_lacks_is_sent(uow, sender, twilio):
    await queue(uow, "Send your order reference", "Send your order reference")
    twilio.withhold_next(seconds=0.1)  # the first reaches Twilio, unanswered; the second is then sent
    await sender.send_due()
    await died_mid_send(uow)  # both in doubt now (the second's answer was never recorded either)

    await sender.send_due()

    assert len(twilio.messages) == 2
    assert sorted(m.twilio_sid for m in await rows(uow)) == sorted(m["sid"] for m in twilio.messages)


async def test_a_lookup_that_fails_sends_nothing_and_the_message_waits_in_doubt(uow, sender, twilio):
    await queue(uow, "Your order LEG-4 is confirmed")
    await died_mid_send(uow)
    twilio.fail_lookups_next()

    await sender.send_due()
    [waiting] = await rows(uow)
    await sender.send_due()

    [message] = await rows(uow)
    assert (waiting.status, waiting.twilio_sid) == ("queued", None) and waiting.attempt_started_at is not None
    assert [lookup["status"] for lookup in twilio.lookups] == [503, 200]
    assert [m["sid"] for m in twilio.messages] == [message.twilio_sid]


async def test_a_pass_that_outlasts_its_lease_renews_its_claims(uow, wa_settings, twilio):
    transport = TwilioTransport(wa_settings)
    sender = Sender(uow, transport, status_callback="https://shop.example.com/s", lease=timedelta(seconds=3))
    await queue(uow, "Your order LEG-5 is confirmed")
    # Twilio holds the send until the test lets it go: the pass outlasts its lease however slow the
    # machine, and ends only after the checks below.
    twilio.withhold_next()
    try:
        passing = asyncio.create_task(sender.send_due())
        await twilio.wait_for(lambda: twilio.requests)
        [claimed] = await rows(uow)
        renewed = await until(lambda: _claimed_until(uow), lambda at: at != claimed.claimed_until)
        async with uow() as tx:  # another process, just after the renewal
            taken = await outbox.claim_due(tx, limit=100, lease=timedelta(seconds=15))
        twilio.release_withheld()
        await passing
    finally:
        await transport.close()

    assert renewed is not None and renewed > claimed.claimed_until and taken == []


async def _claimed_until(uow):
    [message] = await rows(uow)
    return message.claimed_until


async def until(read, ok, timeout: float = 5.0):
    """Read until `ok(value)`, at most `timeout` s; returns the value."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not ok(value := await read()):
        assert asyncio.get_running_loop().time() < deadline, f"still {value!r} after {timeout}s"
        await asyncio.sleep(0.02)
    return value


@pytest.mark.parametrize(("bodies", "listed", "known", "found"), [
    # same text, created in the second the attempt began or after: it
    (["Order LEG-1 confirmed"], [("SM1", "Order LEG-1 confirmed", 0)], set(), {0: "SM1"}),
    # created before the attempt began: an earlier event's, not it
    (["Order LEG-1 confirmed"], [("SM1", "Order LEG-1 confirmed", -2)], set(), {}),
    # another text
    (["Order LEG-1 confirmed"], [("SM1", "Order LEG-2 confirmed", 1)], set(), {}),
    # already recorded on another message
    (["Hello"], [("SM1", "Hello", 1)], {"SM1"}, {}),
    # two of the same text, one at Twilio: the older message takes it, the other is sent
    (["Hello", "Hello"], [("SM1", "Hello", 1)], set(), {0: "SM1"}),
    (["Hello", "Hello"], [("SM2", "Hello", 2), ("SM1", "Hello", 1)], set(), {0: "SM1", 1: "SM2"}),
])
def test_a_message_matches_one_twilio_message_of_its_text_created_after_its_attempt(bodies, listed, known, found):
    messages = [outbox.Claimed(i, f"k{i}", "admin_relay", PHONE, body, {}, None, None, None, 1, in_doubt_since=AT)
                for i, body in enumerate(bodies)]
    twilio = [Listed(sid, "sent", body, AT.replace(microsecond=0) + timedelta(seconds=s)) for sid, body, s in listed]

    assert {i: m.sid for i, m in match(messages, twilio, known).items()} == found


def test_a_template_matches_the_body_twilio_filled_in_with_its_variables():
    message = outbox.Claimed(1, "k", "order_status", PHONE, "-", {}, "HX" + "1" * 32,
                             '{"1": "Amina", "2": "LEG-1", "3": "shipped"}', None, 1, in_doubt_since=AT)
    filled = Listed("SM1", "sent", "Hi Amina, your order LEG-1 is now shipped.", AT)
    other = Listed("SM2", "sent", "Hi Amina, your order LEG-1 is now confirmed.", AT)

    assert match([message], [other, filled], set()) == {1: filled}


@pytest.mark.parametrize(("since", "now", "days"), [
    ("2026-11-29T12:00", "2026-11-29T12:00:20", ["2026-11-29"]),
    ("2026-11-29T23:59:58", "2026-11-30T00:00:09", ["2026-11-29", "2026-11-30"]),  # Twilio may date it either
    ("2026-11-20T10:00", "2026-11-29T10:00", ["2026-11-20", "2026-11-21", "2026-11-22"]),  # bounded
])
def test_a_lookup_lists_the_days_from_the_attempt_to_today(since, now, days):
    assert [d.isoformat() for d in lookup_days(datetime.fromisoformat(since), datetime.fromisoformat(now))] == days
