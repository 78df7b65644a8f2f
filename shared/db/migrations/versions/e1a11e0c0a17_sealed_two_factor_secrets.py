"""two-factor secrets sealed under ENCRYPTION_KEYS: room for `sealed:<key id>:<base64>`

Revision ID: e1a11e0c0a17
Revises: e1a11e0c0a16
Create Date: 2026-12-14 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'e1a11e0c0a17'
down_revision: str | None = 'e1a11e0c0a16'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ('totp_secret', 'totp_pending_secret')


def upgrade() -> None:
    with op.batch_alter_table('agents', schema=None) as batch_op:
        for column in COLUMNS:
            batch_op.alter_column(
                column, existing_type=sa.String(length=64), type_=sa.String(length=200)
            )


def downgrade() -> None:
    # Sealed secrets do not fit the old width: turn two-factor off for those agents first.
    with op.batch_alter_table('agents', schema=None) as batch_op:
        for column in COLUMNS:
            batch_op.alter_column(
                column, existing_type=sa.String(length=200), type_=sa.String(length=64)
            )
