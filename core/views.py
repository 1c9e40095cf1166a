"""Read models: orders as the API and the bot show them, selected column by column (no ORM loading).

An `OrderView` has the attribute names of `core.models.Order` (and its lines, history and proofs
those of theirs), so every shaper and reply reads either alike. A page of orders is four queries
whatever its length: the orders, then the lines, history and proofs of all of them at once.
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy import bindparam, func, literal_column, or_, select, union_all

from core import search_index, tallies
from core.db import one_of
from core.models import LedgerEntry, Order, OrderEvent, OrderItem, PaymentProof
from core.references import canonical, lookup_key

orders_t, items_t, history_t, proofs_t = (Order.__table__, OrderItem.__table__, OrderEvent.__table__,
                                          PaymentProof.__table__)
ORDER_COLUMNS = (orders_t.c.id, orders_t.c.reference, orders_t.c.customer_name, orders_t.c.customer_phone,
                 orders_t.c.customer_address, orders_t.c.notes, orders_t.c.status, orders_t.c.payment_status,
                 orders_t.c.total, orders_t.c.item_count, orders_t.c.content_hash, orders_t.c.stock_taken,
                 orders_t.c.created_at, orders_t.c.updated_at, orders_t.c.delivery_location,
                 orders_t.c.account_id)
ITEM_COLUMNS = (items_t.c.id, items_t.c.order_id, items_t.c.product_id, items_t.c.product_name,
                items_t.c.product_barcode, items_t.c.product_image, items_t.c.quantity, items_t.c.unit_price,
                items_t.c.selected_size, items_t.c.selected_color)
HISTORY_COLUMNS = (history_t.c.order_id, history_t.c.kind, history_t.c.from_status, history_t.c.to_status,
                   history_t.c.actor, history_t.c.note, history_t.c.at)
PROOF_COLUMNS = (proofs_t.c.order_id, proofs_t.c.kind, proofs_t.c.provider, proofs_t.c.transaction_code,
                 proofs_t.c.amount, proofs_t.c.currency, proofs_t.c.received_at, proofs_t.c.media_url,
                 proofs_t.c.flags, proofs_t.c.verified_by)


@dataclass(slots=True)
class ItemView:
    id: int | None
    product_id: str
    product_name: str
    product_barcode: str
    product_image: str | None
    quantity: int
    unit_price: Decimal
    selected_size: str | None
    selected_color: str | None

    @property
    def subtotal(self) -> Decimal:
        return self.unit_price * self.quantity


@dataclass(slots=True)
class EventView:
    kind: str
    from_status: str | None
    to_status: str | None
    actor: str
    note: str
    at: datetime


@dataclass(slots=True)
class ProofView:
    kind: str
    provider: str | None
    transaction_code: str | None
    amount: Decimal | None
    currency: str | None
    received_at: datetime
    media_url: str | None
    flags: list
    verified_by: str | None = None  # admin | ledger


@dataclass(slots=True)
class OrderView:
    id: str
    reference: str
    customer_name: str
    customer_phone: str
    customer_address: str
    notes: str
    status: str
    payment_status: str
    total: Decimal
    item_count: int
    content_hash: str
    stock_taken: bool
    created_at: datetime
    updated_at: datetime
    delivery_location: dict | None = None
    account_id: str | None = None  # the buyer's account that placed it; None for a guest
    items: list[ItemView] = field(default_factory=list)
    history: list[EventView] = field(default_factory=list)
    payment_proofs: list[ProofView] = field(default_factory=list)


def order_from_row(row) -> OrderView:
    return OrderView(*row)


# Built once; keys and ids come as parameters. An order comes with its lines in one query.
BY_KEY = (select(*ORDER_COLUMNS, *ITEM_COLUMNS)
          .select_from(orders_t.outerjoin(items_t, items_t.c.order_id == orders_t.c.id))
          .where(or_(orders_t.c.id == bindparam("key"), orders_t.c.reference == bindparam("reference")))
          .order_by(items_t.c.position))
BY_KEY_LOCKED = BY_KEY.with_for_update(of=orders_t)
ITEMS_OF = (select(*ITEM_COLUMNS).where(one_of(items_t.c.order_id, "ids"))
            .order_by(items_t.c.order_id, items_t.c.position))
HISTORY_OF = (select(*HISTORY_COLUMNS).where(one_of(history_t.c.order_id, "ids"))
              .order_by(history_t.c.id))
PROOFS_OF = (select(*PROOF_COLUMNS).where(one_of(proofs_t.c.order_id, "ids"))
             .order_by(proofs_t.c.id))


BY_LOOKUP_KEY = select(orders_t.c.reference).where(orders_t.c.reference_key == bindparam("lookup")).limit(2)


async def typed_reference(uow, key: str) -> str | None:
    """The stored reference that `key`, a reference typed with look-alikes (`0` for `O`, `1` for
    `I` or `L`), stands for when exactly one order matches it; None otherwise. One indexed read."""
    reference = canonical(key)
    if reference is None:
        return None
    found = (await uow.execute(BY_LOOKUP_KEY, {"lookup": lookup_key(reference)})).scalars().all()
    return found[0] if len(found) == 1 and found[0] != reference else None


# What an unknown reference is compared with: the pending orders and the most recent ones (both read
# from the list's indexes), and how alike two references must be to be suggested (difflib's ratio).
SUGGEST_FROM_PENDING, SUGGEST_FROM_RECENT, SUGGEST_CUTOFF = 200, 50, 0.8
_SUGGESTIBLE = (orders_t.c.reference, orders_t.c.customer_name, orders_t.c.status)
PENDING_REFERENCES = (select(*_SUGGESTIBLE).where(orders_t.c.status == "pending")
                      .order_by(orders_t.c.created_at.desc(), orders_t.c.id.desc()).limit(SUGGEST_FROM_PENDING))
RECENT_REFERENCES = (select(*_SUGGESTIBLE).order_by(orders_t.c.created_at.desc(), orders_t.c.id.desc())
                     .limit(SUGGEST_FROM_RECENT))


async def closest_reference(uow, typed: str):
    """The pending or recent order whose reference is closest to `typed` (a reference that matched
    nothing), as a row of (reference, customer_name, status); None when none is close."""
    rows = {row.reference: row for statement in (PENDING_REFERENCES, RECENT_REFERENCES)
            for row in (await uow.execute(statement)).all()}
    by_key = {lookup_key(reference): row for reference, row in rows.items()}
    wanted = lookup_key(canonical(typed) or typed.upper())
    close = difflib.get_close_matches(wanted, list(by_key), n=1, cutoff=SUGGEST_CUTOFF)
    return by_key[close[0]] if close else None


async def find(uow, key: str, *, for_update: bool = False, whole: bool = True) -> OrderView | None:
    """The order `key` (its UUID, or its reference in any written form, look-alikes included) names,
    with its lines (and, when `whole`, its history and proofs), or None. `for_update` locks the
    order's row until the transaction ends (PostgreSQL; SQLite's writers are serial already)."""
    query = BY_KEY_LOCKED if for_update else BY_KEY
    rows = (await uow.execute(query, {"key": key, "reference": canonical(key) or key})).all()
    if not rows and (typed := await typed_reference(uow, key)):
        rows = (await uow.execute(query, {"key": typed, "reference": typed})).all()
    if not rows:
        return None
    width = len(ORDER_COLUMNS)
    order = order_from_row(rows[0][:width])
    order.items = [ItemView(row[width], *row[width + 2:]) for row in rows if row[width] is not None]
    await attach(uow, [order], items=False, history=whole, proofs=whole)
    return order


async def attach(uow, views: list[OrderView], *, items: bool = True, history: bool = True,
                 proofs: bool = True) -> None:
    """Fill in the lines, history and proofs of `views`: one query each for all of them."""
    if not views:
        return
    by_id = {view.id: view for view in views}
    ids = {"ids": list(by_id)}
    session = uow
    if items:
        for row in (await session.execute(ITEMS_OF, ids)).all():
            by_id[row.order_id].items.append(ItemView(row.id, *row[2:]))
    if history:
        for row in (await session.execute(HISTORY_OF, ids)).all():
            by_id[row.order_id].history.append(EventView(*row[1:]))
    # A payment proof moves its order out of "unpaid" (core/proofs.py), so an unpaid order has none.
    paid = [view.id for view in views if view.payment_status != "unpaid"]
    if proofs and paid:
        for row in (await session.execute(PROOFS_OF, {"ids": paid})).all():
            by_id[row.order_id].payment_proofs.append(ProofView(*row[1:]))


# --- the list: filters, search, count, page --------------------------------------------------------
#
# A search matches an order when the term, in lower case, is a substring of lower() of its reference,
# customer name or phone. Terms of three characters or more are looked up in a trigram index of those
# very lower() values (core/search_index.py): on SQLite a contentless FTS5 table whose rowids are the
# orders' (new orders join it in batches and are tested row by row until then), on PostgreSQL a GIN
# index of pg_trgm on a narrow table of them, which PostgreSQL rechecks against its rows. Shorter
# terms cannot use trigrams and are tested row by row. Either way the term is only ever a value: an
# FTS5 phrase in double quotes, a LIKE pattern with its wildcards escaped, or the plain substring test.

SEARCHED = (orders_t.c.reference, orders_t.c.customer_name, orders_t.c.customer_phone)
TRIGRAM = 3
ORDERS_ROWID = literal_column("orders.rowid")
NEWEST_FIRST = (orders_t.c.created_at.desc(), orders_t.c.id.desc())
SHALLOW_OFFSET = 1000
BY_IDS = select(*ORDER_COLUMNS).where(one_of(orders_t.c.id, "ids"))
_STATEMENTS: dict = {}


def _substring(dialect: str, columns=SEARCHED):
    """The search's meaning, tested on each row."""
    find = func.instr if dialect == "sqlite" else func.strpos
    return or_(*(find(func.lower(column), bindparam("term")) > 0 for column in columns))


