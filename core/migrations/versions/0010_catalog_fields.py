"""The catalog fields the Django-era storefront reads (CONTRACT §2): subcategory, brand, rating (in
hundredths, as money is kept), review count, minimum quantity and stock per size; each may be empty.

Plain ADD COLUMN, not a batch copy of the table.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29
"""
from alembic import op
import sqlalchemy as sa

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

COLUMNS = (
    ('subcategory', sa.String(100)), ('brand', sa.String(100)), ('rating', sa.BigInteger()),
    ('review_count', sa.Integer()), ('min_quantity', sa.Integer()), ('size_quantities', sa.JSON()),
)


def upgrade() -> None:
    for name, type_ in COLUMNS:
        op.add_column('products', sa.Column(name, type_, nullable=True))


def downgrade() -> None:
    for name, _ in reversed(COLUMNS):
        op.drop_column('products', name)
