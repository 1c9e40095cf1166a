"""Receipt files: the shop's copy of a payment proof's media, by SHA-256

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""
from alembic import op
import sqlalchemy as sa

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('payment_proofs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('receipt_sha256', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('receipt_path', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('download_error', sa.Text(), nullable=True))
        batch_op.create_index(batch_op.f('ix_payment_proofs_receipt_sha256'), ['receipt_sha256'], unique=False)

    op.create_table('receipt_files',
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('path', sa.Text(), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('content_type', sa.String(length=100), nullable=False),
    sa.Column('first_proof_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['first_proof_id'], ['payment_proofs.id'],
                            name=op.f('fk_receipt_files_first_proof_id_payment_proofs')),
    sa.PrimaryKeyConstraint('sha256', name=op.f('pk_receipt_files'))
    )


def downgrade() -> None:
    op.drop_table('receipt_files')
    with op.batch_alter_table('payment_proofs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payment_proofs_receipt_sha256'))
        batch_op.drop_column('download_error')
        batch_op.drop_column('receipt_path')
        batch_op.drop_column('receipt_sha256')
