"""wake notify on insert (PostgreSQL): a NOTIFY when notifications or feed events are added

Revision ID: e1a11e0c0a06
Revises: e1a11e0c0a04
Create Date: 2026-11-24 02:10:00.000000
"""

from collections.abc import Sequence

from alembic import op


revision: str = 'e1a11e0c0a06'
down_revision: str | None = 'e1a11e0c0a04'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table -> the channel its inserts are announced on (services/notify/wakeups.py listens)
CHANNELS = {"notifications": "ticketflow_notifications", "ticket_events": "ticketflow_events"}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite: notify's loops look every 0.2 s, as before
    op.execute(
        """
        CREATE FUNCTION ticketflow_wake() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify(TG_ARGV[0], '');
            RETURN NULL;
        END
        $$
        """
    )
    for table, channel in CHANNELS.items():
        # Once per statement, delivered at commit (never for a rolled-back insert); repeats
        # within a transaction are folded into one by PostgreSQL.
        op.execute(
            f"CREATE TRIGGER {table}_wake AFTER INSERT ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION ticketflow_wake('{channel}')"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in CHANNELS:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_wake ON {table}")
    op.execute("DROP FUNCTION IF EXISTS ticketflow_wake()")
