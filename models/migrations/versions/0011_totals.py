"""reports: the total counts each call from the caller's view; every rolled-up day is stale

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 02:40:00

The queue report's total ("All queues") now counts a call that moved between queues from the
caller's view across every queue it entered (offered if any queue took it; refused only if
none did), not by the last queue's reason alone. The roll-up rows keep their shape but hold
other sums, so every day is stale until `callcards reports rollup` rolls it up again; until
then the reports read those days from the cards.
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("UPDATE report_days SET stale = true")


def downgrade() -> None:
    op.execute("UPDATE report_days SET stale = true")
