"""index tickets by the requester's address, case aside: the ticket list's `requester` filter
(the console's "their other tickets") and erasure's and export's look-ups compare
lower(requester_email)

Revision ID: e1a11e0c0a16
Revises: e1a11e0c0a15
Create Date: 2026-12-13 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'e1a11e0c0a16'
down_revision: str | None = 'e1a11e0c0a15'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        'ix_tickets_requester_email_lower', 'tickets', [sa.text('lower(requester_email)')]
    )


def downgrade() -> None:
    op.drop_index('ix_tickets_requester_email_lower', table_name='tickets')
