"""external references: the published ticket_external_refs and the intake's claims

Revision ID: e1a11e0c0a03
Revises: e1a11e0c0a02
Create Date: 2026-11-23 19:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'e1a11e0c0a03'
down_revision: str | None = 'e1a11e0c0a02'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('ticket_external_refs',
    sa.Column('system', sa.String(length=32), nullable=False),
    sa.Column('ref_id', sa.String(length=200), nullable=False),
    sa.Column('ticket', sa.String(length=16), nullable=False),
    sa.Column('url', sa.String(length=2000), nullable=True),
    sa.PrimaryKeyConstraint('system', 'ref_id')
    )
    op.create_index(
        op.f('ix_ticket_external_refs_ticket'), 'ticket_external_refs', ['ticket'], unique=False
    )
    op.create_table('external_ref_claims',
    sa.Column('system', sa.String(length=32), nullable=False),
    sa.Column('ref_id', sa.String(length=200), nullable=False),
    sa.Column('ticket', sa.String(length=16), nullable=False),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('system', 'ref_id')
    )
    op.create_index(
        op.f('ix_external_ref_claims_ticket'), 'external_ref_claims', ['ticket'], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f('ix_external_ref_claims_ticket'), table_name='external_ref_claims')
    op.drop_table('external_ref_claims')
    op.drop_index(op.f('ix_ticket_external_refs_ticket'), table_name='ticket_external_refs')
    op.drop_table('ticket_external_refs')
