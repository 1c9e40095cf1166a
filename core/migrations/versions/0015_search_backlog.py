"""SQLite: new orders join the search index in batches, not one by one inside their create.

Migration 0005's trigger put every new order into the FTS5 table `orders_search` inside the create's
own transaction: a segment of its own per commit, about a sixth of a create's time. Now a scheduled
job (core/search_index.py) indexes new orders in chunks, and `orders_search_progress` holds the
orders' rowid up to which the index has them. The search (core/views.py) reads the index for those
and tests the few orders above it row by row, so an order is found the moment it is committed.

The triggers that follow a changed or deleted order touch the index only for an order it holds. A
delete also lowers the mark to the highest rowid left: SQLite gives a new row the highest rowid plus
one, so a rowid freed at the top comes back, and must come back above the mark.

FTS5's own merging of its segments is turned off: it came in bursts of 10-20 ms at 100,000 orders.
The indexing job merges a little with each chunk instead (core/search_index.py).

PostgreSQL's pg_trgm index is unchanged (GIN queues new entries itself): nothing to do there.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30
"""
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

SEARCHED = ("reference", "customer_name", "customer_phone")
_COLUMNS = ", ".join(SEARCHED)
_INDEXED = "old.rowid <= (SELECT indexed_upto FROM orders_search_progress)"
_HIGHEST = "(SELECT coalesce(max(rowid), 0) FROM orders)"


def _lowered(row: str) -> str:
    return ", ".join(f"lower({row}.{column})" for column in SEARCHED)


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for statement in (
        "CREATE TABLE orders_search_progress (indexed_upto INTEGER NOT NULL)",
        # Every order there is was indexed by the trigger dropped next, in this same transaction.
        f"INSERT INTO orders_search_progress (indexed_upto) SELECT {_HIGHEST}",
        "DROP TRIGGER orders_search_added",
        "INSERT INTO orders_search (orders_search, rank) VALUES ('automerge', 0)",
        "DROP TRIGGER orders_search_removed",
        "DROP TRIGGER orders_search_changed",
        f"""CREATE TRIGGER orders_search_removed AFTER DELETE ON orders BEGIN
            INSERT INTO orders_search (orders_search, rowid, {_COLUMNS})
                SELECT 'delete', old.rowid, {_lowered('old')} WHERE {_INDEXED};
            UPDATE orders_search_progress SET indexed_upto = {_HIGHEST} WHERE indexed_upto > {_HIGHEST};
        END""",
        f"""CREATE TRIGGER orders_search_changed AFTER UPDATE OF {_COLUMNS} ON orders WHEN {_INDEXED} BEGIN
            INSERT INTO orders_search (orders_search, rowid, {_COLUMNS}) VALUES ('delete', old.rowid, {_lowered('old')});
            INSERT INTO orders_search (rowid, {_COLUMNS}) VALUES (new.rowid, {_lowered('new')});
        END""",
    ):
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for statement in (
        # What the batches had not reached yet, so the index holds every order again.
        f"""INSERT INTO orders_search (rowid, {_COLUMNS}) SELECT rowid, {_lowered('orders')} FROM orders
            WHERE rowid > (SELECT indexed_upto FROM orders_search_progress)""",
        "DROP TRIGGER orders_search_removed",
        "DROP TRIGGER orders_search_changed",
        "DROP TABLE orders_search_progress",
        "INSERT INTO orders_search (orders_search, rank) VALUES ('automerge', 4)",  # FTS5's default
        f"""CREATE TRIGGER orders_search_added AFTER INSERT ON orders BEGIN
            INSERT INTO orders_search (rowid, {_COLUMNS}) VALUES (new.rowid, {_lowered('new')});
        END""",
        f"""CREATE TRIGGER orders_search_removed AFTER DELETE ON orders BEGIN
            INSERT INTO orders_search (orders_search, rowid, {_COLUMNS}) VALUES ('delete', old.rowid, {_lowered('old')});
        END""",
        f"""CREATE TRIGGER orders_search_changed AFTER UPDATE OF {_COLUMNS} ON orders BEGIN
            INSERT INTO orders_search (orders_search, rowid, {_COLUMNS}) VALUES ('delete', old.rowid, {_lowered('old')});
            INSERT INTO orders_search (rowid, {_COLUMNS}) VALUES (new.rowid, {_lowered('new')});
        END""",
    ):
        op.execute(statement)
