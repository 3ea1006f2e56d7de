"""users: the operator's phone (its kind and the SIP password's digest) replaces sip_endpoint

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import models.base

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("phone_type", sa.String(length=16), nullable=False, server_default="webrtc")
        )
        batch.add_column(sa.Column("sip_password_digest", sa.String(length=128), nullable=True))
        batch.add_column(
            sa.Column("sip_password_set_at", models.base.UtcDateTime(timezone=True), nullable=True)
        )
        # Never read or written: the endpoint's name is the extension.
        batch.drop_column("sip_endpoint")
        batch.create_check_constraint(
            op.f("ck_users_phone_type"), "phone_type IN ('webrtc', 'deskphone')"
        )


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint(op.f("ck_users_phone_type"), type_="check")
        batch.add_column(sa.Column("sip_endpoint", sa.String(length=64), nullable=True))
        batch.drop_column("sip_password_set_at")
        batch.drop_column("sip_password_digest")
        batch.drop_column("phone_type")
