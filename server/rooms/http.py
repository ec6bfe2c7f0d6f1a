"""HTTP routes of rooms and messages: parse, call the service, answer."""

from __future__ import annotations

from aiohttp import web

from server.accounts.http import current_actor
from server.kernel.http import ok, path_id, query_ints, read_input
from server.kernel.validation import parse_input
from server.reference.routes import Access, Route, RouteTable, add_routes
from server.rooms.messages import MessageService
from server.rooms.models import HistoryQuery, MessageRef, RoomIn, RoomPatch, RoomsQuery
from server.rooms.search import MessageSearch
from server.rooms.search_models import MAX_QUERY_WORDS, SEARCH_MAX_LIMIT, SearchQuery
from server.rooms.service import RoomService

ROOMS = web.AppKey("rooms", RoomService)
MESSAGES = web.AppKey("messages", MessageService)
SEARCH = web.AppKey("search", MessageSearch)


async def list_rooms(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    query = parse_input(RoomsQuery, dict(request.query.items()))
    rooms = await request.app[ROOMS].list_rooms(actor, archived=query.status == "all")
    return ok({"rooms": rooms})


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


async def search_messages(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    words = {"q": request.query["q"]} if "q" in request.query else {}
    query = parse_input(SearchQuery, words | query_ints(request, "room_id", "before", "limit"))
    return ok(await request.app[SEARCH].search(actor, query))


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
            query=RoomsQuery,
            returns={"rooms": ["Room"]},
            description=(
                "Only this list carries `last_message_id` and `unread_count` (others' messages"
                " newer than my read marker, not deleted; stops at 100). Both count only what"
                " the room's `history_visibility` lets me read: `last_message_id` is null when"
                " all there is came before that. Archived rooms are left out unless"
                " `status=all`; only staff may enter them, so only staff ever see them."
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
                " `since_session` for `meeting`, `all` for `peer`. `slow_mode_s` and"
                " `contact_policy` may be set from the start. Audited as `room_created`."
            ),
        ),
        Route(
            "PATCH",
            "/api/rooms/{id}",
            update_room,
            "Rename a room, lock or unlock it, set slow mode, its topic, its contact policy"
            " or its history visibility; change its kind or audience; archive it or bring"
            " it back",
            Access.STAFF,
            body=RoomPatch,
            returns={"room": "Room"},
            errors=("not_found", "conflict"),
            description=(
                "The room's sockets get `room_updated`; each change is audited. A new"
                " `history_visibility` applies to the next read of history. `kind`: `group`"
                " and `peer` become each other; a `meeting` room stays one (`conflict`)."
                " `audience` (with `cohort_id` for `cohort`; another audience drops the"
                " cohort) or `cohort_id` alone: once the room has messages, a change that"
                " would let someone read what they could not read before is `conflict`; the"
                " room's `history_visibility` decides (docs/protocol-additions.md). A private"
                " support conversation keeps its person. `archived: true` closes the room:"
                " members' sockets leave it on every process, its audience gets the notice"
                " `room_archived`, it leaves their lists, `join`, history and `send` refuse"
                " them (`forbidden`), and nobody posts, edits or reacts there (`room_locked`);"
                " staff still read it. `archived: false` opens it again. Those a new"
                " audience leaves out leave the room at once too."
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
            "GET",
            "/api/search",
            search_messages,
            "Search the messages I may read, newest first",
            Access.SIGNED_IN,
            query=SearchQuery,
            returns={"results": ["SearchHit"], "next_before": "integer|null"},
            errors=("not_found", "forbidden", "banned"),
            description=(
                "Messages holding every word of `q` (any case; the last word also as the start"
                " of a longer one from three letters), in the rooms I may enter now, and in"
                " each only what its `history_visibility` lets me read; staff, every room whole."
                " Deleted messages are never found; an edited one by its text as it is now."
                f" `q` with no word, or more than {MAX_QUERY_WORDS}, is `invalid`. With"
                " `room_id`, that room only, refused as entering it would be. A page holds at"
                f" most `limit` (up to {SEARCH_MAX_LIMIT}); pass `next_before` as `before` for"
                " the next, null when there is no more."
            ),
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
