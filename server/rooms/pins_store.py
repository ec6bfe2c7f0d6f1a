"""Every database read and write of pinned messages (rooms/pins.py)."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col, select

from server.accounts.models import User
from server.rooms.models import Message, PinnedMessage

_AUTHOR = aliased(User, name="author")
_PINNER = aliased(User, name="pinner")


class PinRow(NamedTuple):
    """A pin with its message's current text and the public columns of the two people."""

    message_id: int
    room_id: int
    body: str
    created_at: datetime
    author_id: int
    author_name: str
    author_role: str
    pinned_at: datetime
    pinned_by: int
    pinner_name: str
    pinner_role: str


async def room_pins(session: AsyncSession, room_id: int) -> list[PinRow]:
    """The room's pins, the latest pinned first. A pin of a message deleted since is left
    out: what was taken back is not shown again by its pin."""
    result = await session.execute(
        select(  # type: ignore[call-overload]
            col(PinnedMessage.message_id),
            col(PinnedMessage.room_id),
            col(Message.body),
            col(Message.created_at),
            col(_AUTHOR.id),
            col(_AUTHOR.display_name),
            col(_AUTHOR.role),
            col(PinnedMessage.pinned_at),
            col(_PINNER.id),
            col(_PINNER.display_name),
            col(_PINNER.role),
        )
        .join(Message, col(Message.id) == col(PinnedMessage.message_id))
        .join(_AUTHOR, col(_AUTHOR.id) == col(Message.author_id))
        .join(_PINNER, col(_PINNER.id) == col(PinnedMessage.pinned_by))
        .where(col(PinnedMessage.room_id) == room_id, col(Message.deleted).is_(False))
        .order_by(col(PinnedMessage.id).desc())
    )
    return [PinRow._make(row) for row in result.all()]


async def get_pin(session: AsyncSession, message_id: int) -> PinnedMessage | None:
    result = await session.execute(
        select(PinnedMessage).where(col(PinnedMessage.message_id) == message_id)
    )
    return result.scalars().first()


def add_pin(session: AsyncSession, pin: PinnedMessage) -> None:
    session.add(pin)


async def remove_pin(session: AsyncSession, message_id: int) -> None:
    await session.execute(delete(PinnedMessage).where(col(PinnedMessage.message_id) == message_id))


async def forget_deleted(session: AsyncSession, room_id: int) -> None:
    """Drops the room's pins of messages deleted since they were pinned (a deletion, an
    erasure), which no list shows any more, so they hold no place under the limit."""
    deleted = (
        select(Message.id)
        .where(col(Message.id) == col(PinnedMessage.message_id), col(Message.deleted).is_(True))
        .exists()
    )
    await session.execute(
        delete(PinnedMessage).where(col(PinnedMessage.room_id) == room_id, deleted)
    )
