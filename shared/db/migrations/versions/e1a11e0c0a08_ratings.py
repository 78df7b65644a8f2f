"""ratings: the requester's rating of a closed ticket, and its comment, in the report facts

Revision ID: e1a11e0c0a08
Revises: e1a11e0c0a07
Create Date: 2026-12-06 23:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'e1a11e0c0a08'
down_revision: str | None = 'e1a11e0c0a07'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('ticket_event_facts') as batch:
        batch.add_column(sa.Column('rating', sa.String(8), nullable=True))
        batch.add_column(sa.Column('comment', sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('ticket_event_facts') as batch:
        batch.drop_column('comment')
        batch.drop_column('rating')
