"""Every database read and write of rooms, messages and reactions."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple, TypedDict

from sqlalchemy import Select, bindparam, case, delete, func, insert, or_
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql import ColumnElement
from sqlmodel import col, select

from server.accounts.models import CohortMembership, User
from server.kernel.actors import Role
from server.kernel.hotpath.statements import HotStatement, insert_returning_id
from server.kernel.hotpath.writer import Rows, Write
from server.rooms.models import (
    REPLY_EXCERPT_CHARS,
    Audience,
    Message,
    MessageMention,
    Reaction,
    ReadMarker,
    Room,
)

MessageRow = tuple[Message, User]


async def get_room(session: AsyncSession, room_id: int) -> Room | None:
    result = await session.execute(select(Room).where(Room.id == room_id))
    return result.scalars().first()


# The hottest statements are built once (building a statement costs more than running it),
# and run straight on the driver (kernel/hotpath/).

# A send's turn on its room, on PostgreSQL (kernel/hotpath/writer.py): the room's row locked
# until the commit, so sends to one room commit in id order and a reader paging by id never
# skips a late commit. FOR NO KEY UPDATE still serialises sends to the room, but does not
# block rows elsewhere that merely reference it (audit entries written meanwhile).
ROOM_TURN = HotStatement(
    select(Room.id).where(Room.id == bindparam("key")).with_for_update(key_share=True)
)


class NewMessage(TypedDict):
    """The columns a new message is stored with (the rest take their defaults)."""

    room_id: int
    author_id: int
    body: str
    client_id: str
    created_at: datetime
    deleted: bool


class NewReply(NewMessage):
    """A new message that replies to another (rooms/replies.py)."""

    reply_to_id: int


INSERT_MESSAGE = insert_returning_id(Message, tuple(NewMessage.__annotations__))
# A statement of its own, so a plain send binds exactly what it did before replies.
INSERT_REPLY = insert_returning_id(Message, tuple(NewReply.__annotations__))


def insert_taking_turn(columns: tuple[str, ...]) -> HotStatement:
    """The message inserted from its room's row, locked as ROOM_TURN locks it: on PostgreSQL
    the row is locked before the new id is drawn and freed when the statement commits, so
    one statement keeps the turn's order (kernel/hotpath/writer.py). No room, no row."""
    table = Message.__table__  # type: ignore[attr-defined]
    room_id = Room.__table__.c.id  # type: ignore[attr-defined]
    values = [
        room_id if name == "room_id" else bindparam(name, type_=table.c[name].type)
        for name in columns
    ]
    locked_room = (
        select(*values)
        .where(room_id == bindparam("room_id", type_=room_id.type))
        .with_for_update(key_share=True)
    )
    return HotStatement(insert(table).from_select(list(columns), locked_room).returning(table.c.id))


INSERT_MESSAGE_TAKING_TURN = insert_taking_turn(tuple(NewMessage.__annotations__))
INSERT_REPLY_TAKING_TURN = insert_taking_turn(tuple(NewReply.__annotations__))
INSERT_MENTION = HotStatement(
    insert(MessageMention.__table__),  # type: ignore[attr-defined]
    column_keys=("message_id", "user_id"),
)


def message_insert(values: NewMessage | NewReply) -> Write:
    """Stores a new message (INSERT … RETURNING, without the ORM's unit of work, which the
    hottest write does not need); its rows hold the new id (`inserted_id`)."""
    if "reply_to_id" in values:
        return Write(INSERT_REPLY, values, taking_turn=INSERT_REPLY_TAKING_TURN)
    return Write(INSERT_MESSAGE, values, taking_turn=INSERT_MESSAGE_TAKING_TURN)


def mention_insert(user_id: int) -> Write:
    """Stores a mention of the message inserted first in the same transaction."""

    def params(earlier: Sequence[Rows]) -> dict[str, int]:
        return {"message_id": inserted_id(earlier[0]), "user_id": user_id}

    return Write(INSERT_MENTION, params)


def inserted_id(rows: Rows) -> int:
    return int(rows[0][0])


async def rooms_by_id(session: AsyncSession, room_ids: list[int]) -> list[Room]:
    result = await session.execute(select(Room).where(col(Room.id).in_(room_ids)))
    return list(result.scalars())


