"""unverified messages: a thread entry whose sender is not proven (mail with a From alone)

Revision ID: e1a11e0c0a07
Revises: e1a11e0c0a06
Create Date: 2026-12-06 21:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'e1a11e0c0a07'
down_revision: str | None = 'e1a11e0c0a06'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('ticket_thread') as batch:
        batch.add_column(
            sa.Column('unverified', sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table('ticket_thread') as batch:
        batch.drop_column('unverified')
