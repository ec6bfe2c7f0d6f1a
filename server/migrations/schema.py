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