async def list_rooms(session: AsyncSession, *, archived: bool = True) -> list[Room]:
    """Every room, by id; without `archived`, those not archived."""
    query = select(Room).order_by(col(Room.id))
    if not archived:
        query = query.where(col(Room.archived_at).is_(None))
    result = await session.execute(query)
    return list(result.scalars())


async def get_room_by_name(session: AsyncSession, name: str) -> Room | None:
    result = await session.execute(select(Room).where(Room.name == name))
    return result.scalars().first()


async def get_message(session: AsyncSession, message_id: int) -> Message | None:
    return await session.get(Message, message_id)


async def get_message_row(session: AsyncSession, message_id: int) -> MessageRow | None:
    result = await session.execute(
        select(Message, User)
        .join(User, col(User.id) == col(Message.author_id))
        .where(Message.id == message_id)
    )
    row = result.first()
    return (row[0], row[1]) if row else None


async def find_by_client_id(
    session: AsyncSession, *, author_id: int, room_id: int, client_id: str
) -> Message | None:
    result = await session.execute(
        select(Message).where(
            Message.author_id == author_id,
            Message.room_id == room_id,
            Message.client_id == client_id,
        )
    )
    return result.scalars().first()


class RepliedTo(NamedTuple):
    """What a reply shows of the message it replies to (all but `id` None: a message no
    longer stored, which retention deleted)."""

    id: int
    author_id: int | None
    author_name: str | None
    author_role: str | None
    # Its text's first REPLY_EXCERPT_CHARS characters, and one more to tell it was cut.
    excerpt: str | None
    deleted: bool | None


class PageRow(NamedTuple):
    """A message of a page (history, a join), with its author's public columns and what it
    replies to (rooms/replies.py)."""

    id: int
    room_id: int
    body: str
    client_id: str
    created_at: datetime
    edited_at: datetime | None
    deleted: bool
    author_id: int
    author_name: str
    author_role: str
    reply_to_id: int | None
    replied_author_id: int | None
    replied_author_name: str | None
    replied_author_role: str | None
    replied_excerpt: str | None
    replied_deleted: bool | None

    @property
    def replied_to(self) -> RepliedTo | None:
        return None if self.reply_to_id is None else RepliedTo._make(self[-6:])


_ORIGINAL = aliased(Message, name="original")
_ORIGINAL_AUTHOR = aliased(User, name="original_author")


def _replied_columns() -> list[ColumnElement[object]]:
    return [
        col(_ORIGINAL_AUTHOR.id).label("replied_author_id"),
        col(_ORIGINAL_AUTHOR.display_name).label("replied_author_name"),
        col(_ORIGINAL_AUTHOR.role).label("replied_author_role"),
        func.substr(col(_ORIGINAL.body), 1, REPLY_EXCERPT_CHARS + 1).label("replied_excerpt"),
        col(_ORIGINAL.deleted).label("replied_deleted"),
    ]


def _page(*conditions: ColumnElement[bool], newest_first: bool) -> HotStatement:
    """Pages are read on every join and history request: straight on the driver, as tuples,
    not as model instances (both together were most of a page's CPU). A reply's original
    comes with it, by its primary key (no row for a message that replies to nothing)."""
    order = col(Message.id).desc() if newest_first else col(Message.id)
    return HotStatement(
        select(  # type: ignore[call-overload]
            col(Message.id).label("id"),
            col(Message.room_id).label("room_id"),
            col(Message.body).label("body"),
            col(Message.client_id).label("client_id"),
            col(Message.created_at).label("created_at"),
            col(Message.edited_at).label("edited_at"),
            col(Message.deleted).label("deleted"),
            col(User.id).label("author_id"),
            col(User.display_name).label("author_name"),
            col(User.role).label("author_role"),
            col(Message.reply_to_id).label("reply_to_id"),
            *_replied_columns(),
        )
        .join(User, col(User.id) == col(Message.author_id))
        .outerjoin(_ORIGINAL, col(_ORIGINAL.id) == col(Message.reply_to_id))
        .outerjoin(_ORIGINAL_AUTHOR, col(_ORIGINAL_AUTHOR.id) == col(_ORIGINAL.author_id))
        .where(Message.room_id == bindparam("room_id"), *conditions)
        .order_by(order)
        .limit(bindparam("limit")),
        labels=PageRow._fields,
    )


