"""The table and inputs of consent notices (docs/privacy.md: "Consent")."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field as InputField
from pydantic import StringConstraints
from sqlalchemy import Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from server.kernel.db import UTCDateTime
from server.kernel.validation import BeforeCursor, InputModel, PositiveId

VERSION_CHARS = 64
# Where an acceptance was given: the registration form, or the screen shown after a sign-in
# while a newer notice waits.
ConsentSource = Literal["registration", "sign-in"]


class ConsentAcceptance(SQLModel, table=True):
    """One person's acceptance of one version of the notice: kept, never changed."""

    __tablename__ = "consent_acceptance"
    __table_args__ = (UniqueConstraint("user_id", "version", name="uq_consent_acceptance"),)

    id: int | None = Field(default=None, primary_key=True)
    # Looked up by (user_id, version): the unique constraint's index serves.
    user_id: int = Field(foreign_key="user.id")
    version: str = Field(max_length=VERSION_CHARS)
    accepted_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    source: str = Field(max_length=16)


# ----- inputs -----

Version = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=VERSION_CHARS)
]


class ConsentIn(InputModel):
    """The version of the notice the person read and accepts."""

    version: Version


class AcceptancesQuery(InputModel):
    """Acceptances, newest first: one person's (`user_id`) or everyone's, a page at a time."""

    user_id: PositiveId | None = None
    before: BeforeCursor | None = None
    limit: Annotated[int, InputField(ge=1, le=1000)] = 100
