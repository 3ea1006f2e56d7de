"""operator sessions: indexes the sessions report reads operator_states by

Revision ID: 0020
Revises: 0016
Create Date: 2026-12-07 13:00:00

The sessions report (reports/sessions.py) reads the intervals that overlap a period: those
that end after its start (or are open), and the few closed by a gap in the listener's view.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_operator_states_ended", "operator_states", ["ended_at"])
    op.create_index(
        "ix_operator_states_gap",
        "operator_states",
        ["ended_at"],
        postgresql_where=sa.text("gap"),
        sqlite_where=sa.text("gap = 1"),
    )


def downgrade() -> None:
    op.drop_index("ix_operator_states_gap", table_name="operator_states")
    op.drop_index("ix_operator_states_ended", table_name="operator_states")