def _replied(*conditions: ColumnElement[bool]) -> Select[Any]:
    return (
        select(col(_ORIGINAL.id).label("id"), *_replied_columns())
        .join(_ORIGINAL_AUTHOR, col(_ORIGINAL_AUTHOR.id) == col(_ORIGINAL.author_id))
        .where(*conditions)
    )


async def replied_to(session: AsyncSession, ids: Sequence[int]) -> dict[int, RepliedTo]:
    """What replies show of these originals, by id; one no longer stored is left out."""
    if not ids:
        return {}
    result = await session.execute(_replied(col(_ORIGINAL.id).in_(ids)))
    return {row[0]: RepliedTo._make(row) for row in result.all()}


class Original(NamedTuple):
    """A message a new one would reply to, as the send checks it."""

    room_id: int
    created_at: datetime
    replied: RepliedTo


async def original(session: AsyncSession, message_id: int) -> Original | None:
    """The message a send replies to (one lookup by primary key), or None."""
    result = await session.execute(
        _replied(col(_ORIGINAL.id) == message_id).add_columns(
            col(_ORIGINAL.room_id), col(_ORIGINAL.created_at)
        )
    )
    row = result.first()
    if row is None:
        return None
    *replied, room_id, created_at = row
    return Original(room_id, created_at, RepliedTo._make(replied))


# `hidden_through`: the newest message the reader may not read (rooms/visibility.py).
_VISIBLE = col(Message.id) > bindparam("hidden_through")
_NEWEST = _page(_VISIBLE, newest_first=True)
_BEFORE = _page(col(Message.id) < bindparam("before"), _VISIBLE, newest_first=True)
_AFTER = _page(col(Message.id) > bindparam("after"), newest_first=False)


async def latest_messages(
    session: AsyncSession,
    room_id: int,
    *,
    before: int | None,
    limit: int,
    hidden_through: int = 0,
) -> tuple[list[PageRow], bool]:
    """Up to `limit` messages older than `before` (or the newest) and newer than
    `hidden_through`, ascending; and whether older ones the reader may read remain."""
    key = {"room_id": room_id, "limit": limit + 1, "hidden_through": hidden_through}
    if before is None:
        fetched = await _NEWEST.rows(session, key)
    else:
        fetched = await _BEFORE.rows(session, {**key, "before": before})
    rows = [PageRow._make(row) for row in fetched]
    return list(reversed(rows[:limit])), len(rows) > limit


async def messages_after(
    session: AsyncSession, room_id: int, *, after: int, limit: int
) -> tuple[list[PageRow], bool]:
    """Up to `limit` messages newer than `after`, ascending; and whether newer ones remain."""
    fetched = await _AFTER.rows(session, {"room_id": room_id, "after": after, "limit": limit + 1})
    rows = [PageRow._make(row) for row in fetched]
    return rows[:limit], len(rows) > limit


_PAGE_REACTIONS = HotStatement(
    select(Reaction.message_id, Reaction.emoji, func.count())
    .join(Message, col(Message.id) == col(Reaction.message_id))
    .where(
        Message.room_id == bindparam("room_id"),
        col(Message.id) >= bindparam("first"),
        col(Message.id) <= bindparam("last"),
    )
    .group_by(col(Reaction.message_id), col(Reaction.emoji))
    .order_by(col(Reaction.message_id), col(Reaction.emoji))
)


async def page_reaction_counts(
    session: AsyncSession, rows: Sequence[PageRow]
) -> dict[int, dict[str, int]]:
    """`reaction_counts` of a page: a room's messages from its first id to its last, so one
    statement of its own (an IN list changes with every page)."""
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    if not rows:
        return counts
    key = {"room_id": rows[0].room_id, "first": rows[0].id, "last": rows[-1].id}
    for message_id, emoji, count in await _PAGE_REACTIONS.rows(session, key):
        counts[message_id][emoji] = count
    return counts


_PAGE_MENTIONS = HotStatement(
    select(MessageMention.message_id, User.id, User.display_name, User.role)
    .join(Message, col(Message.id) == col(MessageMention.message_id))
    .join(User, col(User.id) == col(MessageMention.user_id))
    .where(
        Message.room_id == bindparam("room_id"),
        col(Message.id) >= bindparam("first"),
        col(Message.id) <= bindparam("last"),
    )
    .order_by(col(MessageMention.message_id), col(User.display_name), col(User.id))
)

# Who a message mentions, as others see them, by message id.
Mentioned = dict[int, list[tuple[int, str, str]]]


