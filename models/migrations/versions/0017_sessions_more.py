"""operator sessions: indexes the sessions report reads operator_states by

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 13:00:00

The sessions report (reports/sessions.py) reads the intervals that overlap a period: those
that began at most a day before it (ix_operator_states_started), the few longer than a day
or still open (ix_operator_states_long), those closed by a gap in the listener's view, and
the logged_in and ringing intervals of a period apart from the rest (by state and start).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

#: models.live.LONG_INTERVAL as of this revision.
LONG = {
    "postgresql": "ended_at IS NULL OR ended_at - started_at > interval '1 day'",
    "sqlite": "ended_at IS NULL OR julianday(ended_at) - julianday(started_at) > 1",
}


def upgrade() -> None:
    op.create_index("ix_operator_states_state_started", "operator_states", ["state", "started_at"])
    op.create_index(
        "ix_operator_states_long",
        "operator_states",
        ["started_at"],
        postgresql_where=sa.text(LONG["postgresql"]),
        sqlite_where=sa.text(LONG["sqlite"]),
    )
    op.create_index(
        "ix_operator_states_gap",
        "operator_states",
        ["ended_at"],
        postgresql_where=sa.text("gap"),
        sqlite_where=sa.text("gap = 1"),
    )


def downgrade() -> None:
    op.drop_index("ix_operator_states_gap", table_name="operator_states")
    op.drop_index("ix_operator_states_long", table_name="operator_states")
    op.drop_index("ix_operator_states_state_started", table_name="operator_states")
