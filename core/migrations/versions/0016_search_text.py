"""PostgreSQL: the search's trigrams move off `orders` into a narrow table of their own.

Migration 0005 put a GIN index of pg_trgm on lower() of each order's reference, customer name and
phone, on `orders` itself. Two costs came with it. No update of an order is HOT (its status is
indexed), so every status change wrote the order's trigrams into the index again. And a search's
count rechecks each match against its row: at 100,000 orders a name found in 6,250 of them read
those rows of the wide `orders` table (8 ms, measured on a copy), where a table holding only the
searched text is half its size and answers in 3.

`orders_search_text` holds one row per order: its id and the three lowered values joined by line
breaks (no term that the index answers holds one, so no match spans two of them; core/views.py).
Triggers write it with the order and follow a change of those values, the order's deletion or the
table's truncation; status changes do not touch it. The rows of the orders already there are written here, after the
trigger exists: creating a trigger locks `orders` against writes until this migration commits.

SQLite's FTS5 index (migrations 0005, 0015) is unchanged.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30
"""
import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

SEARCHED = ("reference", "customer_name", "customer_phone")


def _text(row: str) -> str:
    """The searched text of an order row, as core/views.py searches it."""
    return "concat_ws(E'\\n', " + ", ".join(f"lower({row}.{column})" for column in SEARCHED) + ")"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    changed = " OR ".join(f"OLD.{column} IS DISTINCT FROM NEW.{column}" for column in SEARCHED)
    for statement in (
        "CREATE TABLE orders_search_text (order_id VARCHAR(36) PRIMARY KEY, text TEXT NOT NULL)",
        f"""CREATE FUNCTION orders_search_text_kept() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'DELETE' THEN
                DELETE FROM orders_search_text WHERE order_id = OLD.id;
            ELSE
                INSERT INTO orders_search_text (order_id, text) VALUES (NEW.id, {_text('NEW')})
                    ON CONFLICT (order_id) DO UPDATE SET text = EXCLUDED.text;
            END IF;
            RETURN NULL;
        END $$""",
        "CREATE TRIGGER orders_search_text_added AFTER INSERT OR DELETE ON orders FOR EACH ROW "
        "EXECUTE FUNCTION orders_search_text_kept()",
        f"CREATE TRIGGER orders_search_text_changed AFTER UPDATE OF {', '.join(SEARCHED)} ON orders FOR EACH ROW "
        f"WHEN ({changed}) EXECUTE FUNCTION orders_search_text_kept()",
        """CREATE FUNCTION orders_search_text_emptied() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            TRUNCATE orders_search_text;
            RETURN NULL;
        END $$""",
        "CREATE TRIGGER orders_search_text_emptied AFTER TRUNCATE ON orders FOR EACH STATEMENT "
        "EXECUTE FUNCTION orders_search_text_emptied()",
        f"INSERT INTO orders_search_text (order_id, text) SELECT id, {_text('orders')} FROM orders",
        "CREATE INDEX ix_orders_search_text_trgm ON orders_search_text USING gin (text gin_trgm_ops)",
        "DROP INDEX ix_orders_search_trgm",
    ):
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.create_index('ix_orders_search_trgm', 'orders',
                    [sa.text(f"lower({column}) gin_trgm_ops") for column in SEARCHED], postgresql_using='gin')
    for statement in ("DROP TRIGGER orders_search_text_emptied ON orders",
                      "DROP FUNCTION orders_search_text_emptied()",
                      "DROP TRIGGER orders_search_text_changed ON orders",
                      "DROP TRIGGER orders_search_text_added ON orders",
                      "DROP FUNCTION orders_search_text_kept()",
                      "DROP TABLE orders_search_text"):
        op.execute(statement)
