"""erasures: requests to erase a requester's personal data, and how far each got

Revision ID: e1a11e0c0a14
Revises: e1a11e0c0a13
Create Date: 2026-12-10 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'e1a11e0c0a14'
down_revision: str | None = 'e1a11e0c0a13'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'erasures',
        sa.Column('id', sa.String(32), nullable=False),
        sa.Column('requester_ref', sa.String(64), nullable=False),
        sa.Column('email', sa.String(320), nullable=True),
        sa.Column('pending', sa.String(64), nullable=True),
        sa.Column('status', sa.String(16), nullable=False),
        sa.Column('tickets', sa.JSON(), nullable=True),
        sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('pending', name='uq_erasures_pending'),
    )
    op.create_index('ix_erasures_requester_ref', 'erasures', ['requester_ref'])


def downgrade() -> None:
    op.drop_index('ix_erasures_requester_ref', table_name='erasures')
    op.drop_table('erasures')
