"""callback tasks: one open task per number and queue, its cards and attempts; queue settings

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 13:00:00

callbacks/sweep.py gathers lost cards (missed, abandoned, voicemail, out of hours, marked,
callback requested) into `callback_tasks`, one open task per caller's number and queue
(a unique partial index), each card once (`callback_cards`' key); `callback_attempts` keeps
the calls made back. `queues.callbacks` holds a queue's retry schedule, maximum attempts,
short-abandon threshold and callback mode (published in the call-flow document).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from models.base import JsonDocument, UtcDateTime

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

OPEN_TASK = sa.text("closed_at IS NULL")
_REASONS = "'missed', 'abandoned', 'voicemail', 'out_of_hours', 'marked', 'callback_requested'"
_OUTCOMES = (
    "'reached', 'no_answer', 'busy', 'wrong_number', 'do_not_call', 'got_through', 'unreachable'"
)


def upgrade() -> None:
    op.add_column("queues", sa.Column("callbacks", JsonDocument, nullable=True))
    op.create_table(
        "callback_tasks",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("queue", sa.String(64), nullable=False),
        sa.Column("number", sa.String(32), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("waiting_since", UtcDateTime(), nullable=False),
        sa.Column("last_call_at", UtcDateTime(), nullable=False),
        sa.Column("lost_calls", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UtcDateTime(), nullable=True),
        sa.Column("first_attempt_at", UtcDateTime(), nullable=True),
        sa.Column("taken_by_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("taken_at", UtcDateTime(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("closed_at", UtcDateTime(), nullable=True),
        sa.Column("outcome", sa.String(32), nullable=True),
        sa.Column("closed_by_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.CheckConstraint(f"reason IN ({_REASONS})", name=op.f("ck_callback_tasks_reason")),
        sa.CheckConstraint(f"outcome IN ({_OUTCOMES})", name=op.f("ck_callback_tasks_outcome")),
    )
    op.create_index(
        "uq_callback_tasks_open",
        "callback_tasks",
        ["queue", "number"],
        unique=True,
        postgresql_where=OPEN_TASK,
        sqlite_where=OPEN_TASK,
    )
    op.create_index("ix_callback_tasks_number", "callback_tasks", ["number"])
    op.create_index("ix_callback_tasks_created_at", "callback_tasks", ["created_at"])
    op.create_table(
        "callback_cards",
        sa.Column(
            "call_id",
            sa.Integer(),
            sa.ForeignKey("calls.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "task_id",
            sa.Integer(),
            sa.ForeignKey("callback_tasks.id", ondelete="CASCADE"),
            nullable=False,
        ),
    )
    op.create_index("ix_callback_cards_task_id", "callback_cards", ["task_id"])
    op.create_table(
        "callback_attempts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "task_id",
            sa.Integer(),
            sa.ForeignKey("callback_tasks.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("operator_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("linkedid", sa.String(64), nullable=True),
        sa.Column("started_at", UtcDateTime(), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=True),
        sa.Column("recorded_at", UtcDateTime(), nullable=True),
        sa.CheckConstraint(f"outcome IN ({_OUTCOMES})", name=op.f("ck_callback_attempts_outcome")),
    )
    op.create_index("ix_callback_attempts_task_id", "callback_attempts", ["task_id"])
    op.create_index("ix_callback_attempts_linkedid", "callback_attempts", ["linkedid"])


def downgrade() -> None:
    op.drop_table("callback_attempts")
    op.drop_table("callback_cards")
    op.drop_table("callback_tasks")
    with op.batch_alter_table("queues") as batch:
        batch.drop_column("callbacks")
