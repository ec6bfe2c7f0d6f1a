"""Video call tables and the validated inputs of the video endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import StringConstraints
from sqlalchemy import BigInteger, Column, ForeignKey
from sqlmodel import Field, SQLModel

from server.kernel.db import UTCDateTime
from server.kernel.validation import InputModel, PositiveId
from server.moderation.models import Reason


class VideoCall(SQLModel, table=True):
    """One occurrence's call on the media server: opened by its first pass, ended with the
    occurrence or by a moderator. Ended, it takes no one in again."""

    __tablename__ = "video_call"

    # The Janus room number (media/service.py's room_number): above 2**31, so BIGINT.
    room: int = Field(sa_column=Column(BigInteger(), primary_key=True, autoincrement=False))
    series_id: int = Field(foreign_key="meetingseries.id", index=True)
    occurrence: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    opened_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    ended_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    ended_by: int | None = Field(default=None, foreign_key="user.id")
    end_reason: str = Field(default="", max_length=500)


class VideoPass(SQLModel, table=True):
    """One person's way into one call: the token Janus knows and lists in the room's
    `allowed` list, and the participant id (`feed_id`, this row's id) they join with. Kept in
    the database so any process can revoke it."""

    __tablename__ = "video_pass"

    id: int | None = Field(default=None, primary_key=True)
    room: int = Field(
        sa_column=Column(BigInteger(), ForeignKey("video_call.room"), nullable=False, index=True)
    )
    user_id: int = Field(foreign_key="user.id", index=True)
    token: str = Field(max_length=64, unique=True)
    issued_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    hand_raised_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    revoked_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    # "removed" (by a moderator: no new pass for this call), "kicked", "banned", "access"
    # (graduated or moved to another cohort), "deactivated", "ended",
    # "unavailable" (the media server did not take it).
    revoked_reason: str = Field(default="", max_length=16)


class HandIn(InputModel):
    raised: bool


class CallMuteIn(InputModel):
    feed_id: PositiveId
    # The media line of the participant's microphone, as Janus lists their streams.
    mid: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=16)]
    muted: bool
    reason: Reason


class CallRemoveIn(InputModel):
    feed_id: PositiveId
    reason: Reason


class CallEndIn(InputModel):
    reason: Reason
