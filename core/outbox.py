"""The outbox: every outbound WhatsApp message is a row written in the transaction that causes it.

`enqueue` is idempotent by key (one event, one message), skips unprompted messages to customers
who sent STOP, renders the body through the texts the composition root gave the unit of work, and
cuts it to what Twilio takes: every message goes through here, so no body is ever longer.
The sender in webhooks/ delivers rows after commit; this module holds the SQL that claiming needs.

A message's send is *in doubt* when it may have reached Twilio without its answer being recorded:
its claim ran out (the process died mid-send) or the send got no answer. `attempt_started_at`
holds when that send began (set at claim, cleared by a definite answer); the sender looks such a
message up at Twilio before sending it again (`Claimed.in_doubt_since`), so it never goes twice.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, func, select, union_all, update
from core import logcontext
from core.db import insert_unless_taken, lock_names, one_of
from core.models import Customer, DeliveryEvent, Order, OutboundMessage
from core.references import canonical

# Delivery statuses only move forward along this order; failed and undelivered are final.
RANK = {"queued": 0, "accepted": 0, "scheduled": 0, "sending": 1, "sent": 2, "delivered": 3, "read": 4,
        "failed": 5, "undelivered": 5, "canceled": 5}
FINAL = frozenset({"read", "failed", "undelivered", "canceled"})
# Twilio refuses a longer Body (error 21617), so the message would never arrive: a longer one goes
# out cut, ending with "…". Texts are written to fit; this catches what outside text made long.
MAX_BODY_CHARS = 1_600


async def enqueue(uow, *, to: str, kind: str, key: str, variables: dict | None = None,
                  order_id: str | None = None, unprompted: bool = False, body: str | None = None,
                  content_sid: str | None = None, content_variables: str | None = None) -> bool:
    """Queue one message; False when the key was queued before or the customer opted out."""
    if unprompted and await uow.scalar(OPTED_OUT, {"phone": to}):
        return False
    row = message(uow, to=to, kind=kind, key=key, variables=variables, order_id=order_id, body=body,
                  content_sid=content_sid, content_variables=content_variables)
    return await queue(uow, [row]) == 1


def message(uow, *, to: str, kind: str, key: str, variables: dict | None = None, order_id: str | None = None,
            body: str | None = None, content_sid: str | None = None, content_variables: str | None = None) -> dict:
    """One message's outbox row, its text worded and cut to what can be sent: what `queue` inserts, and
    what an order's change writes in its own statement on PostgreSQL (core/order_writes.py)."""
    now, variables = uow.now(), variables or {}
    text = cut(body if body is not None else uow.render(kind, variables))
    return {"key": key[:200], "kind": kind, "to_phone": to, "body": text, "variables": variables, "order_id": order_id,
            "status": "queued", "attempts": 0, "next_attempt_at": now, "content_sid": content_sid,
            "content_variables": content_variables, "request_id": logcontext.current().get("request_id"),
            "created_at": now, "updated_at": now}


async def queue(uow, messages: list[dict]) -> int:
    """Insert these rows (made by `message`), each unless its key was queued before; how many were."""
    queued = 0
    for row in messages:
        queued += (await uow.execute(insert_unless_taken(uow.conn, MESSAGES, ("key",)), row)).rowcount == 1
    count_queued(uow, queued)
    return queued


def count_queued(uow, queued: int) -> None:
    """The commit wakes the sender only when something was queued."""
    uow.queued += queued


async def replied_to(uow, twilio_sid: str, to_phone: str) -> tuple[str | None, str | None]:
    """What our message `twilio_sid` to `to_phone` was about (a swipe-reply's context): (the reference
    of its order — the message's order, else the `reference` its texts were filled with, as admin
    alerts are —, the customer's `phone` an admin alert names). (None, None) for a message we did not
    send to that number."""
    row = (await uow.execute(select(MESSAGES.c.order_id, MESSAGES.c.variables)
                             .where(MESSAGES.c.twilio_sid == twilio_sid, MESSAGES.c.to_phone == to_phone))).first()
    if row is None:
        return None, None
    variables = row.variables or {}
    reference = variables.get("reference")
    reference = canonical(reference) if isinstance(reference, str) else None
    if row.order_id:
        reference = await uow.session.scalar(select(Order.reference).where(Order.id == row.order_id))
    phone = variables.get("phone")
    return reference, phone if isinstance(phone, str) else None