def _sqlite_matches():
    """The rowids of the orders that match on SQLite: those the FTS5 index holds, from the index; its
    backlog (core/search_index.py), row by row."""
    rows, rowid = search_index.backlog()
    newer = select(rowid).select_from(rows).where(rowid > search_index.INDEXED_UPTO, _substring("sqlite", tuple(rows.c)))
    return union_all(search_index.INDEXED_MATCHES, newer)


def _indexed(dialect: str):
    """The same meaning, in the form the trigram index answers."""
    if dialect == "sqlite":
        return ORDERS_ROWID.in_(_sqlite_matches())
    return orders_t.c.id.in_(search_index.TEXT_MATCHES)


def _search_terms(search: str | None, dialect: str) -> tuple[str | None, dict]:
    """(None, {}) when there is nothing to search for; else whether the trigram index can answer
    ("indexed") or each row is tested ("scan"), and the statements' parameters."""
    term = (search or "").strip().lower()
    if not term:
        return None, {}
    parameters = {"term": term, "phrase": '"' + term.replace('"', '""') + '"',
                  "pattern": "%" + term.replace("/", "//").replace("%", "/%").replace("_", "/_") + "%"}
    if dialect == "sqlite":
        return ("indexed" if len(term) >= TRIGRAM else "scan"), parameters
    # pg_trgm takes its trigrams from runs of letters and digits only; a term without such a run of
    # three would make it read the whole index. A line break would match across two of the values
    # the indexed text joins with line breaks (core/search_index.py).
    usable = max(re.split(r"[\W_]+", term), key=len)
    return ("indexed" if len(usable) >= TRIGRAM and "\n" not in term else "scan"), parameters


