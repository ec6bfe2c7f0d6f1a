"""the daily email digest: who asked for it, and how far the last one looked

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 19:00:00
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Server defaults give the rows already there a value: digests off until asked for, and
# nothing looked at yet.
DIGEST_COLUMNS: tuple[sa.Column[Any], ...] = (
    sa.Column("email_digest", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("digest_through_id", sa.Integer(), nullable=False, server_default="0"),
)


def upgrade() -> None:
    # batch mode: SQLite cannot add a NOT NULL column in place on every version.
    with op.batch_alter_table("notification_settings") as batch:
        for column in DIGEST_COLUMNS:
            batch.add_column(column)


def downgrade() -> None:
    with op.batch_alter_table("notification_settings") as batch:
        for column in reversed(DIGEST_COLUMNS):
            batch.drop_column(column.name)