async def page_mentions(session: AsyncSession, rows: Sequence[PageRow]) -> Mentioned:
    """Who each message of a page mentions: one statement over the page's range, as
    `page_reaction_counts`."""
    mentioned: Mentioned = defaultdict(list)
    if not rows:
        return mentioned
    key = {"room_id": rows[0].room_id, "first": rows[0].id, "last": rows[-1].id}
    for message_id, user_id, name, role in await _PAGE_MENTIONS.rows(session, key):
        mentioned[message_id].append((user_id, name, role))
    return mentioned


async def mentions_of(session: AsyncSession, message_ids: Sequence[int]) -> Mentioned:
    mentioned: Mentioned = defaultdict(list)
    if not message_ids:
        return mentioned
    result = await session.execute(
        select(MessageMention.message_id, User.id, User.display_name, User.role)
        .join(User, col(User.id) == col(MessageMention.user_id))
        .where(col(MessageMention.message_id).in_(message_ids))
        .order_by(col(MessageMention.message_id), col(User.display_name), col(User.id))
    )
    for message_id, user_id, name, role in result.all():
        mentioned[message_id].append((user_id, name, role))
    return mentioned


async def clear_mentions(session: AsyncSession, message_id: int) -> None:
    await session.execute(
        delete(MessageMention).where(col(MessageMention.message_id) == message_id)
    )


async def reaction_counts(
    session: AsyncSession, message_ids: Sequence[int]
) -> dict[int, dict[str, int]]:
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    if not message_ids:
        return counts
    result = await session.execute(
        select(Reaction.message_id, Reaction.emoji, func.count())
        .where(col(Reaction.message_id).in_(message_ids))
        .group_by(col(Reaction.message_id), col(Reaction.emoji))
        .order_by(col(Reaction.message_id), col(Reaction.emoji))
    )
    for message_id, emoji, count in result.all():
        counts[message_id][emoji] = count
    return counts


async def toggle_reaction(
    session: AsyncSession, *, message_id: int, user_id: int, emoji: str
) -> None:
    existing = await session.get(Reaction, (message_id, user_id, emoji))
    if existing is None:
        session.add(Reaction(message_id=message_id, user_id=user_id, emoji=emoji))
    else:
        await session.delete(existing)
    await session.flush()


async def clear_reactions(session: AsyncSession, message_id: int) -> None:
    await session.execute(delete(Reaction).where(col(Reaction.message_id) == message_id))


async def last_message_before(session: AsyncSession, room_id: int, moment: datetime) -> int:
    """The id of the room's last message stored before `moment` (0: none)."""
    result = await session.execute(
        select(Message.id)
        .where(Message.room_id == room_id, col(Message.created_at) < moment)
        .order_by(col(Message.created_at).desc(), col(Message.id).desc())
        .limit(1)
    )
    return int(result.scalars().first() or 0)


async def last_post_at(session: AsyncSession, *, room_id: int, author_id: int) -> datetime | None:
    result = await session.execute(
        select(Message.created_at)
        .where(Message.room_id == room_id, Message.author_id == author_id)
        .order_by(col(Message.id).desc())
        .limit(1)
    )
    return result.scalars().first()


# ----- read markers -----


async def last_message_ids(session: AsyncSession, room_ids: Sequence[int]) -> dict[int, int]:
    if not room_ids:
        return {}
    result = await session.execute(
        select(Message.room_id, func.max(Message.id))
        .where(col(Message.room_id).in_(room_ids))
        .group_by(col(Message.room_id))
    )
    return {room_id: last_id for room_id, last_id in result.all() if last_id is not None}


async def read_markers(session: AsyncSession, user_id: int) -> dict[int, int]:
    result = await session.execute(
        select(ReadMarker.room_id, ReadMarker.last_read_id).where(ReadMarker.user_id == user_id)
    )
    return {int(room_id): int(last_read_id) for room_id, last_read_id in result.all()}


async def unread_count(
    session: AsyncSession, *, room_id: int, user_id: int, after: int, cap: int
) -> int:
    """Others' live messages newer than `after`, counted no further than `cap`, so a newcomer
    to a long-lived room costs one short index range rather than a count of its history."""
    newer = (
        select(Message.id)
        .where(
            Message.room_id == room_id,
            col(Message.id) > after,
            Message.author_id != user_id,
            col(Message.deleted).is_(False),
        )
        .limit(cap)
        .subquery()
    )
    result = await session.execute(select(func.count()).select_from(newer))
    return int(result.scalar_one())


