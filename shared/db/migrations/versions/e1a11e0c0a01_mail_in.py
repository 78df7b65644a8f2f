"""mail in: the inbound log, and the Message-ID of each notification sent

Revision ID: e1a11e0c0a01
Revises: e1a11e0c0a00
Create Date: 2026-11-24 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'e1a11e0c0a01'
down_revision: str | None = 'e1a11e0c0a00'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('inbound_mail',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('dedupe_key', sa.String(length=64), nullable=True),
    sa.Column('message_id', sa.Text(), nullable=True),
    sa.Column('mail_from', sa.String(length=320), nullable=False),
    sa.Column('rcpt_to', sa.Text(), nullable=False),
    sa.Column('subject', sa.String(length=300), nullable=False),
    sa.Column('outcome', sa.String(length=32), nullable=False),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.Column('ticket', sa.String(length=16), nullable=True),
    sa.Column('attachments', sa.JSON(), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('dedupe_key', name='uq_inbound_mail_dedupe_key')
    )
    op.create_index('ix_inbound_mail_sender_received', 'inbound_mail', ['mail_from', 'received_at'], unique=False)
    op.create_index(op.f('ix_inbound_mail_outcome'), 'inbound_mail', ['outcome'], unique=False)
    op.create_index(op.f('ix_inbound_mail_ticket'), 'inbound_mail', ['ticket'], unique=False)
    op.create_index(op.f('ix_inbound_mail_received_at'), 'inbound_mail', ['received_at'], unique=False)
    op.add_column('notifications', sa.Column('message_id', sa.String(length=320), nullable=True))
    op.create_index(op.f('ix_notifications_message_id'), 'notifications', ['message_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_notifications_message_id'), table_name='notifications')
    with op.batch_alter_table('notifications') as batch:
        batch.drop_column('message_id')
    op.drop_index(op.f('ix_inbound_mail_received_at'), table_name='inbound_mail')
    op.drop_index(op.f('ix_inbound_mail_ticket'), table_name='inbound_mail')
    op.drop_index(op.f('ix_inbound_mail_outcome'), table_name='inbound_mail')
    op.drop_index('ix_inbound_mail_sender_received', table_name='inbound_mail')
    op.drop_table('inbound_mail')
