"""WhatsApp: customers, inbound messages, the outbox, delivery events, payment proofs

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('delivery_events',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('message_sid', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=40), nullable=False),
    sa.Column('error_code', sa.String(length=20), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_delivery_events'))
    )
    with op.batch_alter_table('delivery_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_delivery_events_message_sid'), ['message_sid'], unique=False)

    op.create_table('customers',
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('wa_id', sa.String(length=20), nullable=True),
    sa.Column('profile_name', sa.String(length=200), nullable=True),
    sa.Column('current_order_id', sa.String(length=36), nullable=True),
    sa.Column('opted_out', sa.Boolean(), nullable=False),
    sa.Column('last_inbound_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('quiet_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['current_order_id'], ['orders.id'], name=op.f('fk_customers_current_order_id_orders')),
    sa.PrimaryKeyConstraint('phone', name=op.f('pk_customers'))
    )
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_customers_wa_id'), ['wa_id'], unique=False)

    op.create_table('inbound_messages',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('message_sid', sa.String(length=64), nullable=False),
    sa.Column('from_phone', sa.String(length=40), nullable=False),
    sa.Column('wa_id', sa.String(length=20), nullable=True),
    sa.Column('profile_name', sa.String(length=200), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('media', sa.JSON(), nullable=False),
    sa.Column('order_id', sa.String(length=36), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('processed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_inbound_messages_order_id_orders')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inbound_messages')),
    sa.UniqueConstraint('message_sid', name=op.f('uq_inbound_messages_message_sid'))
    )
    with op.batch_alter_table('inbound_messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inbound_messages_from_phone'), ['from_phone'], unique=False)
        batch_op.create_index(batch_op.f('ix_inbound_messages_order_id'), ['order_id'], unique=False)

    op.create_table('outbound_messages',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('to_phone', sa.String(length=20), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('variables', sa.JSON(), nullable=False),
    sa.Column('order_id', sa.String(length=36), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('twilio_sid', sa.String(length=64), nullable=True),
    sa.Column('error_code', sa.String(length=20), nullable=True),
    sa.Column('error_message', sa.Text(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_outbound_messages_order_id_orders')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbound_messages')),
    sa.UniqueConstraint('key', name=op.f('uq_outbound_messages_key')),
    sa.UniqueConstraint('twilio_sid', name=op.f('uq_outbound_messages_twilio_sid'))
    )
    with op.batch_alter_table('outbound_messages', schema=None) as batch_op:
        batch_op.create_index('ix_outbound_messages_due', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbound_messages_order_id'), ['order_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbound_messages_to_phone'), ['to_phone'], unique=False)

    op.create_table('payment_proofs',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('order_id', sa.String(length=36), nullable=False),
    sa.Column('inbound_message_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('raw_text', sa.Text(), nullable=False),
    sa.Column('media_url', sa.Text(), nullable=True),
    sa.Column('content_type', sa.String(length=100), nullable=True),
    sa.Column('provider', sa.String(length=40), nullable=True),
    sa.Column('transaction_code', sa.String(length=40), nullable=True),
    sa.Column('amount', sa.BigInteger(), nullable=True),
    sa.Column('currency', sa.String(length=8), nullable=True),
    sa.Column('flags', sa.JSON(), nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['inbound_message_id'], ['inbound_messages.id'], name=op.f('fk_payment_proofs_inbound_message_id_inbound_messages')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_payment_proofs_order_id_orders')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_proofs'))
    )
    with op.batch_alter_table('payment_proofs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payment_proofs_order_id'), ['order_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_payment_proofs_transaction_code'), ['transaction_code'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('payment_proofs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payment_proofs_transaction_code'))
        batch_op.drop_index(batch_op.f('ix_payment_proofs_order_id'))

    op.drop_table('payment_proofs')
    with op.batch_alter_table('outbound_messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbound_messages_to_phone'))
        batch_op.drop_index(batch_op.f('ix_outbound_messages_order_id'))
        batch_op.drop_index('ix_outbound_messages_due')

    op.drop_table('outbound_messages')
    with op.batch_alter_table('inbound_messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inbound_messages_order_id'))
        batch_op.drop_index(batch_op.f('ix_inbound_messages_from_phone'))

    op.drop_table('inbound_messages')
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_customers_wa_id'))

    op.drop_table('customers')
    with op.batch_alter_table('delivery_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_delivery_events_message_sid'))

    op.drop_table('delivery_events')