def cut(body: str, limit: int = MAX_BODY_CHARS) -> str:
    """`body` as it can be sent: at most `limit` characters, the last one "…" when it was longer."""
    return body if len(body) <= limit else body[:limit - 1] + "…"


MESSAGES = OutboundMessage.__table__
OPTED_OUT = select(Customer.__table__.c.opted_out).where(Customer.__table__.c.phone == bindparam("phone"))
# Not `twilio_sid IS NULL`: SQLite takes the unique index on twilio_sid for it (a unique value is one
# row, it reckons), then walks every message that never got a SID — each failed one, ever. Written
# so, a claimed message is found through the (status, next_attempt_at) index like a queued one.
UNSENT = func.coalesce(MESSAGES.c.twilio_sid, "") == ""
# Due: queued and its time has come, or claimed by a process that died before Twilio took it. Two
# index searches, one per index: as one OR, SQLite given planner statistics walks the whole table.
DUE_IDS = union_all(
    select(MESSAGES.c.id).where(MESSAGES.c.status == "queued", MESSAGES.c.next_attempt_at <= bindparam("now")),
    select(MESSAGES.c.id).where(MESSAGES.c.status == "sending", UNSENT, MESSAGES.c.claimed_until < bindparam("now")),
)
ANY_DUE = select(DUE_IDS.subquery().c.id).limit(1)
CLAIMED_COLUMNS = (MESSAGES.c.id, MESSAGES.c.key, MESSAGES.c.kind, MESSAGES.c.to_phone, MESSAGES.c.body,
                   MESSAGES.c.variables, MESSAGES.c.content_sid, MESSAGES.c.content_variables, MESSAGES.c.order_id,
                   MESSAGES.c.request_id, MESSAGES.c.attempts, MESSAGES.c.attempt_started_at.label("in_doubt_since"))
# Oldest first; on PostgreSQL the rows another process is claiming are skipped, not waited for.
DUE_ROWS = (select(*CLAIMED_COLUMNS).where(MESSAGES.c.id.in_(DUE_IDS)).order_by(MESSAGES.c.id)
            .limit(bindparam("limit")).with_for_update(skip_locked=True))
# A send in doubt keeps the time its attempt began: the lookup at Twilio searches from then.
CLAIM = (update(MESSAGES).where(one_of(MESSAGES.c.id, "ids"))
         .values(status="sending", claimed_until=bindparam("until"), attempts=MESSAGES.c.attempts + 1,
                 attempt_started_at=func.coalesce(MESSAGES.c.attempt_started_at, bindparam("now")),
                 updated_at=bindparam("now")))
RENEW = (update(MESSAGES).where(one_of(MESSAGES.c.id, "ids"), MESSAGES.c.status == "sending", UNSENT)
         .values(claimed_until=bindparam("until")))
KNOWN_SIDS = select(MESSAGES.c.twilio_sid).where(one_of(MESSAGES.c.twilio_sid, "sids"))
# By id, the other values as parameters: the SET clause comes from the parameters' keys.
UPDATE_MESSAGE = update(MESSAGES).where(MESSAGES.c.id == bindparam("b_id"))
EARLY_EVENTS = (select(DeliveryEvent.__table__.c.message_sid, DeliveryEvent.__table__.c.status,
                       DeliveryEvent.__table__.c.error_code)
                .where(one_of(DeliveryEvent.__table__.c.message_sid, "sids")).order_by(DeliveryEvent.__table__.c.id))


@dataclass(slots=True)
class Claimed:
    """A message this process claimed: what sending it needs (the columns of OutboundMessage)."""

    id: int
    key: str
    kind: str
    to_phone: str
    body: str
    variables: dict
    content_sid: str | None
    content_variables: str | None
    order_id: str | None
    attempts: int
    in_doubt_since: datetime | None = None  # an earlier send, begun then, may be at Twilio: look it up
    request_id: str | None = None  # of the request that queued it: its sending's log lines carry it
    status: str = "sending"
    error_code: str | None = None
    error_message: str | None = None
    claimed_until: datetime | None = None


