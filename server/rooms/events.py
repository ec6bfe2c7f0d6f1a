"""Socket.IO handlers of rooms and messages: parse, call the service, answer."""

from __future__ import annotations

from server.realtime.hub import Connection
from server.realtime.router import Ack, EventRouter
from server.rooms.messages import MessageService
from server.rooms.models import (
    EditIn,
    HistoryIn,
    JoinIn,
    MessageRef,
    PinIn,
    ReactIn,
    RoomRef,
    SendIn,
)
from server.rooms.pins import PinService
from server.rooms.service import RoomService


def register_room_events(router: EventRouter, rooms: RoomService, messages: MessageService) -> None:
    async def join(connection: Connection, data: JoinIn) -> Ack:
        return await rooms.join(connection, data)

    async def leave(connection: Connection, data: RoomRef) -> Ack:
        await rooms.leave(connection, data.room_id)
        return {}

    async def send(connection: Connection, data: SendIn) -> Ack:
        result = await messages.send(connection.actor, data)
        return {"message": result.message}

    async def edit(connection: Connection, data: EditIn) -> Ack:
        return {"message": await messages.edit(connection.actor, data)}

    async def delete(connection: Connection, data: MessageRef) -> Ack:
        await messages.delete(connection.actor, data.message_id)
        return {}

    async def react(connection: Connection, data: ReactIn) -> Ack:
        return {"reactions": await messages.react(connection.actor, data)}

    async def typing(connection: Connection, data: RoomRef) -> Ack:
        await rooms.typing(connection, data.room_id)
        return {}

    async def history(connection: Connection, data: HistoryIn) -> Ack:
        return await messages.history(
            connection.actor, data.room_id, before=data.before, limit=data.limit
        )

    router.on("join", JoinIn, join)
    router.on("leave", RoomRef, leave)
    # Sends have their own limit (moderation's RateLimitGate), which crisis language passes.
    router.on("send", SendIn, send, in_order=True, limited=False)
    router.on("edit", EditIn, edit)
    router.on("delete", MessageRef, delete)
    router.on("react", ReactIn, react)
    # Typing is throttled per room already (one broadcast per interval).
    router.on("typing", RoomRef, typing, limited=False)
    router.on("history", HistoryIn, history)


def register_pin_events(router: EventRouter, pins: PinService) -> None:
    async def pin(connection: Connection, data: PinIn) -> Ack:
        return {"pins": await pins.pin(connection.actor, data)}

    async def unpin(connection: Connection, data: PinIn) -> Ack:
        return {"pins": await pins.unpin(connection.actor, data)}

    async def listed(connection: Connection, data: RoomRef) -> Ack:
        return {"pins": await pins.pins(connection.actor, data.room_id)}

    router.on("pin", PinIn, pin)
    router.on("unpin", PinIn, unpin)
    router.on("pins", RoomRef, listed)
