"""change feed: ticket_events

Revision ID: e1a11e0c0a00
Revises: 7c1e0a4b9f21
Create Date: 2026-11-23 19:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'e1a11e0c0a00'
down_revision: str | None = '7c1e0a4b9f21'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('ticket_events',
    sa.Column('position', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('txid', sa.BigInteger(), nullable=False),
    sa.Column('event_id', sa.String(length=40), nullable=False),
    sa.Column('ticket', sa.String(length=16), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('type', sa.String(length=40), nullable=False),
    sa.Column('internal', sa.Boolean(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('position'),
    sa.UniqueConstraint('event_id', name='uq_ticket_events_event_id')
    )
    op.create_index('ix_ticket_events_order', 'ticket_events', ['txid', 'position'], unique=False)
    op.create_index(op.f('ix_ticket_events_ticket'), 'ticket_events', ['ticket'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_ticket_events_ticket'), table_name='ticket_events')
    op.drop_index('ix_ticket_events_order', table_name='ticket_events')
    op.drop_table('ticket_events')