def _statement(dialect: str, what: str, status: bool, phone: bool, account: bool, search: str | None):
    """The count, or the page's ids ("count", "ids in order": walking the index newest first, "ids by
    match": the matches, sorted), for this shape of query, built once; values come as parameters."""
    key = (dialect, what, status, phone, account, search)
    if key not in _STATEMENTS:
        where = []
        if status:
            where.append(orders_t.c.status == bindparam("status"))
        owners = []
        if phone:
            owners.append(orders_t.c.customer_phone == bindparam("phone"))
        if account:
            owners.append(orders_t.c.account_id == bindparam("account_id"))
        if owners:
            where.append(or_(*owners))
        if search == "scan" or (search and what in ("ids in order", "rows in order")):
            # Walking the index newest first, each row is tested as it comes: given the matches instead,
            # SQLite looks every one of them up and sorts them all (9 ms against 0.5 for 6,000 of 100,000).
            where.append(_substring(dialect))
        elif search:
            where.append(_indexed(dialect))
        if what == "count":
            # Only the search: counted in the index's own table, without reading the orders.
            if search == "indexed" and not (status or phone or account):
                matches = _sqlite_matches().subquery() if dialect == "sqlite" else search_index.TEXT_MATCHES.subquery()
                _STATEMENTS[key] = select(func.count()).select_from(matches)
            else:
                _STATEMENTS[key] = select(func.count()).select_from(orders_t).where(*where)
        elif what in ("ids in order", "rows in order"):
            _STATEMENTS[key] = (select(*(ORDER_COLUMNS if what == "rows in order" else (orders_t.c.id,)))
                                .where(*where).order_by(*NEWEST_FIRST)
                                .limit(bindparam("limit")).offset(bindparam("offset")))
        else:
            # Materialized, so the matches are taken first whatever the plan: PostgreSQL's generic plan
            # for a prepared statement, not knowing the term, would otherwise walk the index newest first.
            matches = select(orders_t.c.id, orders_t.c.created_at).where(*where).cte("matches").prefix_with("MATERIALIZED")
            _STATEMENTS[key] = (select(matches.c.id).order_by(matches.c.created_at.desc(), matches.c.id.desc())
                                .limit(bindparam("limit")).offset(bindparam("offset")))
    return _STATEMENTS[key]


