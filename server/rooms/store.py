"""Every database read and write of rooms, messages and reactions."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from server.accounts.models import User
from server.rooms.models import Message, Reaction, Room

MessageRow = tuple[Message, User]


async def get_room(session: AsyncSession, room_id: int, *, for_update: bool = False) -> Room | None:
    """A room; `for_update` locks its row until commit (PostgreSQL), which makes inserts into
    one room commit in id order, so a reader paging by id never skips a late commit.

    The lock is FOR NO KEY UPDATE: it still serialises sends to the room, but does not block
    rows elsewhere that merely reference the room (audit entries written meanwhile)."""
    query = select(Room).where(Room.id == room_id)
    if for_update:
        query = query.with_for_update(key_share=True)
    result = await session.execute(query)
    return result.scalars().first()


async def list_rooms(session: AsyncSession) -> list[Room]:
    result = await session.execute(select(Room).order_by(col(Room.id)))
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


async def latest_messages(
    session: AsyncSession, room_id: int, *, before: int | None, limit: int
) -> tuple[list[MessageRow], bool]:
    """Up to `limit` messages older than `before` (or the newest), ascending; and whether
    older ones remain."""
    query = (
        select(Message, User)
        .join(User, col(User.id) == col(Message.author_id))
        .where(Message.room_id == room_id)
    )
    if before is not None:
        query = query.where(col(Message.id) < before)
    result = await session.execute(query.order_by(col(Message.id).desc()).limit(limit + 1))
    rows = [(message, user) for message, user in result.all()]
    has_more = len(rows) > limit
    return list(reversed(rows[:limit])), has_more


async def messages_after(
    session: AsyncSession, room_id: int, *, after: int, limit: int
) -> tuple[list[MessageRow], bool]:
    """Up to `limit` messages newer than `after`, ascending; and whether newer ones remain."""
    result = await session.execute(
        select(Message, User)
        .join(User, col(User.id) == col(Message.author_id))
        .where(Message.room_id == room_id, col(Message.id) > after)
        .order_by(col(Message.id))
        .limit(limit + 1)
    )
    rows = [(message, user) for message, user in result.all()]
    return rows[:limit], len(rows) > limit


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


async def last_post_at(session: AsyncSession, *, room_id: int, author_id: int) -> datetime | None:
    result = await session.execute(
        select(Message.created_at)
        .where(Message.room_id == room_id, Message.author_id == author_id)
        .order_by(col(Message.id).desc())
        .limit(1)
    )
    return result.scalars().first()
