"""An order's writes, each in as few round trips as its database allows.

A change of an order is its row's UPDATE guarded by the status it was read with, a history row
naming the actor, the messages it queues (outbox rows, in the same transaction) and, when a
confirm takes stock or a cancel puts it back, the stock movements; then the answer shows the
order's history and proofs as they stand. A new order is its row (the reference's unique index
decides: ON CONFLICT DO NOTHING), its lines, its history row and the admins' alerts.

On SQLite each is the separate statements it always was: a statement there costs microseconds,
and SQLite has no data-modifying CTEs. On PostgreSQL every statement is a round trip (asyncpg
sending and decoding was half of the server's CPU under load, docs/performance.md); so there each
is one statement of data-modifying CTEs, run whole or not at all, built once with every value a
parameter (rows as one array per column) so core/statements.py runs it on asyncpg directly. (No
parameter is named like a column: SQLAlchemy would take it for a value of the UPDATE's SET clause.)
This module is the only place where the two databases are written differently.
"""
from __future__ import annotations

from sqlalchemy import (Boolean, Integer, String, bindparam, cast, exists, func, insert, literal_column, null, select,
                        union_all, update)
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by

from core import outbox, views
from core.db import insert_unless_taken
from core.models import OrderEvent, OrderItem, OutboundMessage, StockMovement, UTCDateTime
from core.references import lookup_key
from core.views import EventView, OrderView, ProofView

ORDERS, ITEMS, EVENTS = views.orders_t, OrderItem.__table__, OrderEvent.__table__
PROOFS, MESSAGES, MOVEMENTS = views.proofs_t, OutboundMessage.__table__, StockMovement.__table__
ORDER_ROW = tuple(column.name for column in views.ORDER_COLUMNS) + ("reference_key",)
LINE_ROW = ("position", "product_id", "product_name", "product_barcode", "product_image", "quantity", "unit_price",
            "selected_size", "selected_color")
EVENT_ROW = ("kind", "from_status", "to_status", "actor", "note", "at")
MESSAGE_ROW = ("key", "kind", "to_phone", "body", "variables", "order_id", "status", "attempts", "next_attempt_at",
               "content_sid", "content_variables", "request_id", "created_at", "updated_at")  # outbox.message's keys
MOVEMENT_ROW = ("product_id", "delta", "reason", "actor", "at")


async def change(uow, order: OrderView, *, status: str, event: EventView, messages: list[dict],
                 movements: list[dict] = (), proofs: bool = True, **changes) -> bool:
    """Move `order` from the status it was read with to `status` (`changes`: its payment_status or
    stock_taken too), write `event`, queue `messages` (rows of outbox.message) and record `movements`
    (rows of stock.movements); then fill in the order's history and, with `proofs`, its payment
    proofs, for the answer. False, with nothing written, if the order's status is not the one read
    (the caller holds the row lock, so it always is)."""
    before, at = order.status, event.at
    if uow.conn.dialect.name != "postgresql":
        values = {"updated_at": at, **changes, **({"status": status} if status != before else {})}
        if (await uow.execute(UPDATE_ORDER, {"b_id": order.id, "b_status": before, **values})).rowcount != 1:
            return False
        await uow.execute(INSERT_EVENT, {"order_id": order.id, **_row(event, EVENT_ROW)})
        await outbox.queue(uow, messages)
        if movements:
            await uow.execute(INSERT_MOVEMENTS, [{"order_id": order.id, **movement} for movement in movements])
        _changed(order, status, at, changes)
        await views.attach(uow, [order], items=False, proofs=proofs)
        return True
    # As views.attach: an order still unpaid after the change has no proofs to read.
    paid = changes.get("payment_status", order.payment_status) != "unpaid"
    rows = (await uow.execute(CHANGE, {
        "b_id": order.id, "b_before": before, "b_status": status, "b_updated_at": at,
        "b_payment_status": changes.get("payment_status"), "b_stock_taken": changes.get("stock_taken"),
        "b_proofs": proofs and paid, **_prefixed("e", _row(event, EVENT_ROW)), **_arrays("m", messages, MESSAGE_ROW),
        **_arrays("mv", movements, MOVEMENT_ROW)})).all()
    if not rows or not rows[0].moved:
        return False
    outbox.count_queued(uow, rows[0].queued)
    _changed(order, status, at, changes)
    for row in rows:
        if row.part == HISTORY:
            order.history.append(EventView(row.kind, row.from_status, row.to_status, row.actor, row.note, row.at))
        else:
            order.payment_proofs.append(ProofView(row.kind, row.provider, row.transaction_code, row.amount,
                                                  row.currency, row.received_at, row.media_url, row.flags,
                                                  row.verified_by))
    return True


