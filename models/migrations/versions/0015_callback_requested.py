"""calls: the status "callback_requested" and the number the caller asked to be called on

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 12:40:00

A caller who leaves the queue asking to be called back (virtual hold) ends neither answered
nor abandoned: the card's status is `callback_requested` (the column widens to 32) and
`callback_number` keeps the number they confirmed or typed.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from alembic import op

from models.reports import POSTGRESQL_DROP, POSTGRESQL_TRIGGERS, SQLITE_DROP, SQLITE_TRIGGERS

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

_OLD = "'ringing', 'answered', 'missed', 'abandoned', 'busy', 'failed'"
_NEW = _OLD + ", 'callback_requested'"


def _triggers_around(alter: Callable[[], None]) -> None:
    # The report triggers name calls.status: PostgreSQL refuses to alter its type under them,
    # and SQLite's batch rebuild of calls would drop them.
    postgresql = op.get_bind().dialect.name == "postgresql"
    for statement in POSTGRESQL_DROP if postgresql else SQLITE_DROP:
        op.execute(statement)
    alter()
    for statement in POSTGRESQL_TRIGGERS if postgresql else SQLITE_TRIGGERS:
        op.execute(statement)


def upgrade() -> None:
    _triggers_around(_widen)


def _widen() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.drop_constraint(op.f("ck_calls_status"), type_="check")
        batch.alter_column("status", existing_type=sa.String(length=16), type_=sa.String(length=32))
        batch.add_column(sa.Column("callback_number", sa.String(length=32), nullable=True))
        batch.create_check_constraint(op.f("ck_calls_status"), f"status IN ({_NEW})")


def downgrade() -> None:
    op.execute("UPDATE calls SET status = 'abandoned' WHERE status = 'callback_requested'")
    _triggers_around(_narrow)


def _narrow() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.drop_constraint(op.f("ck_calls_status"), type_="check")
        batch.drop_column("callback_number")
        batch.alter_column("status", existing_type=sa.String(length=32), type_=sa.String(length=16))
        batch.create_check_constraint(op.f("ck_calls_status"), f"status IN ({_OLD})")
