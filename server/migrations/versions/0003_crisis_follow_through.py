"""crisis follow-through: what an alert detected, whom it reached, its outcome, its support
conversation; staff on duty; rooms of one person and staff

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06 06:00:00
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import server.kernel.db

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ALERT_COLUMNS: tuple[sa.Column[Any], ...] = (
    sa.Column("category", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=True),
    sa.Column("severity", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=True),
    sa.Column(
        "reached",
        sqlmodel.sql.sqltypes.AutoString(length=16),
        nullable=False,
        server_default="",
    ),
    sa.Column("page_step", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("paged_at", server.kernel.db.UTCDateTime(), nullable=True),
    sa.Column("outcome", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=True),
    sa.Column("support_room_id", sa.Integer(), nullable=True),
)


def upgrade() -> None:
    # batch mode: SQLite cannot add a column with a constraint in place on every version.
    with op.batch_alter_table("alert") as batch:
        for column in ALERT_COLUMNS:
            batch.add_column(column)
        batch.create_foreign_key(
            "fk_alert_support_room_id_room", "room", ["support_room_id"], ["id"]
        )
    with op.batch_alter_table("room") as batch:
        batch.add_column(sa.Column("member_id", sa.Integer(), nullable=True))
        batch.create_index("ix_room_member_id", ["member_id"])
        batch.create_foreign_key("fk_room_member_id_user", "user", ["member_id"], ["id"])
    op.create_table(
        "staff_duty",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("since", server.kernel.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"]),
        sa.PrimaryKeyConstraint("user_id"),
    )


def downgrade() -> None:
    op.drop_table("staff_duty")
    with op.batch_alter_table("room") as batch:
        batch.drop_constraint("fk_room_member_id_user", type_="foreignkey")
        batch.drop_index("ix_room_member_id")
        batch.drop_column("member_id")
    with op.batch_alter_table("alert") as batch:
        batch.drop_constraint("fk_alert_support_room_id_room", type_="foreignkey")
        for column in reversed(ALERT_COLUMNS):
            batch.drop_column(column.name)
