"""Real conversations (issue 14): references looked up as people type them, delivery locations,
click-to-WhatsApp referrals, and what WhatsApp adds to an inbound message.

- `orders.reference_key`: the reference with `O`/`0` and `I`/`1`/`L` folded in its stamp and tail
  (core/references.py `lookup_key`), indexed, so `LEG-1795969230-0RER` finds `LEG-1795969230-ORER`
  with one indexed read. Filled here for the orders already there.
- `orders.delivery_location`, `customers.referral`, `inbound_messages.details`: JSON.

Plain ADD COLUMNs, not batch copies of the tables, so the search and tally triggers of 0005 stay.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29
"""
from alembic import op
import sqlalchemy as sa

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

# As core/references.py folds them at the time of writing; kept here so this migration never changes.
_LOOK_ALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})
_BATCH = 1000


def _key(reference: str) -> str:
    prefix, _, rest = reference.partition("-")
    return f"{prefix}-{rest.translate(_LOOK_ALIKES)}"


def upgrade() -> None:
    op.add_column('orders', sa.Column('reference_key', sa.String(40), nullable=True))
    op.add_column('orders', sa.Column('delivery_location', sa.JSON(), nullable=True))
    op.add_column('customers', sa.Column('referral', sa.JSON(), nullable=True))
    op.add_column('inbound_messages', sa.Column('details', sa.JSON(), nullable=True))
    orders = sa.table('orders', sa.column('id', sa.String), sa.column('reference', sa.String),
                      sa.column('reference_key', sa.String))
    conn = op.get_bind()
    last = ""
    while rows := conn.execute(sa.select(orders.c.id, orders.c.reference).where(orders.c.id > last)
                               .order_by(orders.c.id).limit(_BATCH)).all():
        conn.execute(orders.update().where(orders.c.id == sa.bindparam('order_id'))
                     .values(reference_key=sa.bindparam('key')),
                     [{"order_id": row.id, "key": _key(row.reference)} for row in rows])
        last = rows[-1].id
    op.create_index('ix_orders_reference_key', 'orders', ['reference_key'])


def downgrade() -> None:
    op.drop_index('ix_orders_reference_key', table_name='orders')
    op.drop_column('inbound_messages', 'details')
    op.drop_column('customers', 'referral')
    op.drop_column('orders', 'delivery_location')
    op.drop_column('orders', 'reference_key')
