"""The request id of what queued an outbound message (a webhook's, an API call's), kept with it: the
log lines of its sending, a second later or after a restart, carry the same id.

A plain ADD COLUMN, not a batch copy of the table, so the tally triggers of 0005 stay.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30
"""
from alembic import op
import sqlalchemy as sa

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('outbound_messages', sa.Column('request_id', sa.String(128), nullable=True))


def downgrade() -> None:
    op.drop_column('outbound_messages', 'request_id')