async def unread_for_me(
    session: AsyncSession, *, room_id: int, user_id: int, after: int, cap: int
) -> int:
    """Of others' newest `cap` live messages newer than `after` (those `unread_count`
    counts), how many mention the user or reply to one of theirs: one short index range, and
    a primary-key probe or two for each."""
    recent = (
        select(Message.id, Message.reply_to_id)
        .where(
            Message.room_id == room_id,
            col(Message.id) > after,
            Message.author_id != user_id,
            col(Message.deleted).is_(False),
        )
        .order_by(col(Message.id).desc())
        .limit(cap)
        .subquery()
    )
    mentioned = (
        select(MessageMention.message_id)
        .where(MessageMention.message_id == recent.c.id, MessageMention.user_id == user_id)
        .exists()
    )
    replied_to = (
        select(_ORIGINAL.id)
        .where(col(_ORIGINAL.id) == recent.c.reply_to_id, col(_ORIGINAL.author_id) == user_id)
        .exists()
    )
    result = await session.execute(
        select(func.count()).select_from(recent).where(or_(mentioned, replied_to))
    )
    return int(result.scalar_one())


async def advance_read_marker(
    session: AsyncSession, *, user_id: int, room_id: int, message_id: int
) -> int:
    """Moves the marker forward to `message_id` (never back) and returns where it stands.

    One upsert that keeps the larger id, so tabs marking at once, first marks included, can
    neither fail nor put the marker back (both SQLite and PostgreSQL run it atomically)."""
    table = ReadMarker.__table__  # type: ignore[attr-defined]
    dialect = (await session.connection()).dialect.name
    insert_for = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = insert_for(table).values(user_id=user_id, room_id=room_id, last_read_id=message_id)
    proposed = statement.excluded.last_read_id
    furthest = case((table.c.last_read_id < proposed, proposed), else_=table.c.last_read_id)
    result = await session.execute(
        statement.on_conflict_do_update(
            index_elements=[table.c.user_id, table.c.room_id],
            set_={"last_read_id": furthest},
        ).returning(table.c.last_read_id)
    )
    return int(result.scalar_one())


async def support_room_of(session: AsyncSession, user_id: int) -> Room | None:
    """The private support conversation of this person (audience `person`), if one exists."""
    result = await session.execute(
        select(Room)
        .where(col(Room.audience) == Audience.PERSON, col(Room.member_id) == user_id)
        .order_by(col(Room.id))
        .limit(1)
    )
    return result.scalars().first()


async def latest_joining(session: AsyncSession, room: Room) -> datetime | None:
    """The latest moment someone joined the room's audience, as rooms/visibility.py counts
    joining (staff aside): before it, some member may not read the room's history."""
    latest: ColumnElement[datetime | None]
    if room.audience == Audience.COHORT:
        latest = func.max(CohortMembership.joined_at)
        query = select(latest).where(CohortMembership.cohort_id == room.cohort_id)
    elif room.audience == Audience.ALUMNI:
        latest = func.max(func.coalesce(User.graduated_at, User.created_at))
        query = select(latest).where(User.role == Role.ALUMNI)
    elif room.audience == Audience.PERSON:
        latest = func.max(User.created_at)
        query = select(latest).where(col(User.id) == room.member_id)
    else:
        latest = func.max(User.created_at)
        query = select(latest).where(col(User.role).in_([Role.PATIENT, Role.ALUMNI]))
    moment: datetime | None = (await session.execute(query)).scalar()
    return moment


async def audience_user_ids(session: AsyncSession, room: Room) -> list[int]:
    """Everyone a room is for, staff not included."""
    query = select(User.id)
    if room.audience == Audience.COHORT:
        query = query.join(CohortMembership, col(CohortMembership.user_id) == col(User.id)).where(
            CohortMembership.cohort_id == room.cohort_id, User.role == Role.PATIENT
        )
    elif room.audience == Audience.ALUMNI:
        query = query.where(User.role == Role.ALUMNI)
    elif room.audience == Audience.PERSON:
        query = query.where(col(User.id) == room.member_id)
    else:
        query = query.where(col(User.role).in_([Role.PATIENT, Role.ALUMNI]))
    result = await session.execute(query.order_by(col(User.id)))
    return [user_id for user_id in result.scalars() if user_id is not None]
