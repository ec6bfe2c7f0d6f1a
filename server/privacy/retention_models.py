"""Tables and inputs of retention and legal holds (docs/privacy.md: "How long records are kept,
and legal holds")."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import StringConstraints, model_validator
from sqlalchemy import CheckConstraint, Column
from sqlmodel import Field, SQLModel

from server.kernel.db import UTCDateTime
from server.kernel.validation import InputModel, PositiveId

HOLD_REASON_CHARS = 500


class LegalHold(SQLModel, table=True):
    """A hold on one room or one person: while it is in force (not lifted), retention deletes
    nothing it covers (docs/privacy.md)."""

    __tablename__ = "legal_hold"
    __table_args__ = (
        CheckConstraint("(room_id IS NULL) <> (user_id IS NULL)", name="ck_legal_hold_one_target"),
    )

    id: int | None = Field(default=None, primary_key=True)
    room_id: int | None = Field(default=None, foreign_key="room.id", index=True)
    user_id: int | None = Field(default=None, foreign_key="user.id", index=True)
    reason: str = Field(max_length=HOLD_REASON_CHARS)
    placed_by: int | None = Field(default=None, foreign_key="user.id")
    placed_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    lifted_by: int | None = Field(default=None, foreign_key="user.id")
    lifted_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class JobClaim(SQLModel, table=True):
    """Which process runs a cluster-wide job (retention), until when, and when it last
    finished: one row per job, claimed with one conditional UPDATE (privacy/claims.py)."""

    __tablename__ = "job_claim"

    name: str = Field(primary_key=True, max_length=40)
    holder: str = Field(default="", max_length=64)
    lease_until: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    last_finished_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


# ----- inputs -----

Reason = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=HOLD_REASON_CHARS)
]


class HoldIn(InputModel):
    """A hold on a room or on a person: exactly one of the two."""

    room_id: PositiveId | None = None
    user_id: PositiveId | None = None
    reason: Reason

    @model_validator(mode="after")
    def _one_target(self) -> HoldIn:
        if (self.room_id is None) == (self.user_id is None):
            raise ValueError("give either room_id or user_id, not both")
        return self


class LiftIn(InputModel):
    reason: Annotated[
        str, StringConstraints(strip_whitespace=True, max_length=HOLD_REASON_CHARS)
    ] = ""


class HoldsQuery(InputModel):
    status: Literal["active", "lifted", "all"] = "active"
