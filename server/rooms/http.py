"""HTTP routes of rooms and messages: parse, call the service, answer."""

from __future__ import annotations

from aiohttp import web

from server.accounts.http import current_actor
from server.kernel.http import ok, path_id, query_ints, read_input
from server.kernel.validation import parse_input
from server.reference.routes import Access, Route, RouteTable, add_routes
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


async def room_members(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    return ok({"members": await request.app[ROOMS].members(actor, path_id(request))})


async def delete_message(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    await request.app[MESSAGES].delete(actor, path_id(request))
    return web.Response(status=204)


ROOM_ROUTES = RouteTable(
    "rooms",
    "Rooms, their history and presence, read markers and deleting messages. Sending, editing"
    " and reacting are Socket.IO events (docs/api/events/).",
    (
        Route(
            "GET",
            "/api/rooms",
            list_rooms,
            "The rooms open to me, with online, unread and newest-message figures",
            Access.SIGNED_IN,
            returns={"rooms": ["Room"]},
            description=(
                "Only this list carries `last_message_id` and `unread_count` (others' messages"
                " newer than my read marker, not deleted; stops at 100). Both count only what"
                " the room's `history_visibility` lets me read: `last_message_id` is null when"
                " all there is came before that."
            ),
        ),
        Route(
            "POST",
            "/api/rooms",
            create_room,
            "Create a room",
            Access.STAFF,
            body=RoomIn,
            status=201,
            returns={"room": "Room"},
            errors=("not_found",),
            description=(
                "`cohort_id` is required for, and only for, audience `cohort`; a `group`"
                " room's audience is `cohort`. An unknown cohort is `not_found`. Without"
                " `history_visibility` the kind decides: `since_joined` for `group`,"
                " `since_session` for `meeting`, `all` for `peer`."
            ),
        ),
        Route(
            "PATCH",
            "/api/rooms/{id}",
            update_room,
            "Rename a room, lock or unlock it, set slow mode, its topic, its contact policy"
            " or its history visibility",
            Access.STAFF,
            body=RoomPatch,
            returns={"room": "Room"},
            description=(
                "The room's sockets get `room_updated`; each change is audited. A new"
                " `history_visibility` applies to the next read of history."
            ),
        ),
        Route(
            "GET",
            "/api/rooms/{id}/messages",
            room_messages,
            "A page of the room's history, newest last",
            Access.SIGNED_IN,
            query=HistoryQuery,
            returns={"messages": ["Message"], "has_more": "boolean"},
            errors=("forbidden", "banned"),
            description=(
                "`has_more`: older messages I may read exist; page back with `before`. The"
                " pages end where the room's `history_visibility` lets my reading begin."
            ),
        ),
        Route(
            "GET",
            "/api/rooms/{id}/presence",
            room_presence,
            "Who is in the room now",
            Access.SIGNED_IN,
            returns={"online": ["User"]},
            errors=("forbidden", "banned"),
        ),
        Route(
            "GET",
            "/api/rooms/{id}/members",
            room_members,
            "Who the room is for, for staff: each may enter it now, and is in it now",
            Access.STAFF,
            returns={"members": ["RoomMember"]},
            description="The room's audience (a cohort's patients, alumni, everyone, or the"
            " one person of a private conversation), staff and deactivated accounts left out,"
            " by alias. `may_enter` is false while a ban keeps the person out.",
        ),
        Route(
            "POST",
            "/api/rooms/{id}/read",
            mark_read,
            "Move my read marker forward (never back, never past the newest message)",
            Access.SIGNED_IN,
            body=MessageRef,
            returns={"room_id": "integer", "last_read_id": "integer"},
            errors=("forbidden", "banned"),
        ),
        Route(
            "DELETE",
            "/api/messages/{id}",
            delete_message,
            "Delete a message: its text is erased and its reactions dropped",
            Access.SIGNED_IN,
            status=204,
            errors=("forbidden",),
            description=(
                "Authors may delete their own messages (even after losing access to the"
                " room); moderators any message in a room they can enter. The room's sockets"
                " get `message_deleted`. Deleting a deleted message is a success."
            ),
        ),
    ),
)


def add_room_routes(app: web.Application) -> None:
    add_routes(app, ROOM_ROUTES)
