"""attachments

Revision ID: e1a11e0c0a05
Revises: e1a11e0c0a03
Create Date: 2026-11-24 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'e1a11e0c0a05'
down_revision: str | None = 'e1a11e0c0a03'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('attachments',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('ticket', sa.String(length=16), nullable=False),
    sa.Column('message_id', sa.String(length=64), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('content_type', sa.String(length=255), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_attachments_ticket_message', 'attachments', ['ticket', 'message_id'], unique=False)
    op.create_index(op.f('ix_attachments_sha256'), 'attachments', ['sha256'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_attachments_sha256'), table_name='attachments')
    op.drop_index('ix_attachments_ticket_message', table_name='attachments')
    op.drop_table('attachments')
