"""trace context: the span that queued a notification or published a feed event, for its
deliveries' spans (README "Traces")

Revision ID: e1a11e0c0a15
Revises: e1a11e0c0a14
Create Date: 2026-12-12 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'e1a11e0c0a15'
down_revision: str | None = 'e1a11e0c0a14'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


TABLES = ('notifications', 'ticket_events')


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('traceparent', sa.String(55), nullable=True))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('traceparent')
