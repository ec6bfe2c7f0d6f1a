"""The classes of records retention deletes, each with its own period (docs/privacy.md): which
rows are in it, the time its period counts from, what a legal hold in force covers, and what
an open case keeps. Everything here is SQL built once; the holds are read by the statements
that use them, so a hold placed during a run protects from its next batch on."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, false, func, or_, true, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, aliased
from sqlmodel import SQLModel, col, select

from server.moderation.models import Alert, AuditEntry, Report
from server.privacy.retention_models import LegalHold
from server.rooms.models import Audience, Message, MessageMention, Reaction, Room

# What to do, in the deleting transaction, before rows of a class go: the links other rows
# keep to them.
Unlink = Callable[[AsyncSession, Sequence[int]], Awaitable[None]]


@dataclass(frozen=True)
class RecordClass:
    name: str
    model: type[SQLModel]
    id_column: Mapped[int | None]
    members: ColumnElement[bool]
    # When the period starts: a message's sending, a closed case's closing.
    age: ColumnElement[datetime] | Mapped[datetime]
    held: ColumnElement[bool]
    # Past its period, yet kept while a case about it is open.
    kept_open: ColumnElement[bool]
    unlink: Unlink

    def past_period(self, cutoff: datetime) -> ColumnElement[bool]:
        return and_(self.members, self.age < cutoff)

    def due(self, cutoff: datetime) -> ColumnElement[bool]:
        """Deleted by a run now: past its period, under no hold, about no open case."""
        return and_(self.past_period(cutoff), ~self.held, ~self.kept_open)

    def held_back(self, cutoff: datetime) -> ColumnElement[bool]:
        """Past its period, kept by a legal hold."""
        return and_(self.past_period(cutoff), self.held)

    def kept_for_open_case(self, cutoff: datetime) -> ColumnElement[bool]:
        """Past its period and under no hold, kept while a case about it is open."""
        return and_(self.past_period(cutoff), ~self.held, self.kept_open)


# ----- what legal holds in force cover -----

_IN_FORCE = col(LegalHold.lifted_at).is_(None)
HELD_ROOMS = select(LegalHold.room_id).where(_IN_FORCE, col(LegalHold.room_id).is_not(None))
HELD_PEOPLE = select(LegalHold.user_id).where(_IN_FORCE, col(LegalHold.user_id).is_not(None))
# A person's private support conversation is part of their record, staff's replies included.
SUPPORT_ROOMS_OF_HELD_PEOPLE = select(Room.id).where(
    col(Room.audience) == Audience.PERSON, col(Room.member_id).in_(HELD_PEOPLE)
)


def _held(column: Any, held: Any) -> ColumnElement[bool]:
    # Never NULL: NOT (NULL IN ...) would keep a row with no room (or no person) from going.
    return and_(column.is_not(None), column.in_(held))


def held_room(column: Any) -> ColumnElement[bool]:
    return _held(column, HELD_ROOMS)


def held_person(column: Any) -> ColumnElement[bool]:
    return _held(column, HELD_PEOPLE)


# ----- messages, by the kind of room -----


async def unlink_messages(session: AsyncSession, ids: Sequence[int]) -> None:
    """Reactions and mentions go with their messages; alerts and reports stay (their own
    class), keeping their own excerpt and no longer pointing at the message. Replies to a
    message keep its id and show it deleted (rooms/replies.py)."""
    await session.execute(delete(Reaction).where(col(Reaction.message_id).in_(ids)))
    await session.execute(delete(MessageMention).where(col(MessageMention.message_id).in_(ids)))
    await session.execute(
        update(Alert).where(col(Alert.message_id).in_(ids)).values(message_id=None)
    )
    await session.execute(
        update(Report).where(col(Report.message_id).in_(ids)).values(message_id=None)
    )


_OPEN_ALERT_ON_MESSAGE = (
    select(Alert.id)
    .where(col(Alert.message_id) == col(Message.id), col(Alert.status) == "open")
    .exists()
)
_OPEN_REPORT_ON_MESSAGE = (
    select(Report.id)
    .where(col(Report.message_id) == col(Message.id), col(Report.status) == "open")
    .exists()
)


def message_class(name: str, rooms: ColumnElement[bool]) -> RecordClass:
    return RecordClass(
        name=name,
        model=Message,
        id_column=col(Message.id),
        members=col(Message.room_id).in_(select(Room.id).where(rooms)),
        age=col(Message.created_at),
        held=or_(
            held_room(Message.room_id),
            held_person(Message.author_id),
            col(Message.room_id).in_(SUPPORT_ROOMS_OF_HELD_PEOPLE),
        ),
        kept_open=or_(_OPEN_ALERT_ON_MESSAGE, _OPEN_REPORT_ON_MESSAGE),
        unlink=unlink_messages,
    )


def _shared_room_of_kind(kind: str) -> ColumnElement[bool]:
    return and_(col(Room.audience) != Audience.PERSON, col(Room.kind) == kind)


GROUP_MESSAGES = message_class("group_messages", _shared_room_of_kind("group"))
PEER_MESSAGES = message_class("peer_messages", _shared_room_of_kind("peer"))
MEETING_MESSAGES = message_class("meeting_messages", _shared_room_of_kind("meeting"))
SUPPORT_MESSAGES = message_class("support_messages", col(Room.audience) == Audience.PERSON)


# ----- alerts and reports: closed ones only -----


async def nothing_links_here(_session: AsyncSession, _ids: Sequence[int]) -> None:
    return None


_writers_alert = aliased(Alert)
# While a person has an alert open, none of theirs goes: staff working it may need the rest.
_WRITER_HAS_AN_OPEN_ALERT = (
    select(_writers_alert.id)
    .where(col(_writers_alert.user_id) == col(Alert.user_id), col(_writers_alert.status) == "open")
    .exists()
)

ALERTS = RecordClass(
    name="alerts",
    model=Alert,
    id_column=col(Alert.id),
    members=true(),
    # An acknowledged alert counts from its acknowledgement, a merged one from its raising.
    age=func.coalesce(col(Alert.acked_at), col(Alert.created_at)),
    held=or_(held_room(Alert.room_id), held_person(Alert.user_id)),
    kept_open=_WRITER_HAS_AN_OPEN_ALERT,
    unlink=nothing_links_here,
)


async def unlink_reports(session: AsyncSession, ids: Sequence[int]) -> None:
    await session.execute(update(Alert).where(col(Alert.report_id).in_(ids)).values(report_id=None))


ALERT_OF_REPORT = col(Alert.report_id) == col(Report.id)

REPORTS = RecordClass(
    name="reports",
    model=Report,
    id_column=col(Report.id),
    members=true(),
    age=func.coalesce(col(Report.resolved_at), col(Report.created_at)),
    held=or_(
        held_room(Report.room_id),
        held_person(Report.reporter_id),
        # About a held person: their message (or, once it is gone, its alert names them).
        select(Message.id)
        .where(col(Message.id) == col(Report.message_id), held_person(Message.author_id))
        .exists(),
        select(Alert.id).where(ALERT_OF_REPORT, held_person(Alert.user_id)).exists(),
    ),
    kept_open=or_(
        col(Report.status) == "open",
        select(Alert.id).where(ALERT_OF_REPORT, col(Alert.status) == "open").exists(),
    ),
    unlink=unlink_reports,
)


# ----- the audit log -----

AUDIT_ENTRIES = RecordClass(
    name="audit_entries",
    model=AuditEntry,
    id_column=col(AuditEntry.id),
    members=true(),
    age=col(AuditEntry.created_at),
    # About a held room or person: in the room, done to them, or done by them.
    held=or_(
        held_room(AuditEntry.room_id),
        held_person(AuditEntry.target_user_id),
        held_person(AuditEntry.actor_id),
    ),
    kept_open=false(),
    unlink=nothing_links_here,
)

# In the order a run deletes them: messages before the cases about them.
RECORD_CLASSES: tuple[RecordClass, ...] = (
    GROUP_MESSAGES,
    PEER_MESSAGES,
    MEETING_MESSAGES,
    SUPPORT_MESSAGES,
    ALERTS,
    REPORTS,
    AUDIT_ENTRIES,
)
