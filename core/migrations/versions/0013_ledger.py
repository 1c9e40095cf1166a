"""The shop's own ledger (CONTRACT §4): money the shop's phone says it received, one row per code; who
verified a payment proof (`admin`, `ledger`), and when a claimed code is overdue in the ledger.

Plain CREATE TABLE and ADD COLUMN, not batch copies, so the tally triggers of 0005 stay. Proofs an
admin recorded with `paid` before this were verified by that admin: they say so.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30
"""
from alembic import op
import sqlalchemy as sa

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('ledger_entries',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('key', sa.String(length=80), nullable=False),
    sa.Column('transaction_code', sa.String(length=40), nullable=True),
    sa.Column('provider', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=8), nullable=False),
    sa.Column('payer_name', sa.String(length=200), nullable=True),
    sa.Column('payer_phone', sa.String(length=40), nullable=True),
    sa.Column('payer_phone_masked', sa.Boolean(), nullable=False),
    sa.Column('account', sa.String(length=120), nullable=True),
    sa.Column('paid_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('raw_text', sa.Text(), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('sender', sa.String(length=100), nullable=True),
    sa.Column('order_id', sa.String(length=36), nullable=True),
    sa.Column('matched_by', sa.String(length=20), nullable=True),
    sa.Column('matched_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_ledger_entries_order_id_orders')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_entries')),
    sa.UniqueConstraint('key', name=op.f('uq_ledger_entries_key'))
    )
    op.create_index('ix_ledger_entries_received', 'ledger_entries', ['received_at', 'id'], unique=False)
    op.create_index('ix_ledger_entries_unmatched', 'ledger_entries', ['order_id', 'received_at'], unique=False)
    op.add_column('payment_proofs', sa.Column('verified_by', sa.String(20), nullable=True))
    op.add_column('payment_proofs', sa.Column('ledger_due_at', sa.DateTime(timezone=True), nullable=True))
    op.create_index(op.f('ix_payment_proofs_ledger_due_at'), 'payment_proofs', ['ledger_due_at'], unique=False)
    op.execute("UPDATE payment_proofs SET verified_by = 'admin' WHERE kind = 'manual'")


def downgrade() -> None:
    op.drop_index(op.f('ix_payment_proofs_ledger_due_at'), table_name='payment_proofs')
    op.drop_column('payment_proofs', 'ledger_due_at')
    op.drop_column('payment_proofs', 'verified_by')
    op.drop_index('ix_ledger_entries_unmatched', table_name='ledger_entries')
    op.drop_index('ix_ledger_entries_received', table_name='ledger_entries')
    op.drop_table('ledger_entries')
