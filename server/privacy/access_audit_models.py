"""The table and inputs of the access audit (docs/privacy.md: "The access audit")."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field as InputField
from sqlalchemy import Column, Index
from sqlmodel import Field, SQLModel

from server.kernel.db import UTCDateTime
from server.kernel.validation import BeforeCursor, InputModel, PositiveId, UtcTime

# What staff read: the alert list, the report queue, a person's page, attendance (of one
# occurrence, or over a range), a person's data export.
AccessKind = Literal["alerts", "reports", "person", "attendance", "export"]
# What a read was about, when it was about one thing: a person, a meeting, a cohort.
TargetType = Literal["user", "meeting", "cohort"]
DETAIL_CHARS = 200
REQUEST_ID_CHARS = 80


class AccessRecord(SQLModel, table=True):
    """One read by staff of what peerrooms keeps about people: who, what, when, from which
    request. Kept apart from the moderation audit log, which it would flood."""

    __tablename__ = "access_log"
    __table_args__ = (Index("ix_access_log_target", "target_type", "target_id"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))
    actor_id: int = Field(foreign_key="user.id", index=True)
    kind: str = Field(max_length=16)
    target_type: str | None = Field(default=None, max_length=16)
    target_id: int | None = Field(default=None)
    # What the read asked for beyond its target (its query: a status, a range, csv).
    detail: str = Field(default="", max_length=DETAIL_CHARS)
    request_id: str = Field(default="", max_length=REQUEST_ID_CHARS)


# ----- inputs -----


class AccessLogQuery(InputModel):
    """The access log's filters (query parameters): who read, what kind, about what, when
    (`since` inclusive, `until` exclusive); a page at a time."""

    actor_id: PositiveId | None = None
    kind: AccessKind | None = None
    target_type: TargetType | None = None
    target_id: PositiveId | None = None
    since: UtcTime | None = None
    until: UtcTime | None = None
    before: BeforeCursor | None = None
    limit: Annotated[int, InputField(ge=1, le=1000)] = 100
