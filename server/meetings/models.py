"""Meeting tables and the validated inputs of the meetings endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, StringConstraints, field_validator
from pydantic import Field as InputField
from sqlalchemy import Column, Index
from sqlmodel import Field, SQLModel

from server.kernel.db import UTCDateTime
from server.kernel.links import link_problem
from server.kernel.validation import InputModel, PositiveId, UtcTime

# A session longer than 12 hours is a typing mistake, not an IOP group.
MAX_DURATION_MINUTES = 12 * 60
MAX_LOBBY_MINUTES = 120
LOCAL_FORMAT = "%Y-%m-%dT%H:%M:%S"


class MeetingSeries(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=120)
    room_id: int = Field(foreign_key="room.id", index=True)
    rrule: str = Field(max_length=500)
    # The local wall-clock start of the first occurrence, without offset (LOCAL_FORMAT).
    starts_at: str = Field(max_length=19)
    timezone: str = Field(max_length=64)
    duration_minutes: int
    lobby_minutes: int
    video_url: str | None = Field(default=None, max_length=500)
    created_by: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class Cancellation(SQLModel, table=True):
    series_id: int = Field(foreign_key="meetingseries.id", primary_key=True)
    occurrence: datetime = Field(sa_column=Column(UTCDateTime(), primary_key=True))
    # What members were told, as staff wrote it.
    reason: str = Field(default="", max_length=300)


class MovedOccurrence(SQLModel, table=True):
    """One occurrence held at another time than its rule gives (RFC 5545's RECURRENCE-ID)."""

    __tablename__ = "moved_occurrence"

    series_id: int = Field(foreign_key="meetingseries.id", primary_key=True)
    # The start the rule gives (UTC); the occurrence is known by `moved_to` from then on.
    occurrence: datetime = Field(sa_column=Column(UTCDateTime(), primary_key=True))
    moved_to: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    reason: str = Field(default="", max_length=300)


class Transition(SQLModel, table=True):
    """A lifecycle notice (lobby, live, ended) of one occurrence, claimed by the process that
    sends it: the primary key makes a second claim fail, so each goes out once."""

    series_id: int = Field(foreign_key="meetingseries.id", primary_key=True)
    occurrence: datetime = Field(sa_column=Column(UTCDateTime(), primary_key=True))
    kind: str = Field(primary_key=True, max_length=8)
    claimed_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class PresenceSpan(SQLModel, table=True):
    """One socket's time in a meeting room, from join to leave (open while it is there)."""

    __table_args__ = (Index("ix_presencespan_room_user", "room_id", "user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    room_id: int = Field(foreign_key="room.id")
    user_id: int = Field(foreign_key="user.id")
    conn_id: str = Field(max_length=64, index=True)
    joined_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    left_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class CheckIn(SQLModel, table=True):
    series_id: int = Field(foreign_key="meetingseries.id", primary_key=True)
    occurrence: datetime = Field(sa_column=Column(UTCDateTime(), primary_key=True))
    user_id: int = Field(foreign_key="user.id", primary_key=True)
    mood: int
    note: str = Field(default="", max_length=500)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class CalendarToken(SQLModel, table=True):
    user_id: int = Field(foreign_key="user.id", primary_key=True)
    token: str = Field(unique=True, index=True, max_length=64)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


# ----- inputs -----


def _local_wall_clock(value: str) -> str:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("use a local date and time such as 2026-11-23T18:00:00") from None
    if moment.tzinfo is not None:
        raise ValueError("give the local wall-clock time without an offset; see timezone")
    return moment.strftime(LOCAL_FORMAT)


# A start on a series' wall clock, without offset: the series' zone places it.
LocalStart = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=40),
    AfterValidator(_local_wall_clock),
]


class MeetingIn(InputModel):
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
    room_id: PositiveId
    rrule: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
    starts_at: LocalStart
    timezone: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    duration_minutes: Annotated[int, InputField(ge=1, le=MAX_DURATION_MINUTES)]
    lobby_minutes: Annotated[int, InputField(ge=0, le=MAX_LOBBY_MINUTES)] = 15
    video_url: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = (
        None
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("use an IANA time zone name such as America/Chicago") from None
        return value

    @field_validator("video_url")
    @classmethod
    def _web_link(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        problem = link_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value


class MeetingPatch(InputModel):
    """What staff change about a series (the room stays); each given field replaces the
    series' own, and the whole is checked as a new series would be."""

    title: str | None = None
    rrule: str | None = None
    starts_at: str | None = None
    timezone: str | None = None
    duration_minutes: int | None = None
    lobby_minutes: int | None = None
    video_url: str | None = None


class CancelIn(InputModel):
    occurrence: Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)]
    # Told to the members with the cancellation ("Back on Thursday as usual.").
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)] = ""


class MoveIn(InputModel):
    """Hold one occurrence (named by its current UTC start) at another local time."""

    occurrence: Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)]
    # The new start on the series' wall clock, as `starts_at` of a series.
    starts_at: LocalStart
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)] = ""


class AttendanceQuery(InputModel):
    """Attendance over a date range (query parameters): a cohort's meetings or one meeting,
    the occurrences that started in [since, until)."""

    cohort_id: PositiveId | None = None
    meeting_id: PositiveId | None = None
    since: UtcTime
    until: UtcTime


class CheckInIn(InputModel):
    mood: Annotated[int, InputField(ge=1, le=5)]
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] = ""
