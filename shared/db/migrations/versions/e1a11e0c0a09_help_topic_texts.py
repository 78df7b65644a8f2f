"""help topic texts: a description and instructions for requesters, and an active flag

Revision ID: e1a11e0c0a09
Revises: e1a11e0c0a08
Create Date: 2026-12-07 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'e1a11e0c0a09'
down_revision: str | None = 'e1a11e0c0a08'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing topics have no texts (NULL) and stay open for new tickets.
    with op.batch_alter_table('help_topics') as batch:
        batch.add_column(sa.Column('description', sa.String(500), nullable=True))
        batch.add_column(sa.Column('instructions', sa.String(2000), nullable=True))
        batch.add_column(
            sa.Column('active', sa.Boolean(), nullable=False, server_default=sa.true())
        )


def downgrade() -> None:
    with op.batch_alter_table('help_topics') as batch:
        batch.drop_column('active')
        batch.drop_column('instructions')
        batch.drop_column('description')
