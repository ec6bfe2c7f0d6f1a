"""Pinned messages: what staff keep at the top of a room (the group's agreements, the
session's topic).

- **Who pins.** Moderators and admins, in a room they may enter; anyone else is `forbidden`,
  checked here whatever the client shows. Pinning and unpinning are audited
  (`message_pinned`, `message_unpinned`, with the message and its author).
- **What may be pinned.** A message of that room, not deleted: any other (unknown, of another
  room, deleted) is `not_found`. Pinning a pinned message, or unpinning one that is not
  pinned, changes nothing and tells nobody.
- **How many.** At most MAX_PINS a room: past it, `conflict` until one is unpinned. A short
  list is one people read; the limit makes staff choose what stays.
- **Who sees them.** Everyone who may be in the room, through the `pins` call (clients ask on
  every join) and the `pins_changed` event to the room's sockets, whatever the room's history
  visibility (rooms/visibility.py) would let them read of it otherwise. A pin is a staff
  decision, made and audited one message at a time, to make that message the room's standing
  reference; the newcomer who joins a group after its agreements were written is whom it is
  most for. History visibility keeps what members said from those who were not there; a pin
  is staff choosing to show one message to all, which staff alone may do.
- **When they go.** A deleted message leaves the list at once (`message_deleted` tells the
  room; the next read leaves its pin out); retention deleting a message deletes its pin (a
  cascade in the database). An edit of a pinned message shows in the list.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from server.accounts.models import public_user_of
from server.kernel.actors import Actor
from server.kernel.audit import AuditSink
from server.kernel.clock import Clock, iso_utc
from server.kernel.db import SessionFactory
from server.kernel.errors import AppError, forbidden, not_found
from server.realtime.hub import Hub
from server.rooms import pins_store as store
from server.rooms import store as room_store
from server.rooms.access import RoomAccess
from server.rooms.models import MAX_PINS, Message, PinIn, PinnedMessage


def pin_json(row: store.PinRow) -> dict[str, Any]:
    return {
        "message_id": row.message_id,
        "room_id": row.room_id,
        "author": public_user_of(row.author_id, row.author_name, row.author_role),
        "body": row.body,
        "created_at": iso_utc(row.created_at),
        "pinned_by": public_user_of(row.pinned_by, row.pinner_name, row.pinner_role),
        "pinned_at": iso_utc(row.pinned_at),
    }


def require_pinner(actor: Actor) -> None:
    if not actor.is_staff:
        raise forbidden("Only moderators and admins can pin or unpin messages.")


@dataclass
class PinService:
    sessions: SessionFactory
    clock: Clock
    hub: Hub
    access: RoomAccess
    audit: AuditSink

    async def pins(self, actor: Actor, room_id: int) -> list[dict[str, Any]]:
        async with self.sessions() as session:
            await self.access.enter(session, actor, room_id)
            return await self._listed(session, room_id)

    async def pin(self, actor: Actor, data: PinIn) -> list[dict[str, Any]]:
        require_pinner(actor)
        async with self.sessions() as session:
            message = await self._message(session, actor, data)
            if await store.get_pin(session, data.message_id) is not None:
                return await self._listed(session, data.room_id)
            await store.forget_deleted(session, data.room_id)
            if len(await store.room_pins(session, data.room_id)) >= MAX_PINS:
                raise AppError(
                    "conflict",
                    f"This room already has {MAX_PINS} pinned messages, the most it may have:"
                    " unpin one first.",
                )
            store.add_pin(
                session,
                PinnedMessage(
                    message_id=data.message_id,
                    room_id=data.room_id,
                    pinned_by=actor.id,
                    pinned_at=self.clock.now(),
                ),
            )
            try:
                await session.commit()
            except IntegrityError:
                # Pinned meanwhile by someone else: theirs is the change the room heard of.
                await session.rollback()
                return await self._listed(session, data.room_id)
            pins = await self._listed(session, data.room_id)
        await self._changed(actor, "message_pinned", message, pins)
        return pins

    async def unpin(self, actor: Actor, data: PinIn) -> list[dict[str, Any]]:
        require_pinner(actor)
        async with self.sessions() as session:
            message = await self._message(session, actor, data, deleted_too=True)
            if await store.get_pin(session, data.message_id) is None:
                return await self._listed(session, data.room_id)
            await store.remove_pin(session, data.message_id)
            await session.commit()
            pins = await self._listed(session, data.room_id)
        await self._changed(actor, "message_unpinned", message, pins)
        return pins

    async def _message(
        self, session: AsyncSession, actor: Actor, data: PinIn, *, deleted_too: bool = False
    ) -> Message:
        """The message, if it is the room's and the actor may be in the room now."""
        await self.access.enter(session, actor, data.room_id)
        message = await room_store.get_message(session, data.message_id)
        if message is None or message.room_id != data.room_id:
            raise not_found("message")
        if message.deleted and not deleted_too:
            raise not_found("message")
        return message

    @staticmethod
    async def _listed(session: AsyncSession, room_id: int) -> list[dict[str, Any]]:
        return [pin_json(row) for row in await store.room_pins(session, room_id)]

    async def _changed(
        self, actor: Actor, action: str, message: Message, pins: list[dict[str, Any]]
    ) -> None:
        await self.hub.to_room(
            message.room_id, "pins_changed", {"room_id": message.room_id, "pins": pins}
        )
        await self.audit.record(
            actor_id=actor.id,
            action=action,
            room_id=message.room_id,
            target_user_id=message.author_id,
            message_id=message.id,
        )
