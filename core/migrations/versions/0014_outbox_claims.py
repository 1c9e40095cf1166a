"""An index for the outbox sender's look-up of claims that expired: (status, claimed_until).

A message Twilio took keeps status `sending` until its status callback comes, and a callback may
never come (a wrong PUBLIC_BASE_URL, a bench's fake Twilio). The sender's look-up for claims whose
process died (`sending`, no MessageSid, `claimed_until` past) went through (status, next_attempt_at)
and so visited every such message at every pass: after 24,000 replies, 2 ms a pass and half of
the server's time. With this index it visits only messages still claimed.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30
"""
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_outbound_messages_claimed', 'outbound_messages', ['status', 'claimed_until'])


def downgrade() -> None:
    op.drop_index('ix_outbound_messages_claimed', table_name='outbound_messages')
