"""Orders at 100,000: indexes for the list, its paging and the sweeps; search by trigrams; tallies

- The list reads ids in (created_at, id) order from an index, also per status; the payment sweeps find
  pending unpaid orders by (status, payment_status, created_at).
- Search (case-insensitive substring of reference, customer name or phone; core/views.py) gets a
  trigram index of lower() of the three columns, the very expressions the search compares: on
  SQLite a contentless FTS5 table `orders_search` (trigram tokenizer) whose rowids are the orders',
  kept in step by triggers; on PostgreSQL a GIN index of pg_trgm.
- `tallies`: +1/-1 rows written by triggers on every insert, delete and status change of orders,
  outbound messages and inbound messages, so /metrics and the list's count sum a few rows instead of
  counting every row (core/tallies.py folds them). Seeded here with the counts as they stand.

SQLite: triggers belong to their table. A later migration that rebuilds `orders`,
`outbound_messages` or `inbound_messages` (Alembic's batch mode copies the table) must create these
triggers again, and fill the search table again (`DELETE FROM orders_search` is refused by a
contentless table: drop and create it as below), since its rows are found by the orders' rowids.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""
from alembic import op
import sqlalchemy as sa

from core.migrate import MigrationStopped

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

SEARCHED = ("reference", "customer_name", "customer_phone")
_COLUMNS = ", ".join(SEARCHED)


def _lowered(row: str) -> str:
    return ", ".join(f"lower({row}.{column})" for column in SEARCHED)


# Contentless: it holds only the index, of lower() of each column (SQLite's lower(), the one the
# search's meaning is written with), matched case-sensitively, so a phrase match is exactly the
# search's substring test. Its rows are the orders' rowids.
SQLITE_SEARCH = [
    f"CREATE VIRTUAL TABLE orders_search USING fts5({_COLUMNS}, content='', tokenize='trigram case_sensitive 1')",
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
    f"INSERT INTO orders_search (rowid, {_COLUMNS}) SELECT rowid, {_lowered('orders')} FROM orders",
]

# (table, its status column or None): what the tallies count.
TALLIED = (("orders", "status"), ("outbound_messages", "status"), ("inbound_messages", None))


def _sqlite_tallies() -> list[str]:
    statements = []
    for table, status in TALLIED:
        new, old = (f"new.{status}", f"old.{status}") if status else ("''", "''")
        statements += [
            f"""CREATE TRIGGER {table}_tallied AFTER INSERT ON {table} BEGIN
                INSERT INTO tallies (subject, status, n) VALUES ('{table}', {new}, 1);
            END""",
            f"""CREATE TRIGGER {table}_untallied AFTER DELETE ON {table} BEGIN
                INSERT INTO tallies (subject, status, n) VALUES ('{table}', {old}, -1);
            END""",
        ]
        if status:
            statements.append(
                f"""CREATE TRIGGER {table}_retallied AFTER UPDATE OF {status} ON {table}
                WHEN old.{status} IS NOT new.{status} BEGIN
                    INSERT INTO tallies (subject, status, n) VALUES ('{table}', old.{status}, -1), ('{table}', new.{status}, 1);
                END""")
    return statements


POSTGRESQL_TALLY_FUNCTIONS = [
    """CREATE FUNCTION tally_by_status() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP <> 'INSERT' THEN
            INSERT INTO tallies (subject, status, n) VALUES (TG_TABLE_NAME, OLD.status, -1);
        END IF;
        IF TG_OP <> 'DELETE' THEN
            INSERT INTO tallies (subject, status, n) VALUES (TG_TABLE_NAME, NEW.status, 1);
        END IF;
        RETURN NULL;
    END $$""",
    """CREATE FUNCTION tally_rows() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO tallies (subject, status, n) VALUES (TG_TABLE_NAME, '', CASE TG_OP WHEN 'INSERT' THEN 1 ELSE -1 END);
        RETURN NULL;
    END $$""",
]


def _postgresql_tallies() -> list[str]:
    statements = list(POSTGRESQL_TALLY_FUNCTIONS)
    for table, status in TALLIED:
        function = "tally_by_status" if status else "tally_rows"
        statements.append(f"CREATE TRIGGER {table}_tallied AFTER INSERT OR DELETE ON {table} "
                          f"FOR EACH ROW EXECUTE FUNCTION {function}()")
        if status:
            statements.append(f"CREATE TRIGGER {table}_retallied AFTER UPDATE OF {status} ON {table} FOR EACH ROW "
                              f"WHEN (OLD.{status} IS DISTINCT FROM NEW.{status}) EXECUTE FUNCTION {function}()")
    return statements


def _seed_tallies() -> list[str]:
    """The counts as they stand. Run after the triggers exist: on PostgreSQL creating a trigger locks its
    table against writes until this migration commits, so no row is counted twice or missed."""
    return [f"INSERT INTO tallies (subject, status, n) SELECT '{table}', {status}, count(*) FROM {table} GROUP BY {status}"
            if status else
            f"INSERT INTO tallies (subject, status, n) SELECT '{table}', '', count(*) FROM {table} HAVING count(*) > 0"
            for table, status in TALLIED]


def _create_pg_trgm() -> None:
    try:
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except sa.exc.DBAPIError as error:
        raise MigrationStopped(
            "Migration 0005 needs PostgreSQL's pg_trgm extension (order search uses its trigram index) and "
            f"could not create it: {error.orig}. Either let this database user create it (it needs the "
            "CREATE privilege on the database; pg_trgm is a trusted extension), or have a superuser run "
            "`CREATE EXTENSION pg_trgm;` in this database (on Debian/Ubuntu the extension comes with the "
            "postgresql-contrib package), then run `orderdesk db upgrade` again.") from None


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.drop_index('ix_orders_created_at', table_name='orders')
    op.drop_index('ix_orders_status_created', table_name='orders')
    op.create_index('ix_orders_created_id', 'orders', ['created_at', 'id'])
    op.create_index('ix_orders_status_created_id', 'orders', ['status', 'created_at', 'id'])
    op.create_index('ix_orders_unpaid', 'orders', ['status', 'payment_status', 'created_at'])
    if dialect == "postgresql":
        _create_pg_trgm()
        op.create_index('ix_orders_search_trgm', 'orders',
                        [sa.text(f"lower({column}) gin_trgm_ops") for column in SEARCHED], postgresql_using='gin')
    else:
        for statement in SQLITE_SEARCH:
            op.execute(statement)

    op.create_table('tallies',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('subject', sa.String(length=40), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('n', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tallies'))
    )
    for statement in (_postgresql_tallies() if dialect == "postgresql" else _sqlite_tallies()) + _seed_tallies():
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table, status in TALLIED:
        for trigger in (f"{table}_tallied", f"{table}_untallied", f"{table}_retallied"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}" + (f" ON {table}" if dialect == "postgresql" else ""))
    if dialect == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS tally_by_status()")
        op.execute("DROP FUNCTION IF EXISTS tally_rows()")
    op.drop_table('tallies')
    if dialect == "postgresql":
        op.drop_index('ix_orders_search_trgm', table_name='orders')  # pg_trgm stays: other things may use it
    else:
        for trigger in ("orders_search_added", "orders_search_removed", "orders_search_changed"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS orders_search")
    op.drop_index('ix_orders_unpaid', table_name='orders')
    op.drop_index('ix_orders_status_created_id', table_name='orders')
    op.drop_index('ix_orders_created_id', table_name='orders')
    op.create_index('ix_orders_status_created', 'orders', ['status', 'created_at'])
    op.create_index('ix_orders_created_at', 'orders', ['created_at'])
