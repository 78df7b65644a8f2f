"""agents' sign-in: passwords, two-factor, sessions, invites, recovery codes, throttling

Revision ID: e1a11e0c0a10
Revises: e1a11e0c0a09
Create Date: 2026-12-08 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'e1a11e0c0a10'
down_revision: str | None = 'e1a11e0c0a09'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing agents have no password (they sign in with their API token, or get an invite)
    # and no second factor.
    with op.batch_alter_table('agents') as batch:
        batch.add_column(sa.Column('password_hash', sa.String(200), nullable=True))
        batch.add_column(sa.Column('totp_secret', sa.String(64), nullable=True))
        batch.add_column(sa.Column('totp_pending_secret', sa.String(64), nullable=True))
        batch.add_column(sa.Column('totp_last_step', sa.BigInteger(), nullable=True))
    op.create_table(
        'agent_sessions',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('token_hash', sa.String(64), nullable=False),
        sa.Column('agent', sa.String(64), nullable=False),
        sa.Column('method', sa.String(16), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('idle_seconds', sa.Integer(), nullable=False),
        sa.Column('must_enrol_two_factor', sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(['agent'], ['agents.handle']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('token_hash', name='uq_agent_sessions_token_hash'),
    )
    op.create_index('ix_agent_sessions_agent', 'agent_sessions', ['agent'])
    op.create_table(
        'sign_in_failures',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('account', sa.String(320), nullable=False),
        sa.Column('client', sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_sign_in_failures_at', 'sign_in_failures', ['at'])
    op.create_index('ix_sign_in_failures_account', 'sign_in_failures', ['account', 'at'])
    op.create_index('ix_sign_in_failures_client', 'sign_in_failures', ['client', 'at'])
    op.create_table(
        'agent_invites',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('token_hash', sa.String(64), nullable=False),
        sa.Column('agent', sa.String(64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('created_by', sa.String(200), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['agent'], ['agents.handle']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('token_hash', name='uq_agent_invites_token_hash'),
    )
    op.create_index('ix_agent_invites_agent', 'agent_invites', ['agent'])
    op.create_table(
        'agent_recovery_codes',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('agent', sa.String(64), nullable=False),
        sa.Column('code_hash', sa.String(64), nullable=False),
        sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['agent'], ['agents.handle']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_agent_recovery_codes_agent', 'agent_recovery_codes', ['agent'])


def downgrade() -> None:
    op.drop_index('ix_agent_recovery_codes_agent', table_name='agent_recovery_codes')
    op.drop_table('agent_recovery_codes')
    op.drop_index('ix_agent_invites_agent', table_name='agent_invites')
    op.drop_table('agent_invites')
    op.drop_index('ix_sign_in_failures_client', table_name='sign_in_failures')
    op.drop_index('ix_sign_in_failures_account', table_name='sign_in_failures')
    op.drop_index('ix_sign_in_failures_at', table_name='sign_in_failures')
    op.drop_table('sign_in_failures')
    op.drop_index('ix_agent_sessions_agent', table_name='agent_sessions')
    op.drop_table('agent_sessions')
    with op.batch_alter_table('agents') as batch:
        batch.drop_column('totp_last_step')
        batch.drop_column('totp_pending_secret')
        batch.drop_column('totp_secret')
        batch.drop_column('password_hash')
