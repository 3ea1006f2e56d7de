"""reports: daily roll-ups (report_days and its tables, the triggers that mark a day stale); an index on ringing events by time

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 19:10:00

Every report figure is a sum or a count, so a period's figures are the sums of its days'
rows (models/reports.py). Triggers on calls and call_events mark a rolled-up day stale when
any of its cards (or their ringing events) change, whoever writes them; the reports read a
stale day from the cards until `callcards reports rollup` rolls it up again. The triggers
are models/reports.py's, watching what they watched at this revision (below).
The partial index serves the operator report's missed calls, now bounded by the events' time.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

import models.base
from models.reports import (
    POSTGRESQL_DROP,
    REPORTED_COLUMNS_0007,
    REPORTED_EVENTS_0007,
    SQLITE_DROP,
    postgresql_triggers,
    sqlite_triggers,
)

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# What the triggers watched at this revision (0008 added the card's answered_at and the events
# of moves between queues).
POSTGRESQL_TRIGGERS = postgresql_triggers(REPORTED_COLUMNS_0007, REPORTED_EVENTS_0007)
SQLITE_TRIGGERS = sqlite_triggers(REPORTED_COLUMNS_0007, REPORTED_EVENTS_0007)

TABLES = (
    "report_queue_days",
    "report_wait_days",
    "report_operator_days",
    "report_rang_days",
    "report_category_days",
)


def _rollup_table(name: str, *columns: sa.Column[Any]) -> None:
    op.create_table(
        name,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("queue", sa.String(length=64), nullable=True),
        *columns,
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{name}")),
    )
    op.create_index(op.f(f"ix_{name}_day"), name, ["day"], unique=False)


def _counts(*names: str) -> list[sa.Column[int]]:
    return [sa.Column(name, sa.Integer(), nullable=False) for name in names]


def upgrade() -> None:
    op.create_table(
        "report_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("starts_at", models.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", models.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("stale", sa.Boolean(), nullable=False),
        sa.Column("refreshed_at", models.base.UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_report_days")),
        sa.UniqueConstraint("starts_at", name=op.f("uq_report_days_starts_at")),
    )
    _rollup_table(
        "report_queue_days",
        sa.Column("queueless_operator_id", sa.Integer(), nullable=True),
        *_counts(
            "offered", "answered", "abandoned", "missed", "closed", "refused", "answered_wait_sec"
        ),
    )
    _rollup_table(
        "report_wait_days",
        sa.Column("queueless_operator_id", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("seconds", sa.Integer(), nullable=True),
        *_counts("calls"),
    )
    _rollup_table(
        "report_operator_days",
        sa.Column("operator_id", sa.Integer(), nullable=False),
        sa.Column("purpose_id", sa.Integer(), nullable=True),
        *_counts("cards", "answered", "talk_sec", "hold_sec"),
        sa.Column("after_call_sec", sa.Float(), nullable=False),
        *_counts("saved"),
    )
    _rollup_table(
        "report_rang_days",
        sa.Column("operator_id", sa.Integer(), nullable=True),
        sa.Column("extension", sa.String(length=32), nullable=True),
        *_counts("calls"),
    )
    _rollup_table(
        "report_category_days",
        sa.Column("queueless_operator_id", sa.Integer(), nullable=True),
        *_counts("category_id", "cards", "needs_callback"),
    )
    where = sa.text("kind = 'operator_rang'")
    op.create_index(
        "ix_call_events_rang_at", "call_events", ["at"], postgresql_where=where, sqlite_where=where
    )
    postgresql = op.get_bind().dialect.name == "postgresql"
    for statement in POSTGRESQL_TRIGGERS if postgresql else SQLITE_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for statement in POSTGRESQL_DROP if postgresql else SQLITE_DROP:
        op.execute(statement)
    op.drop_index("ix_call_events_rang_at", table_name="call_events")
    for name in reversed(TABLES):
        op.drop_index(op.f(f"ix_{name}_day"), table_name=name)
        op.drop_table(name)
    op.drop_table("report_days")
