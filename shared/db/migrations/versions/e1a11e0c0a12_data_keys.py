"""data_keys: the wrapped data key of each ticket's Temporal payloads

Revision ID: e1a11e0c0a12
Revises: e1a11e0c0a11
Create Date: 2026-12-09 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'e1a11e0c0a12'
down_revision: str | None = 'e1a11e0c0a11'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'data_keys',
        sa.Column('id', sa.String(32), nullable=False),
        sa.Column('scope', sa.String(255), nullable=False),
        sa.Column('kek_id', sa.String(32), nullable=True),
        sa.Column('wrapped', sa.LargeBinary(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('erased_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('scope', name='uq_data_keys_scope'),
    )
    op.create_index('ix_data_keys_kek_id', 'data_keys', ['kek_id'])


def downgrade() -> None:
    op.drop_index('ix_data_keys_kek_id', table_name='data_keys')
    op.drop_table('data_keys')