async def any_due(uow) -> bool:
    """A read, so an idle sweep costs no write transaction."""
    return await uow.scalar(ANY_DUE, {"now": uow.now()}) is not None


async def claim_due(uow, *, limit: int, lease: timedelta) -> list[Claimed]:
    """Take up to `limit` due messages for this process; others skip them (SKIP LOCKED on PostgreSQL,
    the write lock on SQLite). A claim whose process died before the send was recorded expires after
    `lease` (renew_claims extends it); its message then comes back in doubt."""
    now = uow.now()
    rows = (await uow.execute(DUE_ROWS, {"now": now, "limit": limit})).all()
    if not rows:
        return []
    await uow.execute(CLAIM, {"ids": [row.id for row in rows], "until": now + lease, "now": now})
    return [Claimed(**{**row._asdict(), "attempts": row.attempts + 1}) for row in rows]


async def renew_claims(uow, ids: list[int], lease: timedelta) -> None:
    """Extend this process's claims on the messages of `ids` still unsent: a pass that takes long
    keeps them, while a process that died lets them go after one short lease."""
    if ids:
        await uow.execute(RENEW, {"ids": ids, "until": uow.now() + lease})


async def record_attempts(uow, ids: list[int]) -> None:
    """Messages looked up and not found at Twilio are sent now: their attempt begins now."""
    if ids:
        await uow.execute(UPDATE_MESSAGE, [{"b_id": i, "attempt_started_at": uow.now()} for i in ids])


async def known_sids(uow, sids: list[str]) -> set[str]:
    """Which of these Twilio SIDs are already recorded on a message (another event's)."""
    if not sids:
        return set()
    return set((await uow.execute(KNOWN_SIDS, {"sids": sids})).scalars())


async def save_claimed(uow, messages: list[Claimed], *fields: str) -> None:
    """Write `fields` of these claimed messages back (the window's decisions), in one statement."""
    if messages:
        await uow.execute(UPDATE_MESSAGE, [{"b_id": m.id, "updated_at": uow.now(),
                                            **{name: getattr(m, name) for name in fields}} for m in messages])


# A claim given back unsent: queued again as if it had not been claimed (the attempt not counted,
# its start as it was), first in line for the next pass.
GIVE_BACK = (update(MESSAGES).where(MESSAGES.c.id == bindparam("b_id"), MESSAGES.c.status == "sending", UNSENT)
             .values(status="queued", claimed_until=None, attempts=MESSAGES.c.attempts - 1,
                     attempt_started_at=bindparam("b_started"), next_attempt_at=bindparam("b_now"),
                     updated_at=bindparam("b_now")))


async def give_back(uow, messages: list[Claimed]) -> None:
    """Claimed messages a pass did not get to send (sender.py: a pass's time is bounded)."""
    if messages:
        now = uow.now()
        await uow.execute(GIVE_BACK, [{"b_id": m.id, "b_started": m.in_doubt_since, "b_now": now}
                                      for m in messages])


async def release_claims(uow) -> int:
    """Put back every claim whose send was never recorded: for a process that knows it is the only
    sender (SQLite is one process per file), claims left at its start belong to a process that died.
    They keep `attempt_started_at`, so each is looked up at Twilio before it is sent again."""
    result = await uow.execute(
        update(MESSAGES).where(MESSAGES.c.status == "sending", UNSENT)
        .values(status="queued", claimed_until=None, next_attempt_at=uow.now(), updated_at=uow.now()))
    return result.rowcount


async def record_sent(uow, message_id: int, sid: str, status: str) -> None:
    """Twilio took the message. Callbacks that arrived before this answer was stored apply now."""
    await record_sent_many(uow, [(message_id, sid, status)])


