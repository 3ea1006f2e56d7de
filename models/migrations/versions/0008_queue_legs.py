"""reports: each queue a call entered (legs) in the queue roll-ups; triggers watch moves

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22 21:40:00

The queue report counts every queue a call entered, not only the one it ended in: the
roll-up rows of queues and waits gain `leg` (false: each call once, the report's total;
true: what the queue rows add for the calls that moved). Rolled-up days have no leg rows yet, so every day is stale until
`callcards reports rollup` rolls it up again. The triggers now also watch the card's
answered_at and the events a leg is read from (overflows, transfers, answers); two partial
indexes read the moves of a recent period by their time and those of a day's cards by card.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from models.reports import (
    POSTGRESQL_DROP,
    POSTGRESQL_TRIGGERS,
    REPORTED_COLUMNS_0007,
    REPORTED_EVENTS_0007,
    SQLITE_DROP,
    SQLITE_TRIGGERS,
    postgresql_triggers,
    sqlite_triggers,
)

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

MOVES_WHERE = sa.text("kind IN ('queue_overflow', 'transferred')")


def _triggers(postgresql: bool, statements: tuple[str, ...]) -> None:
    for statement in POSTGRESQL_DROP if postgresql else SQLITE_DROP:
        op.execute(statement)
    for statement in statements:
        op.execute(statement)


def upgrade() -> None:
    for table in ("report_queue_days", "report_wait_days"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(
                sa.Column("leg", sa.Boolean(), nullable=False, server_default=sa.false())
            )
    op.create_index(
        "ix_call_events_moved_at",
        "call_events",
        ["at"],
        postgresql_where=MOVES_WHERE,
        sqlite_where=MOVES_WHERE,
    )
    op.create_index(
        "ix_call_events_moves_by_call",
        "call_events",
        ["call_id", "at"],
        postgresql_where=MOVES_WHERE,
        sqlite_where=MOVES_WHERE,
    )
    postgresql = op.get_bind().dialect.name == "postgresql"
    _triggers(postgresql, POSTGRESQL_TRIGGERS if postgresql else SQLITE_TRIGGERS)
    op.execute("UPDATE report_days SET stale = true")


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    _triggers(
        postgresql,
        postgresql_triggers(REPORTED_COLUMNS_0007, REPORTED_EVENTS_0007)
        if postgresql
        else sqlite_triggers(REPORTED_COLUMNS_0007, REPORTED_EVENTS_0007),
    )
    op.drop_index("ix_call_events_moves_by_call", table_name="call_events")
    op.drop_index("ix_call_events_moved_at", table_name="call_events")
    op.execute("DELETE FROM report_queue_days WHERE leg")
    op.execute("DELETE FROM report_wait_days WHERE leg")
    for table in ("report_wait_days", "report_queue_days"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("leg")
