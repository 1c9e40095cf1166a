"""Sends in doubt: when the send of an outbound message began, until Twilio's answer is recorded

`attempt_started_at` is set when a message is claimed for sending and cleared once Twilio's answer
says whether it took the message. Set on a message whose claim ran out (its process died) or whose
send got no answer, it says the message may be at Twilio: the sender looks it up there before
sending it again (CONTRACT §5).

A plain ADD COLUMN, not a batch copy of the table, so the tally triggers of 0005 stay.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""
from alembic import op
import sqlalchemy as sa

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('outbound_messages', sa.Column('attempt_started_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column('outbound_messages', 'attempt_started_at')
