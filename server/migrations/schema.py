"""The schema every migration is compared against: each feature's tables.

It lives with the migrations, not in the kernel, because it must know every feature; the
kernel's migration runner (`kernel/migrate.py`) only needs the folder of revisions."""

from __future__ import annotations

from sqlalchemy import MetaData
from sqlmodel import SQLModel

import server.accounts.models
import server.media.models
import server.meetings.models
import server.moderation.models
import server.notify.models
import server.privacy.access_audit_models
import server.privacy.consent_models
import server.privacy.exports_models
import server.privacy.retention_models
import server.rooms.models  # noqa: F401 - imported for their tables


def schema_metadata() -> MetaData:
    """The metadata of every table (their modules are imported above)."""
    return SQLModel.metadata


# What migrations keep that no model can say, left out when the database is compared with
# the models: the full-text index of message bodies (0017: on SQLite an FTS5 table and its
# shadow tables, on PostgreSQL a generated column and its GIN index).
OUTSIDE_THE_MODELS = {
    "table": ("message_search",),
    "column": ("body_search",),
    "index": ("ix_message_search",),
}


def in_the_models(name: str | None, type_: str, parent_names: object) -> bool:
    """Alembic's `include_name`: whether autogenerate compares this table, column or index
    (an FTS5 table's shadow tables are named after it)."""
    kept = OUTSIDE_THE_MODELS.get(type_, ())
    return name is None or not any(name == each or name.startswith(f"{each}_") for each in kept)
