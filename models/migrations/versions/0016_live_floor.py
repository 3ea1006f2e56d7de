"""live floor: operators' state intervals, the live event log, the floor picture, wrap-ups

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 12:55:00

The floor listener (live/) turns Asterisk's queue and member events into intervals of each
operator's day (`operator_states`), an ordered log of changes the browsers follow
(`live_events`, its ids are the streams' event ids), one row with the whole floor now
(`live_floor`) and the wrap-ups that hold an operator until their card is complete
(`live_wrapups`). Queues get the wrap-up hold, the missed-rings pause and the wallboard's
thresholds.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import models.base

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
EVENT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
OPEN = sa.text("ended_at IS NULL")


def _moment(name: str, nullable: bool) -> sa.Column[object]:
    return sa.Column(name, models.base.UtcDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "operator_states",
        sa.Column("id", EVENT_ID, nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("interface", sa.String(length=128), nullable=False),
        sa.Column("queue", sa.String(length=64), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=True),
        sa.Column("linkedid", sa.String(length=64), nullable=True),
        _moment("started_at", False),
        _moment("ended_at", True),
        sa.Column("gap", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_operator_states_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operator_states")),
    )
    op.create_index("ix_operator_states_user_started", "operator_states", ["user_id", "started_at"])
    op.create_index("ix_operator_states_started", "operator_states", ["started_at"])
    op.create_index(
        "ix_operator_states_open",
        "operator_states",
        ["interface"],
        postgresql_where=OPEN,
        sqlite_where=OPEN,
    )
    op.create_table(
        "live_events",
        sa.Column("id", EVENT_ID, nullable=False),
        _moment("at", False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("queue", sa.String(length=64), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("data", JSON_DOCUMENT, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_live_events")),
    )
    op.create_index(op.f("ix_live_events_at"), "live_events", ["at"])
    op.create_table(
        "live_floor",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", EVENT_ID, nullable=False),
        sa.Column("snapshot", JSON_DOCUMENT, nullable=False),
        sa.Column("ami_connected", sa.Boolean(), nullable=False),
        _moment("updated_at", False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_live_floor")),
    )
    op.create_table(
        "live_wrapups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("linkedid", sa.String(length=64), nullable=False),
        sa.Column("queue", sa.String(length=64), nullable=True),
        _moment("started_at", False),
        _moment("ends_at", False),
        _moment("ended_at", True),
        sa.Column("ended_by", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_live_wrapups_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_live_wrapups")),
    )
    op.create_index(op.f("ix_live_wrapups_user_id"), "live_wrapups", ["user_id"])
    with op.batch_alter_table("queues") as batch:
        for name, default in (
            ("wrapup_hold_sec", "0"),
            ("missed_rings_pause", "0"),
            ("max_wait_alert_sec", "60"),
            ("service_level_target_pct", "80"),
        ):
            batch.add_column(sa.Column(name, sa.Integer(), nullable=False, server_default=default))


def downgrade() -> None:
    with op.batch_alter_table("queues") as batch:
        for name in (
            "service_level_target_pct",
            "max_wait_alert_sec",
            "missed_rings_pause",
            "wrapup_hold_sec",
        ):
            batch.drop_column(name)
    op.drop_index(op.f("ix_live_wrapups_user_id"), table_name="live_wrapups")
    op.drop_table("live_wrapups")
    op.drop_table("live_floor")
    op.drop_index(op.f("ix_live_events_at"), table_name="live_events")
    op.drop_table("live_events")
    op.drop_index("ix_operator_states_open", table_name="operator_states")
    op.drop_index("ix_operator_states_started", table_name="operator_states")
    op.drop_index("ix_operator_states_user_started", table_name="operator_states")
    op.drop_table("operator_states")