async def create(uow, order: OrderView, event: EventView, messages: list[dict]) -> bool:
    """Insert `order` with its lines (their ids filled in), `event` and `messages`, unless an order
    holds its reference already: then nothing is written and the answer is False."""
    values = {**_row(order, ORDER_ROW[:-1]), "reference_key": lookup_key(order.reference)}
    lines = [{"position": position, **_row(line, LINE_ROW[1:])} for position, line in enumerate(order.items)]
    if uow.conn.dialect.name != "postgresql":
        if (await uow.execute(insert_unless_taken(uow.conn, ORDERS, ("reference",)), values)).rowcount != 1:
            return False
        ids = (await uow.execute(INSERT_LINES, [{"order_id": order.id, **line} for line in lines])).scalars()
        await uow.execute(INSERT_EVENT, {"order_id": order.id, **_row(event, EVENT_ROW)})
        await outbox.queue(uow, messages)
    else:
        row = (await uow.execute(CREATE, {**_prefixed("o", values), **_arrays("l", lines, LINE_ROW),
                                          **_prefixed("e", _row(event, EVENT_ROW)),
                                          **_arrays("m", messages, MESSAGE_ROW)})).one()
        if not row.created:
            return False
        outbox.count_queued(uow, row.queued)
        ids = row.line_ids
    for line, line_id in zip(order.items, ids):
        line.id = line_id
    return True


def _changed(order: OrderView, status: str, at, changes: dict) -> None:
    order.status, order.updated_at = status, at
    for name, value in changes.items():
        setattr(order, name, value)


def _row(thing, names) -> dict:
    return {name: getattr(thing, name) for name in names}


def _prefixed(prefix: str, values: dict) -> dict:
    return {f"{prefix}_{name}": value for name, value in values.items()}


def _arrays(prefix: str, rows, names) -> dict:
    """Rows as one list per column: the parameters `_unnested` reads them from."""
    return {f"{prefix}_{name}": [row[name] for row in rows] for name in names}


# --- SQLite: the statements one by one ------------------------------------------------------------

# The SET clause comes from the parameters' other keys; the row is guarded by the status read.
UPDATE_ORDER = update(ORDERS).where(ORDERS.c.id == bindparam("b_id"), ORDERS.c.status == bindparam("b_status"))
INSERT_EVENT = insert(EVENTS)
INSERT_LINES = insert(ITEMS).returning(ITEMS.c.id, sort_by_parameter_order=True)
INSERT_MOVEMENTS = insert(MOVEMENTS)


# --- PostgreSQL: one statement each ---------------------------------------------------------------
#
# Sub-statements of a WITH all see the snapshot the statement began with, and a row one inserts is
# not visible to the others: so the history of the answer is the rows read plus the one the
# statement inserts (its RETURNING). The statement begins after the order's row lock was taken, so
# its snapshot holds whatever an earlier holder of that lock committed.

HISTORY, PROOF = 0, 1


def _param(prefix: str, column, type_=None):
    return bindparam(f"{prefix}_{column.name}", type_=type_ if type_ is not None else column.type)


def _unnested(prefix: str, table, names):
    """A FROM item of rows given as one array parameter per column (`<prefix>_<column>`)."""
    arrays = [bindparam(f"{prefix}_{name}", type_=ARRAY(table.c[name].type)) for name in names]
    return func.unnest(*arrays).table_valued(*names).render_derived(name=prefix)


