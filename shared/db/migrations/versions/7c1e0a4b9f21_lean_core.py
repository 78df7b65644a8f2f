"""lean core: ticket keys and numbers, message bodies, published thread and timeline

Revision ID: 7c1e0a4b9f21
Revises: d38d31daa083
Create Date: 2026-11-23 17:20:00.000000
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op


revision: str = '7c1e0a4b9f21'
down_revision: str | None = 'd38d31daa083'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Numbers are 99,999 + the key's id. Tickets from before took random six-digit numbers:
# where any exist, new numbers start at seven digits so that they never meet one.
LEGACY_RESERVED_ID = 900_000


def upgrade() -> None:
    keys = op.create_table('ticket_keys',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key_hash', name='uq_ticket_keys_key_hash')
    )
    op.create_table('message_bodies',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('ticket', sa.String(length=16), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_message_bodies_ticket'), 'message_bodies', ['ticket'], unique=False)
    op.create_table('ticket_thread',
    sa.Column('ticket', sa.String(length=16), nullable=False),
    sa.Column('entry', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('author', sa.JSON(), nullable=False),
    sa.Column('message_id', sa.String(length=64), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('ticket', 'entry')
    )
    op.create_table('ticket_timeline',
    sa.Column('ticket', sa.String(length=16), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('event', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('ticket', 'seq')
    )
    legacy = op.get_bind().scalar(sa.text('SELECT count(*) FROM tickets'))
    if legacy:
        op.bulk_insert(keys, [{
            'id': LEGACY_RESERVED_ID,
            'key_hash': 'reserved: numbers of tickets from before',
            'fingerprint': '',
            'created_at': datetime.now(UTC),
        }])
        if op.get_bind().dialect.name == 'postgresql':
            op.execute(
                "SELECT setval(pg_get_serial_sequence('ticket_keys', 'id'), "
                f"{LEGACY_RESERVED_ID})"
            )


def downgrade() -> None:
    op.drop_table('ticket_timeline')
    op.drop_table('ticket_thread')
    op.drop_index(op.f('ix_message_bodies_ticket'), table_name='message_bodies')
    op.drop_table('message_bodies')
    op.drop_table('ticket_keys')
