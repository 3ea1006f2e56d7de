"""users.phone_generation: the browser phone's password is derived from it (and SECRET_KEY)

Revision ID: 0013
Revises: 0011
Create Date: 2026-12-07 03:20:00

A browser phone's SIP password is HMAC(SECRET_KEY, user id + generation), so the site can
hand it to the signed-in operator's page while Asterisk keeps only its digest; making a new
phone password bumps the generation, which retires the old one.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("phone_generation", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("phone_generation")
