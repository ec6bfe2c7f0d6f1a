"""kept sign-ins: the renewal cookie's digests and how long it lasts

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 18:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import server.kernel.db

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("user_session") as batch:
        batch.add_column(
            sa.Column("refresh_digest", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
        batch.add_column(
            sa.Column(
                "refresh_previous_digest",
                sqlmodel.sql.sqltypes.AutoString(length=64),
                nullable=True,
            )
        )
        batch.add_column(
            sa.Column("refresh_rotated_at", server.kernel.db.UTCDateTime(), nullable=True)
        )
        batch.add_column(
            sa.Column("remembered_until", server.kernel.db.UTCDateTime(), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("user_session") as batch:
        batch.drop_column("remembered_until")
        batch.drop_column("refresh_rotated_at")
        batch.drop_column("refresh_previous_digest")
        batch.drop_column("refresh_digest")