async def order_page(uow, *, status: str | None = None, search: str | None = None, phone: str | None = None,
                     account_id: str | None = None, limit: int = 20, offset: int = 0) -> tuple[int, list[OrderView]]:
    """(how many orders match, the page of them newest first, whole). `phone` and `account_id` together
    match the orders of either."""
    dialect = uow.conn.dialect.name
    how, parameters = _search_terms(search, dialect)
    parameters.update(status=status, phone=phone, account_id=account_id, limit=limit, offset=offset)
    shape = (bool(status), bool(phone), bool(account_id), how)
    if how or phone or account_id:
        count = await uow.scalar(_statement(dialect, "count", *shape), parameters)
    else:
        count = await tallies.count(uow, "orders", status)  # exact, without counting the rows
    if count <= offset:
        return count, []
    # Walking the index newest first reads about (offset + limit) * orders / count rows before the
    # page is full; taking the matches and sorting them reads `count`. Take the cheaper.
    by_match = how is not None and count * count <= (offset + limit) * await tallies.count(uow, "orders", status)
    if not by_match and offset <= SHALLOW_OFFSET:
        # Near the top (every page a storefront or an admin really opens), the rows come straight
        # from the index walk; deeper, the walk reads ids only and the page's rows follow by id.
        rows = await uow.execute(_statement(dialect, "rows in order", *shape), parameters)
        views = [order_from_row(row) for row in rows.all()]
    else:
        ids = (await uow.execute(_statement(dialect, "ids by match" if by_match else "ids in order", *shape),
                                 parameters)).scalars().all()
        by_id = {row.id: order_from_row(row) for row in await uow.execute(BY_IDS, {"ids": ids})} if ids else {}
        views = [by_id[key] for key in ids if key in by_id]
    await attach(uow, views)
    return count, views


# --- the shop's ledger (core/ledger.py): money received, newest first ------------------------------------

ledger_t = LedgerEntry.__table__
LEDGER_COLUMNS = (ledger_t.c.id, ledger_t.c.provider, ledger_t.c.kind, ledger_t.c.transaction_code, ledger_t.c.amount,
                  ledger_t.c.currency, ledger_t.c.payer_name, ledger_t.c.payer_phone, ledger_t.c.payer_phone_masked,
                  ledger_t.c.account, ledger_t.c.paid_at, ledger_t.c.received_at, ledger_t.c.raw_text,
                  ledger_t.c.source, ledger_t.c.sender, orders_t.c.reference.label("order_reference"),
                  ledger_t.c.matched_by, ledger_t.c.created_at)
LEDGER_NEWEST_FIRST = (ledger_t.c.received_at.desc(), ledger_t.c.id.desc())


async def ledger_page(uow, *, unmatched: bool | None = None, limit: int = 20, offset: int = 0) -> tuple[int, list]:
    """(how many entries, the page of them newest first): rows with the columns of LEDGER_COLUMNS.
    `unmatched`: only the money that paid no order (True), only what did (False), or all (None)."""
    where = [] if unmatched is None else [
        ledger_t.c.order_id.is_(None) if unmatched else ledger_t.c.order_id.isnot(None)]
    count = await uow.scalar(select(func.count()).select_from(ledger_t).where(*where))
    if count <= offset:
        return count, []
    rows = await uow.execute(select(*LEDGER_COLUMNS)
                             .select_from(ledger_t.outerjoin(orders_t, orders_t.c.id == ledger_t.c.order_id))
                             .where(*where).order_by(*LEDGER_NEWEST_FIRST).limit(limit).offset(offset))
    return count, rows.all()
