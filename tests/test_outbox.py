"""The outbox's own rules, on the real databases: one message per event key, statuses only forward,
a callback that beats the send's answer is kept and applied."""
from datetime import timedelta

from core import outbox
from core.models import DeliveryEvent, OutboundMessage
from tests.conftest import ADMIN_PHONE, CUSTOMER_PHONE
from tests.databases import sqlite_only


async def _queued_and_claimed(uow) -> int:
    async with uow() as tx:
        await outbox.enqueue(tx, to="+254712345678", kind="order_status", key="order:1:status:confirmed", body="hi")
        [message] = await outbox.claim_due(tx, limit=5, lease=timedelta(seconds=60))
        await tx.commit()
    return message.id


async def test_the_same_event_key_queues_one_message(uow):
    async with uow() as tx:
        first = await outbox.enqueue(tx, to="+254712345678", kind="order_status", key="order:1:status:shipped", body="a")
        again = await outbox.enqueue(tx, to="+254712345678", kind="order_status", key="order:1:status:shipped", body="b")
        await tx.commit()

    assert (first, again) == (True, False)


async def test_a_callback_that_arrives_before_the_send_answer_is_applied_when_the_answer_is_stored(uow):
    message_id = await _queued_and_claimed(uow)

    async with uow() as tx:  # Twilio's callback wins the race with its own 201
        assert await outbox.record_callback(tx, "SM" + "a" * 32, "delivered", None) is None
        await tx.commit()
    async with uow() as tx:
        await outbox.record_sent(tx, message_id, "SM" + "a" * 32, "queued")
        await tx.commit()

    async with uow() as tx:
        message = await tx.session.get(OutboundMessage, message_id)
        assert message.status == "delivered"
        assert await tx.session.get(DeliveryEvent, 1) is not None


async def test_an_unknown_status_is_stored_and_moves_nothing(uow):
    message_id = await _queued_and_claimed(uow)
    async with uow() as tx:
        await outbox.record_sent(tx, message_id, "SM" + "b" * 32, "queued")
        await outbox.record_callback(tx, "SM" + "b" * 32, "delivered", None)
        await outbox.record_callback(tx, "SM" + "b" * 32, "partially_teleported", None)
        await outbox.record_callback(tx, "SM" + "b" * 32, "sent", None)
        await tx.commit()

    async with uow() as tx:
        assert (await tx.session.get(OutboundMessage, message_id)).status == "delivered"
        statuses = [e.status for e in (await tx.session.execute(
            DeliveryEvent.__table__.select().order_by(DeliveryEvent.id))).all()]
        assert statuses == ["delivered", "partially_teleported", "sent"]


async def test_a_backlog_to_one_number_does_not_hold_up_a_reply_to_another(wa, uow):
    wa.twilio.latency = 0.05  # Twilio answers each send in 50 ms: one number's 30 take 1.5 s in a row
    async with uow() as tx:  # a flood of alerts to the admin, queued at once
        for n in range(30):
            await outbox.enqueue(tx, to=ADMIN_PHONE, kind="admin_relay", key=f"flood:{n}", variables={},
                                 body=f"alert {n}")
        await tx.commit()
    await wa.twilio.wait_for(lambda: wa.twilio.messages_to(ADMIN_PHONE))  # the flood is being sent

    await wa.say("hello")  # a customer writes meanwhile

    await wa.replies_to(CUSTOMER_PHONE)
    to_admin_before_the_reply = len(wa.twilio.messages_to(ADMIN_PHONE))
    alerts = [m["Body"] for m in await wa.twilio.wait_for_messages(30, to=ADMIN_PHONE, timeout=10)]
    assert to_admin_before_the_reply < 15, to_admin_before_the_reply  # not after the whole flood
    assert alerts == [f"alert {n}" for n in range(30)]  # the flood itself keeps its order


@sqlite_only  # EXPLAIN QUERY PLAN is SQLite's; the statements and indexes are the same on PostgreSQL
async def test_the_senders_look_up_of_due_messages_never_walks_every_message_twilio_took(uow):
    """Messages Twilio took stay `sending` until a status callback comes, which may be never: the
    sender's look-ups, at every pass, go through indexes, whatever SQLite's planner statistics say."""
    from sqlalchemy import text
    from sqlalchemy.dialects import sqlite

    async with uow() as tx:
        for n in range(300):
            await outbox.enqueue(tx, to=f"+2547123{n:05d}", kind="order_status", key=f"took:{n}", body="hi")
        claimed = await outbox.claim_due(tx, limit=300, lease=timedelta(seconds=60))
        await outbox.record_sent_many(tx, [(m.id, f"SM{m.id:032d}", "queued") for m in claimed])
        await outbox.enqueue(tx, to=CUSTOMER_PHONE, kind="order_status", key="new", body="hi")
        await tx.execute(text("ANALYZE"))
        plans = []
        for statement in (outbox.DUE_ROWS, outbox.ANY_DUE):
            compiled = statement.compile(dialect=sqlite.dialect(paramstyle="named"))
            values = {**compiled.params, "now": str(tx.now().replace(tzinfo=None)), "limit": 100}
            plan = await tx.execute(text("EXPLAIN QUERY PLAN " + str(compiled)), values)
            plans.append([row[3] for row in plan])
        assert [m.key for m in await outbox.claim_due(tx, limit=5, lease=timedelta(seconds=60))] == ["new"]

    assert all(not any(step.startswith("SCAN outbound_messages") for step in plan) for plan in plans), plans
