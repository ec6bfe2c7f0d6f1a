"""Room and message tables, and the validated inputs of every rooms endpoint and event."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field as InputField
from pydantic import StringConstraints, model_validator
from sqlalchemy import Column, ForeignKey, Index, Integer, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from server.kernel.db import UTCDateTime
from server.kernel.validation import BeforeCursor, InputModel, PositiveId, SinceCursor

# Contract limits (docs/api/events/: rooms and messages).
MAX_BODY_CHARS = 4000
MAX_CLIENT_ID_CHARS = 64
# A reply's quote of its original: this many characters of its current text.
REPLY_EXCERPT_CHARS = 120
# People one message may mention (`send`'s `mentions`).
MAX_MENTIONS = 20
HISTORY_DEFAULT_LIMIT = 50
HISTORY_MAX_LIMIT = 100
JOIN_LATEST_LIMIT = 50
JOIN_SINCE_LIMIT = 200
# Messages one room may have pinned at once (rooms/pins.py): a short list people read.
MAX_PINS = 10


class Audience(StrEnum):
    COHORT = "cohort"
    ALUMNI = "alumni"
    EVERYONE = "everyone"
    # One person (member_id) and staff: a private support conversation.
    PERSON = "person"


class Room(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=80)
    kind: str = Field(max_length=16)
    audience: str = Field(max_length=16)
    cohort_id: int | None = Field(default=None, foreign_key="cohort.id", index=True)
    # The one member of a room whose audience is `person`, besides staff.
    member_id: int | None = Field(default=None, foreign_key="user.id", index=True)
    topic: str = Field(default="", max_length=500)
    locked: bool = False
    slow_mode_s: int = 0
    # What happens to phone numbers and e-mail addresses in posts: allow, mask or block.
    contact_policy: str = Field(default="mask", max_length=8)
    # How much of the room's history a member may read (rooms/visibility.py).
    history_visibility: str = Field(default="all", max_length=16)
    # Archived by staff: closed to members and to every post, its history kept for staff,
    # exports and retention (rooms/policy.py).
    archived_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    created_by: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


def room_with(room: Room, **changes: object) -> Room:
    """A copy of the room, in no session, with these columns changed: what it would be."""
    return Room.model_validate({**room.model_dump(), **changes})


class Message(SQLModel, table=True):
    __table_args__ = (
        # The idempotency key of `send`: one message per (author, room, client_id).
        UniqueConstraint("author_id", "room_id", "client_id", name="uq_message_client_id"),
        # History and `join since` page by id within one room.
        Index("ix_message_room_id_id", "room_id", "id"),
        # Where a member's readable history begins: one seek for the last message before a
        # moment (rooms/visibility.py), however long the room's history.
        Index("ix_message_room_id_created_at", "room_id", "created_at", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    room_id: int = Field(foreign_key="room.id")
    author_id: int = Field(foreign_key="user.id")
    body: str = Field(sa_column=Column(Text, nullable=False))
    client_id: str = Field(max_length=MAX_CLIENT_ID_CHARS)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    edited_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    deleted: bool = False
    # The message of the same room this one replies to (rooms/replies.py). No foreign key:
    # retention deletes an original while replies to it stay, which then show it as deleted.
    reply_to_id: int | None = None


class MessageMention(SQLModel, table=True):
    """Someone a message mentions (`send`'s `mentions`, rooms/replies.py): a person who may
    be in the room, named in its text. Gone with its message."""

    __tablename__ = "message_mention"

    message_id: int = Field(foreign_key="message.id", primary_key=True)
    user_id: int = Field(foreign_key="user.id", primary_key=True)


class Reaction(SQLModel, table=True):
    message_id: int = Field(foreign_key="message.id", primary_key=True)
    user_id: int = Field(foreign_key="user.id", primary_key=True)
    emoji: str = Field(primary_key=True, max_length=32)


class ReadMarker(SQLModel, table=True):
    """How far a user has read in a room, so unread counts agree across their devices."""

    __tablename__ = "read_marker"

    user_id: int = Field(foreign_key="user.id", primary_key=True)
    room_id: int = Field(foreign_key="room.id", primary_key=True)
    last_read_id: int = 0


class PinnedMessage(SQLModel, table=True):
    """A message staff pinned in its room (rooms/pins.py): the group's agreements, the
    session's topic. Retention deleting the message deletes its pin with it (the database
    cascades, so no retention class needs to know of pins)."""

    __tablename__ = "pinned_message"
    __table_args__ = (Index("ix_pinned_message_room_id", "room_id"),)

    # In the order they were pinned: pins made in the same instant keep it too.
    id: int | None = Field(default=None, primary_key=True)
    message_id: int = Field(
        sa_column=Column(
            Integer,
            ForeignKey("message.id", ondelete="CASCADE"),
            nullable=False,
            unique=True,
        )
    )
    room_id: int = Field(foreign_key="room.id")
    pinned_by: int = Field(foreign_key="user.id")
    pinned_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


# ----- inputs -----

ContactPolicy = Literal["allow", "mask", "block"]
# rooms/visibility.py: from when a member, staff aside, may read a room's history.
HistoryVisibility = Literal["since_joined", "all", "since_session"]
Body = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_BODY_CHARS),
]


RoomName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
RoomKind = Literal["group", "peer", "meeting"]
RoomAudience = Literal["cohort", "alumni", "everyone"]
Topic = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]
# Seconds a member waits between two posts in the room (moderation's SlowModeGate).
SlowMode = Annotated[int, InputField(ge=0, le=3600)]


def audience_problem(kind: str, audience: str, cohort_id: int | None) -> tuple[str, str] | None:
    """What is wrong with who a room of this kind is for, as (the field, a sentence), or
    None: the one rule of creating a room and of changing one."""
    if audience == "cohort" and cohort_id is None:
        return "cohort_id", "cohort_id is required when audience is 'cohort'"
    if audience != "cohort" and cohort_id is not None:
        return "cohort_id", "cohort_id is only for rooms whose audience is 'cohort'"
    if kind == "group" and audience != "cohort":
        return "audience", "a group room's audience must be 'cohort'"
    return None


class RoomIn(InputModel):
    name: RoomName
    kind: RoomKind
    audience: RoomAudience
    cohort_id: PositiveId | None = None
    topic: Topic = ""
    slow_mode_s: SlowMode = 0
    contact_policy: ContactPolicy = "mask"
    # None: the kind's default (rooms/visibility.py: default_visibility).
    history_visibility: HistoryVisibility | None = None

    @model_validator(mode="after")
    def _audience_fits(self) -> RoomIn:
        problem = audience_problem(self.kind, self.audience, self.cohort_id)
        if problem is not None:
            raise ValueError(problem[1])
        return self


class RoomPatch(InputModel):
    """What staff change of a room; each field left out stays as it is. Whether a new kind,
    audience or cohort fits the room is the service's to say (rooms/reshape.py): it depends
    on the room as it is."""

    name: RoomName | None = None
    locked: bool | None = None
    slow_mode_s: SlowMode | None = None
    topic: Topic | None = None
    contact_policy: ContactPolicy | None = None
    history_visibility: HistoryVisibility | None = None
    kind: RoomKind | None = None
    # A new audience; `cohort_id` goes with `cohort` (and only with it). The cohort of a
    # cohort's room may change alone.
    audience: RoomAudience | None = None
    cohort_id: PositiveId | None = None
    archived: bool | None = None


class RoomsQuery(InputModel):
    """`active` (the default): the rooms not archived; `all`: archived ones too (staff
    only ever see those)."""

    status: Literal["active", "all"] = "active"


class RoomRef(InputModel):
    room_id: PositiveId


class JoinIn(RoomRef):
    since: SinceCursor | None = None


class SendIn(RoomRef):
    body: Body
    client_id: Annotated[str, StringConstraints(min_length=1, max_length=MAX_CLIENT_ID_CHARS)]
    # A message of the same room the sender may read (rooms/replies.py).
    reply_to: PositiveId | None = None
    # People named in `body` as `@display name`; those who may not be in the room, or whose
    # name the body does not hold, are silently no mention (rooms/replies.py).
    mentions: Annotated[list[PositiveId], InputField(max_length=MAX_MENTIONS)] = []


class MessageRef(InputModel):
    message_id: PositiveId


class EditIn(MessageRef):
    body: Body


class ReactIn(MessageRef):
    emoji: Annotated[str, StringConstraints(min_length=1, max_length=32)]


class HistoryIn(RoomRef):
    before: BeforeCursor | None = None
    limit: Annotated[int, InputField(ge=1, le=HISTORY_MAX_LIMIT)] = HISTORY_DEFAULT_LIMIT


class HistoryQuery(InputModel):
    """The query string of GET /api/rooms/{id}/messages, after conversion to integers."""

    before: BeforeCursor | None = None
    limit: Annotated[int, InputField(ge=1, le=HISTORY_MAX_LIMIT)] = HISTORY_DEFAULT_LIMIT


class PinIn(RoomRef):
    """A message of the room, to pin or unpin (rooms/pins.py)."""

    message_id: PositiveId
