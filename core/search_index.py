"""The search index of orders: SQLite's and its backlog (migrations 0005 and 0015), PostgreSQL's (0016).

`orders_search` is a contentless FTS5 table of lower() of each order's reference, customer name and
phone, its rowids the orders'. It holds the orders up to `orders_search_progress.indexed_upto` (an
orders rowid); newer orders are its backlog, which the search tests row by row (core/views.py), so
an order is found the moment it is committed. `catch_up`, run every second by the scheduler, indexes
the backlog in chunks: one FTS5 segment per chunk instead of one per create, whose own transaction it
cost about a sixth of. Triggers keep indexed orders in step when they change or go.

FTS5 merges its segments as it goes ("automerge"): every 64 pages written, 64 pages of merge work for
each level of the index, at once. At 100,000 orders that is a 10-20 ms transaction now and then, with
the database's write lock held. Migration 0015 turns it off, and each chunk does a bounded share of
the merging instead (the "merge" command, MERGE_PAGES pages): measured at 100,000 orders, the longest
chunk took 3.5-4 ms, against 19 ms with FTS5's own merging, and the index stayed as compact.

On PostgreSQL `orders_search_text` holds each order's id and the same three lower() values joined by
line breaks, written by a trigger with the order and kept in step with it; a GIN index of pg_trgm on
that text answers the search, and PostgreSQL rechecks its matches against that narrow table's rows
instead of the orders' (counting a name found in 6,250 of 100,000 orders: 3 ms instead of 8). Status
changes no longer write the trigrams again, as they did while the index was on `orders`, whose
updates are never HOT. The index takes new rows into its pending list (GIN's `fastupdate`): up to
4 MB of new entries that every search reads from end to end, folded into the index only by a VACUUM
or by the insert that overflows it. Full, it made a name search at 100,000 orders 40-60 ms instead
of 6-10 (the planner turned to a sequential scan). `catch_up` folds it in every second instead
(`gin_clean_pending_list`), in bulk, outside any request; with `fastupdate` off, every create would
write its trigrams one by one.
"""
from __future__ import annotations

import logging

from sqlalchemy import bindparam, column, literal_column, select, table, text
from sqlalchemy.exc import DBAPIError

from core.db import is_sqlite

log = logging.getLogger("orderdesk.search")

ORDERS_SEARCH = table("orders_search", column("rowid"), column("orders_search"))
PROGRESS = table("orders_search_progress", column("indexed_upto"))
INDEXED_UPTO = select(PROGRESS.c.indexed_upto).scalar_subquery()
MATCH = ORDERS_SEARCH.c.orders_search.op("MATCH")(bindparam("phrase"))
INDEXED_MATCHES = select(ORDERS_SEARCH.c.rowid).where(MATCH)

CHUNK = 100  # orders per transaction: 1-4 ms of the write lock on a small machine, merging included
MERGE_PAGES = 32  # merge work per chunk, in pages: enough to keep as few segments as FTS5's own merging

NEXT_MARK = text("SELECT max(rowid) FROM (SELECT rowid FROM orders WHERE rowid > "
                 "(SELECT indexed_upto FROM orders_search_progress) ORDER BY rowid LIMIT :chunk)")
ADD_UPTO_MARK = text(
    "INSERT INTO orders_search (rowid, reference, customer_name, customer_phone) "
    "SELECT rowid, lower(reference), lower(customer_name), lower(customer_phone) FROM orders "
    "WHERE rowid > (SELECT indexed_upto FROM orders_search_progress) AND rowid <= :mark")
MOVE_MARK = text("UPDATE orders_search_progress SET indexed_upto = :mark")
# Merges only where a level holds 4 segments or more (FTS5's "usermerge"), else does nothing.
MERGE = text("INSERT INTO orders_search (orders_search, rank) VALUES ('merge', :pages)")


SEARCH_TEXT = table("orders_search_text", column("order_id"), column("text"))
TEXT_MATCHES = select(SEARCH_TEXT.c.order_id).where(SEARCH_TEXT.c.text.like(bindparam("pattern"), escape="/"))
FOLD_PENDING = text("SELECT gin_clean_pending_list('ix_orders_search_text_trgm'::regclass)")
INSUFFICIENT_PRIVILEGE = "42501"
_MAY_NOT_FOLD: set[str] = set()  # databases whose index this role does not own (checked once per process)


def backlog(alias: str = "backlog"):
    """`orders` under another name, for a search's subquery of its own, and that name's rowid column:
    the backlog is its rows whose rowid is above INDEXED_UPTO."""
    rows = table("orders", column("reference"), column("customer_name"), column("customer_phone")).alias(alias)
    return rows, literal_column(f"{alias}.rowid")


async def catch_up(uow, chunk: int = CHUNK) -> int:
    """Index every order of the backlog, `chunk` per short write transaction; returns how many it
    indexed. On PostgreSQL: fold the trigram index's pending list in, and return 0 (no backlog)."""
    if not is_sqlite(uow.settings.database_url):
        await fold_pending(uow)
        return 0
    indexed = 0
    while added := await index_next(uow, chunk):
        indexed += added
        if added < chunk:
            break
    return indexed


async def index_next(uow, chunk: int = CHUNK) -> int:
    """Index the backlog's oldest `chunk` orders in one write transaction (SQLite); returns how many."""
    async with uow() as tx:
        mark = await tx.scalar(NEXT_MARK, {"chunk": chunk})
        if mark is None:
            return 0
        added = (await tx.execute(ADD_UPTO_MARK, {"mark": mark})).rowcount
        await tx.execute(MOVE_MARK, {"mark": mark})
        await tx.execute(MERGE, {"pages": MERGE_PAGES})
        await tx.commit()
    return added


async def fold_pending(uow) -> int:
    """PostgreSQL: move the trigram index's pending entries into the index; the pages of the pending
    list it emptied (0 when there was nothing to fold). Only the owner of `orders_search_text` may (the
    role that ran `orderdesk db upgrade`): another role is told so once, and the list is then left to
    autovacuum."""
    url = uow.settings.database_url
    if url in _MAY_NOT_FOLD:
        return 0
    try:
        async with uow() as tx:
            pages = await tx.scalar(FOLD_PENDING)
            await tx.commit()
    except DBAPIError as exc:
        if getattr(exc.orig, "sqlstate", None) != INSUFFICIENT_PRIVILEGE:
            raise
        _MAY_NOT_FOLD.add(url)
        log.warning("this database role does not own the orders_search_text table, so new orders join the "
                    "search index only when autovacuum comes (searches stay exact, only slower): have its owner "
                    "run ALTER TABLE orders_search_text OWNER TO <this role>")
        return 0
    return pages
