"""reports: first-call resolution rolled up per day; triggers watch the number and the mark

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 04:10:00

First-call resolution (declared and measured) gets its own daily roll-up,
`report_first_call_days`, and `report_days` says with which window and when a day's FCR rows
were counted. The triggers now also watch a card's caller number and its "resolved at first
call" mark. Rolled-up days have no FCR rows yet, so every day is stale until
`callcards reports rollup` rolls it up again.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import models.base
from models.reports import (
    POSTGRESQL_DROP,
    POSTGRESQL_TRIGGERS,
    REPORTED_COLUMNS_0008,
    REPORTED_EVENTS,
    SQLITE_DROP,
    SQLITE_TRIGGERS,
    postgresql_triggers,
    sqlite_triggers,
)

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

TABLE = "report_first_call_days"


def _drop_triggers(postgresql: bool) -> None:
    # First: SQLite rebuilds report_days to alter it, and its triggers name that table.
    for statement in POSTGRESQL_DROP if postgresql else SQLITE_DROP:
        op.execute(statement)


def _create_triggers(statements: tuple[str, ...]) -> None:
    for statement in statements:
        op.execute(statement)


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("queue", sa.String(length=64), nullable=True),
        sa.Column("queueless_operator_id", sa.Integer(), nullable=True),
        sa.Column("operator_id", sa.Integer(), nullable=True),
        sa.Column("category_id", sa.Integer(), nullable=True),
        *[
            sa.Column(name, sa.Integer(), nullable=False)
            for name in ("answered", "declared", "known", "not_again")
        ],
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{TABLE}")),
    )
    op.create_index(op.f(f"ix_{TABLE}_day"), TABLE, ["day"], unique=False)
    postgresql = op.get_bind().dialect.name == "postgresql"
    _drop_triggers(postgresql)
    with op.batch_alter_table("report_days") as batch:
        batch.add_column(sa.Column("fcr_repeat_days", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("fcr_at", models.base.UtcDateTime(timezone=True), nullable=True))
    _create_triggers(POSTGRESQL_TRIGGERS if postgresql else SQLITE_TRIGGERS)
    op.execute("UPDATE report_days SET stale = true")


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    _drop_triggers(postgresql)
    with op.batch_alter_table("report_days") as batch:
        batch.drop_column("fcr_at")
        batch.drop_column("fcr_repeat_days")
    _create_triggers(
        postgresql_triggers(REPORTED_COLUMNS_0008, REPORTED_EVENTS)
        if postgresql
        else sqlite_triggers(REPORTED_COLUMNS_0008, REPORTED_EVENTS)
    )
    op.drop_index(op.f(f"ix_{TABLE}_day"), table_name=TABLE)
    op.drop_table(TABLE)
