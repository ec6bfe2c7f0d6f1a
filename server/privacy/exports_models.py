"""Tables and inputs of a person's export and of erasure (docs/privacy.md: "A person's export"
and "Erasure")."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import StringConstraints
from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel

from server.kernel.db import UTCDateTime
from server.kernel.validation import InputModel, PositiveId

NOTE_CHARS = 500


class ExportStatus(StrEnum):
    PENDING = "pending"
    READY = "ready"
    FAILED = "failed"
    # Past its expiry: the content is deleted, the row stays as the record of the request.
    EXPIRED = "expired"


class PersonalExport(SQLModel, table=True):
    """Everything peerrooms holds about one person, made in the background on request.

    The content is kept here, in the database, not in a file: every process behind the load
    balancer can answer its download, it goes with the database's own protection and access
    rules, and deleting it at expiry is an UPDATE that cannot leave a stray file behind."""

    __tablename__ = "personal_export"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    requested_by: int | None = Field(default=None, foreign_key="user.id")
    status: str = Field(default=ExportStatus.PENDING, max_length=8)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    ready_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    expires_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    # The export as JSON text; null until it is ready, and again once it has expired.
    content: str | None = Field(default=None, sa_column=Column(Text))


class ErasureStatus(StrEnum):
    PENDING = "pending"
    DECLINED = "declined"
    ERASED = "erased"


class ErasureRequest(SQLModel, table=True):
    """A request to erase a person, made by them or by staff on their behalf: nothing is
    erased until an admin approves it."""

    __tablename__ = "erasure_request"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    requested_by: int | None = Field(default=None, foreign_key="user.id")
    # The requester's words; emptied when the person is erased and their words are replaced.
    reason: str = Field(default="", max_length=NOTE_CHARS)
    status: str = Field(default=ErasureStatus.PENDING, max_length=8, index=True)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    decided_by: int | None = Field(default=None, foreign_key="user.id")
    decided_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    # The admin's note with the decision.
    note: str = Field(default="", max_length=NOTE_CHARS)


# ----- inputs -----

Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=NOTE_CHARS)]


class DownloadQuery(InputModel):
    format: Literal["json", "html"] = "json"


class ErasureRequestIn(InputModel):
    """Why, in the requester's words (optional)."""

    reason: Note = ""


class ErasureDecisionIn(InputModel):
    note: Note = ""


class ErasureQuery(InputModel):
    status: Literal["pending", "declined", "erased", "all"] = "pending"
    user_id: PositiveId | None = None
