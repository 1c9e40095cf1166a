"""The sign-in lockout per username, known or not (CONTRACT §2 Accounts): `sign_in_failures`.

The three lockout columns of `accounts` stay for now (servers of the previous release still read
and write them while a release migrates); a later migration drops them.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30
"""
from alembic import op
import sqlalchemy as sa

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('sign_in_failures',
    sa.Column('username', sa.String(length=150), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('first_failed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('username', name=op.f('pk_sign_in_failures'))
    )
    op.create_index(op.f('ix_sign_in_failures_first_failed_at'), 'sign_in_failures', ['first_failed_at'],
                    unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_sign_in_failures_first_failed_at'), table_name='sign_in_failures')
    op.drop_table('sign_in_failures')