async def record_sent_many(uow, sent: list[tuple[int, str, str]]) -> None:
    """Twilio took these claimed messages: (id, MessageSid, status) each, recorded in one transaction.
    Callbacks that arrived before the answers were stored (kept in delivery_events) apply now."""
    if not sent:
        return
    # A callback and this record of the same MessageSid take turns (see record_callback).
    await lock_names(uow.conn, [f"sid:{sid}" for _, sid, _ in sent])
    early: dict[str, list] = {}
    for event in (await uow.execute(EARLY_EVENTS, {"sids": [sid for _, sid, _ in sent]})).all():
        early.setdefault(event.message_sid, []).append(event)
    now, rows = uow.now(), []
    for message_id, sid, answer in sent:
        status, error_code = advanced("sending", None, answer)
        for event in early.get(sid, ()):
            status, error_code = advanced(status, error_code, event.status, event.error_code)
        rows.append({"b_id": message_id, "twilio_sid": sid, "sent_at": now, "claimed_until": None,
                     "attempt_started_at": None, "status": status, "error_code": error_code, "updated_at": now})
    await uow.execute(UPDATE_MESSAGE, rows)


def advanced(current: str, error_code: str | None, status: str, new_code: str | None = None) -> tuple[str, str | None]:
    """(status, error code) after a report of `status`: delivery statuses only move forward, and the
    final ones stay; an unknown status moves nothing."""
    status = (status or "").lower()
    if status not in RANK or current in FINAL or RANK[status] <= RANK.get(current, 0):
        return current, error_code
    return status, new_code or error_code


async def record_retry(uow, message_id: int, at: datetime, error: str, *, in_doubt: bool = False) -> None:
    """Queue the message again for `at`. in_doubt: the send got no answer, so it may be at Twilio;
    the attempt's start is kept and the next try looks it up first."""
    values = {} if in_doubt else {"attempt_started_at": None}
    await uow.session.execute(
        update(OutboundMessage).where(OutboundMessage.id == message_id)
        .values(status="queued", next_attempt_at=at, claimed_until=None, error_message=error[:1000],
                updated_at=uow.now(), **values)
    )


async def record_failed(uow, message_id: int, code: str | None, error: str) -> OutboundMessage:
    message = await uow.session.get(OutboundMessage, message_id, with_for_update=True)
    message.status, message.error_code, message.error_message = "failed", code, error[:1000]
    message.claimed_until, message.updated_at = None, uow.now()
    return message


async def record_callback(uow, sid: str, status: str, error_code: str | None) -> OutboundMessage | None:
    """A status callback: kept as an event always; applied to its message when known and forward.
    Returns the message when this callback just made it failed or undelivered.

    It takes turns with the sender's record of the same MessageSid: otherwise, on PostgreSQL, a
    callback could find no message yet while the record, not seeing the callback's event yet,
    commits without it, and the status would be lost."""
    await lock_names(uow.conn, [f"sid:{sid}"])
    uow.session.add(DeliveryEvent(message_sid=sid, status=status, error_code=error_code, received_at=uow.now()))
    message = (await uow.session.execute(
        select(OutboundMessage).where(OutboundMessage.twilio_sid == sid).with_for_update()
    )).scalar_one_or_none()
    if message is None:
        return None
    before = message.status
    await _advance(uow, message, status, error_code)
    return message if message.status != before and message.status in ("failed", "undelivered") else None


async def _advance(uow, message: OutboundMessage, status: str, error_code: str | None = None) -> None:
    moved, code = advanced(message.status, message.error_code, status, error_code)
    if moved != message.status:  # an unknown status is kept in delivery_events, never moves the message
        message.status, message.error_code, message.updated_at = moved, code, uow.now()


async def retry(uow, *, message_id: int | None = None) -> int:
    """`orderdesk outbox retry`: put messages that did not reach their recipient back in the queue
    (one by id, or all of them)."""
    where = [OutboundMessage.status.in_(("failed", "undelivered"))]
    if message_id is not None:
        where.append(OutboundMessage.id == message_id)
    result = await uow.session.execute(
        update(OutboundMessage).where(*where)
        .values(status="queued", next_attempt_at=uow.now(), attempts=0, error_code=None, error_message=None,
                twilio_sid=None, updated_at=uow.now())
    )
    return result.rowcount