def _queue(happened):
    """The outbox rows of `m_*`, each unless its key was queued before, if `happened`."""
    rows = _unnested("m", MESSAGES, MESSAGE_ROW)
    return (postgresql.insert(MESSAGES).from_select(list(MESSAGE_ROW), select(*rows.c).where(happened))
            .on_conflict_do_nothing(index_elements=["key"]).returning(MESSAGES.c.id).cte("messages"))


def _event(happened, order_id, returning=()):
    """The history row of `e_*` for the order `order_id` names, if `happened`."""
    values = select(order_id, *(_param("e", EVENTS.c[name]) for name in EVENT_ROW)).where(happened)
    statement = postgresql.insert(EVENTS).from_select(["order_id", *EVENT_ROW], values)
    return (statement.returning(*returning) if returning else statement).cte("event")


def _count(cte, label: str):
    return select(func.count()).select_from(cte).scalar_subquery().label(label)


def _change_statement():
    moved = (update(ORDERS).where(ORDERS.c.id == bindparam("b_id", type_=String),
                                  ORDERS.c.status == bindparam("b_before", type_=String))
             .values(status=bindparam("b_status", type_=String),
                     updated_at=bindparam("b_updated_at", type_=UTCDateTime),
                     payment_status=func.coalesce(bindparam("b_payment_status", type_=String),
                                                  ORDERS.c.payment_status),
                     stock_taken=func.coalesce(bindparam("b_stock_taken", type_=Boolean), ORDERS.c.stock_taken))
             .returning(ORDERS.c.id).cte("moved"))
    happened = exists(select(moved.c.id))
    event = _event(happened, bindparam("b_id", type_=String),
                   returning=(EVENTS.c.id, *(EVENTS.c[name] for name in EVENT_ROW)))
    movements = _unnested("mv", MOVEMENTS, MOVEMENT_ROW)
    record = (postgresql.insert(MOVEMENTS).from_select(
        ["order_id", *MOVEMENT_ROW], select(bindparam("b_id", type_=String), *movements.c).where(happened))
        .cte("movements"))
    # History and proofs as one list of rows: `part` tells them apart, the other's columns are NULL.
    no_event = [cast(null(), EVENTS.c[name].type) for name in EVENT_ROW[1:]]
    no_proof = [cast(null(), column.type).label(column.name) for column in views.PROOF_COLUMNS[2:]]
    of_order = bindparam("b_id", type_=String)
    answer = union_all(
        select(literal_column(str(HISTORY), Integer).label("part"), EVENTS.c.id,
               *(EVENTS.c[name] for name in EVENT_ROW), *no_proof).where(EVENTS.c.order_id == of_order),
        select(literal_column(str(HISTORY), Integer), event.c.id, *(event.c[name] for name in EVENT_ROW), *no_proof),
        select(literal_column(str(PROOF), Integer), PROOFS.c.id, PROOFS.c.kind, *no_event,
               *(PROOFS.c[column.name] for column in views.PROOF_COLUMNS[2:]))
        .where(PROOFS.c.order_id == of_order, bindparam("b_proofs", type_=Boolean)),
    ).subquery("answer")
    return (select(_count(moved, "moved"), _count(_queue(happened), "queued"), *answer.c)
            .order_by(answer.c.part, answer.c.id).add_cte(record))


def _create_statement():
    created = (postgresql.insert(ORDERS).values({name: _param("o", ORDERS.c[name]) for name in ORDER_ROW})
               .on_conflict_do_nothing(index_elements=["reference"]).returning(ORDERS.c.id).cte("created"))
    happened = exists(select(created.c.id))
    lines = _unnested("l", ITEMS, LINE_ROW)
    inserted = (postgresql.insert(ITEMS).from_select(
        ["order_id", *LINE_ROW], select(bindparam("o_id", type_=String), *lines.c).where(happened))
        .returning(ITEMS.c.id, ITEMS.c.position).cte("lines"))
    event = _event(happened, bindparam("o_id", type_=String))
    line_ids = select(func.array_agg(aggregate_order_by(inserted.c.id, inserted.c.position))).scalar_subquery()
    return (select(_count(created, "created"), _count(_queue(happened), "queued"),
                   line_ids.label("line_ids")).add_cte(event))


CHANGE = _change_statement()
CREATE = _create_statement()
