"""The request id of the webhook that brought an inbound message, kept with it: the log lines of
its later processing (just after, or after a restart) carry the same id as the webhook's.

A plain ADD COLUMN, not a batch copy of the table, so the tally triggers of 0005 stay.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""
from alembic import op
import sqlalchemy as sa

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('inbound_messages', sa.Column('request_id', sa.String(128), nullable=True))


def downgrade() -> None:
    op.drop_column('inbound_messages', 'request_id')
