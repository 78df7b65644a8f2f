"""index notifications by status: the outbox's look for due ones, and its metrics

Revision ID: e1a11e0c0a13
Revises: e1a11e0c0a12
Create Date: 2026-12-10 09:00:00.000000
"""

from collections.abc import Sequence

from alembic import op


revision: str = 'e1a11e0c0a13'
down_revision: str | None = 'e1a11e0c0a12'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.create_index('ix_notifications_status', ['status', 'created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index('ix_notifications_status')
