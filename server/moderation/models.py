"""Moderation tables and the validated inputs of the moderation endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field as InputField
from pydantic import StringConstraints
from sqlalchemy import Column, Index, Text
from sqlmodel import Field, SQLModel

from server.kernel.db import UTCDateTime
from server.kernel.validation import BeforeCursor, InputModel, PositiveId, UtcTime

# A week: longer removals are bans, which may be open-ended.
MAX_MUTE_MINUTES = 7 * 24 * 60
# A year: an open-ended ban is given by leaving `minutes` out.
MAX_BAN_MINUTES = 365 * 24 * 60
EXCERPT_CHARS = 200


class Restriction(SQLModel, table=True):
    """A mute or a ban of one user in one room, active until `until` (a ban may be forever)
    or until lifted."""

    __table_args__ = (Index("ix_restriction_room_user_kind", "room_id", "user_id", "kind"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=8)  # "mute" or "ban"
    room_id: int = Field(foreign_key="room.id")
    user_id: int = Field(foreign_key="user.id")
    reason: str = Field(default="", max_length=500)
    created_by: int = Field(foreign_key="user.id")
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    until: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    lifted_by: int | None = Field(default=None, foreign_key="user.id")
    lifted_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class Report(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    # None once retention deleted the message (privacy/retention_classes.py); the report's
    # alert keeps its excerpt.
    message_id: int | None = Field(default=None, foreign_key="message.id", index=True)
    room_id: int = Field(foreign_key="room.id")
    reporter_id: int = Field(foreign_key="user.id")
    reason: str = Field(max_length=500)
    status: str = Field(default="open", max_length=16, index=True)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    resolved_by: int | None = Field(default=None, foreign_key="user.id")
    resolved_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    note: str = Field(default="", max_length=1000)


class Alert(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=8)  # "crisis" or "report"
    # None only for a crisis post to a room that does not exist (a client's mistake).
    room_id: int | None = Field(default=None, foreign_key="room.id")
    message_id: int | None = Field(default=None, foreign_key="message.id")
    user_id: int = Field(foreign_key="user.id")
    excerpt: str = Field(sa_column=Column(Text, nullable=False))
    term: str = Field(default="", max_length=200)
    # A crisis alert's detection: category (suicide, self_harm, overdose, medical, relapse)
    # and severity (urgent, emergency). None for a report's alert.
    category: str | None = Field(default=None, max_length=24)
    severity: str | None = Field(default=None, max_length=12)
    # Who was reached when it was raised (Reach in alerts.py); "" until it is announced.
    reached: str = Field(default="", max_length=16)
    # How far up the on-call list it has been paged, and when last (escalation).
    page_step: int = 0
    paged_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    # The private support conversation staff opened from it (rooms: audience `person`).
    support_room_id: int | None = Field(default=None, foreign_key="room.id")
    report_id: int | None = Field(default=None, foreign_key="report.id")
    status: str = Field(default="open", max_length=16, index=True)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    raised_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    raise_count: int = 1
    acked_by: int | None = Field(default=None, foreign_key="user.id")
    acked_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    outcome: str | None = Field(default=None, max_length=24)
    note: str = Field(default="", max_length=1000)


class StaffDuty(SQLModel, table=True):
    """A member of staff who has said they are on duty: crisis alerts are theirs first."""

    __tablename__ = "staff_duty"

    user_id: int = Field(foreign_key="user.id", primary_key=True)
    since: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class AuditEntry(SQLModel, table=True):
    __table_args__ = (Index("ix_auditentry_room_id_id", "room_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    actor_id: int | None = Field(default=None, foreign_key="user.id")
    action: str = Field(max_length=40)
    target_user_id: int | None = Field(default=None, foreign_key="user.id")
    room_id: int | None = Field(default=None, foreign_key="room.id")
    message_id: int | None = Field(default=None)
    reason: str = Field(default="", max_length=1000)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


# ----- inputs -----

Reason = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]
Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)]


class MuteIn(InputModel):
    user_id: PositiveId
    minutes: Annotated[int, InputField(ge=1, le=MAX_MUTE_MINUTES)]
    reason: Reason


class KickIn(InputModel):
    user_id: PositiveId
    reason: Reason


class BanIn(InputModel):
    user_id: PositiveId
    reason: Reason
    minutes: Annotated[int, InputField(ge=1, le=MAX_BAN_MINUTES)] | None = None


class ReportIn(InputModel):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class ResolveIn(InputModel):
    resolution: Literal["dismissed", "actioned"]
    note: Note = ""


# What staff did about an alert, said when acknowledging it.
ALERT_OUTCOMES = ("reached_out", "emergency_services", "not_a_crisis", "other")
AlertOutcome = Literal["reached_out", "emergency_services", "not_a_crisis", "other"]


class AckIn(InputModel):
    outcome: AlertOutcome | None = None
    note: Note = ""


class DutyIn(InputModel):
    on_duty: bool


class AuditQuery(InputModel):
    """The audit log's filters (query parameters): a room, a person (as the one who acted or
    the one acted on), an action, a time range (`since` inclusive, `until` exclusive)."""

    room_id: PositiveId | None = None
    user_id: PositiveId | None = None
    action: Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)] = ""
    since: UtcTime | None = None
    until: UtcTime | None = None
    before: BeforeCursor | None = None
    limit: Annotated[int, InputField(ge=1, le=1000)] = 100
