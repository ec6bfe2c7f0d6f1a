"""HTTP routes of rooms and messages: parse, call the service, answer."""

from __future__ import annotations

from aiohttp import web

from server.accounts.http import current_actor
from server.kernel.http import ok, path_id, query_ints, read_input
from server.kernel.validation import parse_input
from server.rooms.messages import MessageService
from server.rooms.models import HistoryQuery, MessageRef, RoomIn, RoomPatch
from server.rooms.service import RoomService

ROOMS = web.AppKey("rooms", RoomService)
MESSAGES = web.AppKey("messages", MessageService)


async def list_rooms(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    return ok({"rooms": await request.app[ROOMS].list_rooms(actor)})


async def create_room(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    data = await read_input(request, RoomIn)
    return ok({"room": await request.app[ROOMS].create_room(actor, data)}, status=201)


async def update_room(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    room_id = path_id(request)
    data = await read_input(request, RoomPatch)
    return ok({"room": await request.app[ROOMS].update_room(actor, room_id, data)})


async def room_messages(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    room_id = path_id(request)
    query = parse_input(HistoryQuery, query_ints(request, "before", "limit"))
    page = await request.app[MESSAGES].history(
        actor, room_id, before=query.before, limit=query.limit
    )
    return ok(page)


async def mark_read(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    room_id = path_id(request)
    data = await read_input(request, MessageRef)
    return ok(await request.app[ROOMS].mark_read(actor, room_id, data.message_id))


async def room_presence(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    room_id = path_id(request)
    return ok({"online": await request.app[ROOMS].online(actor, room_id)})


async def delete_message(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    await request.app[MESSAGES].delete(actor, path_id(request))
    return web.Response(status=204)


def add_room_routes(app: web.Application) -> None:
    app.router.add_get("/api/rooms", list_rooms)
    app.router.add_post("/api/rooms", create_room)
    app.router.add_patch("/api/rooms/{id}", update_room)
    app.router.add_get("/api/rooms/{id}/messages", room_messages)
    app.router.add_get("/api/rooms/{id}/presence", room_presence)
    app.router.add_post("/api/rooms/{id}/read", mark_read)
    app.router.add_delete("/api/messages/{id}", delete_message)
