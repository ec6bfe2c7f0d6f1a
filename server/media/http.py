"""HTTP routes of video calls: parse, call the service, answer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiohttp import web
from aiohttp.typedefs import Handler

from server.accounts.http import current_actor
from server.kernel.actors import Actor
from server.kernel.errors import AppError
from server.kernel.http import ok, path_id, read_input
from server.kernel.validation import InputModel
from server.media.models import CallEndIn, CallMuteIn, CallRemoveIn, HandIn
from server.media.service import VideoSessions
from server.reference.routes import Access, Route, RouteTable, add_routes

VIDEO = web.AppKey("video", VideoSessions)

InputT = TypeVar("InputT", bound=InputModel)
CallAction = Callable[[Actor, int, InputT], Awaitable[dict[str, Any]]]

CALL_ERRORS = ("forbidden", "banned", "meeting_closed", "not_found", "unavailable")


def video_of(request: web.Request) -> VideoSessions:
    if VIDEO not in request.app:
        # Not an outage: this server has no video sessions at all (no media server is set).
        raise AppError("not_found", "No video here: this server has no media server.")
    return request.app[VIDEO]


async def join_video(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    return ok({"video": await video_of(request).join(actor, path_id(request))}, status=201)


async def call_state(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    return ok({"call": await video_of(request).call_state(actor, path_id(request))})


def call_action(
    name: str, body: type[InputT], key: str, act: Callable[[VideoSessions], CallAction[InputT]]
) -> Handler:
    """A handler that reads `body`, has the service act on the meeting in the path, and
    answers the result under `key`: raising a hand and the moderators' controls alike.
    `name` names it in the API reference (its operationId)."""

    async def handle(request: web.Request) -> web.Response:
        actor = await current_actor(request)
        data = await read_input(request, body)
        return ok({key: await act(video_of(request))(actor, path_id(request), data)})

    handle.__name__ = handle.__qualname__ = name
    return handle


raise_hand = call_action("raise_hand", HandIn, "hand", lambda video: video.raise_hand)
mute_in_call = call_action("mute_in_call", CallMuteIn, "participant", lambda video: video.mute)
remove_from_call = call_action(
    "remove_from_call", CallRemoveIn, "participant", lambda video: video.remove
)
end_call = call_action("end_call", CallEndIn, "call", lambda video: video.end)


VIDEO_ROUTES = RouteTable(
    "video",
    "Video calls: passes into the call of a meeting's open occurrence, raised hands, and the"
    " moderators' mute, remove and end (docs/video.md).",
    (
        Route(
            "POST",
            "/api/meetings/{id}/video",
            join_video,
            "A pass into the call of the meeting's occurrence in its lobby or live now",
            Access.SIGNED_IN,
            status=201,
            returns={"video": "VideoPass"},
            errors=CALL_ERRORS,
            description="For someone who may enter the meeting's room, during the lobby and"
            " live windows: the Janus room number, a token that opens that room only and ends"
            " with the call, the participant id to join with (`feed_id`), the WebSocket"
            " address of the media server, the ICE servers and the alias to show. Never"
            " recorded. Outside the windows, or once the call has ended: `meeting_closed`;"
            " removed from this call by a moderator: `forbidden`; on a server without a media"
            " server: `not_found`; when the media server does not answer: `unavailable`.",
        ),
        Route(
            "GET",
            "/api/meetings/{id}/video",
            call_state,
            "Who holds a pass into the open call, who is in it now, and raised hands",
            Access.SIGNED_IN,
            returns={"call": "VideoCall"},
            errors=CALL_ERRORS,
            description="`not_found` before anyone has joined the call.",
        ),
        Route(
            "POST",
            "/api/meetings/{id}/video/hand",
            raise_hand,
            "Raise or lower one's hand in the call",
            Access.SIGNED_IN,
            body=HandIn,
            returns={"hand": "RaisedHand"},
            errors=CALL_ERRORS,
            description="Everyone in the meeting's room gets a `video_hand` event with the"
            " same body. Only for someone holding a pass into the call (`forbidden` first).",
        ),
        Route(
            "POST",
            "/api/meetings/{id}/video/mute",
            mute_in_call,
            "Mute (or unmute) a participant's microphone at the media server",
            Access.STAFF,
            body=CallMuteIn,
            returns={"participant": "CallMute"},
            errors=(*CALL_ERRORS, "invalid"),
            description="`feed_id`: the participant's id in the call; `mid`: the media line"
            " of their microphone, as Janus lists their streams. Janus drops that line until"
            " a moderator unmutes it, whatever the participant's browser sends. The person"
            " gets a `video_muted` (or `video_unmuted`) notice; audited.",
        ),
        Route(
            "POST",
            "/api/meetings/{id}/video/remove",
            remove_from_call,
            "Take a participant out of the call for the rest of this session",
            Access.STAFF,
            body=CallRemoveIn,
            returns={"participant": "CallRemoval"},
            errors=CALL_ERRORS,
            description="Their passes stop working at once (off the room's list, the token"
            " removed, then kicked) and no new pass into this call is given them. They get a"
            " `video_removed` notice; audited. A kick or ban from the meeting's room does the"
            " same (without barring a kicked person from joining again).",
        ),
        Route(
            "POST",
            "/api/meetings/{id}/video/end",
            end_call,
            "End the call for everyone (the meeting's chat goes on)",
            Access.STAFF,
            body=CallEndIn,
            returns={"call": "CallEnded"},
            errors=CALL_ERRORS,
            description="Every pass stops working and the media server's room is removed;"
            " the meeting's room gets a `video_ended` event; no new pass for this"
            " occurrence. Audited. An occurrence's end ends its call the same way.",
        ),
    ),
)


def add_video_routes(app: web.Application) -> None:
    add_routes(app, VIDEO_ROUTES)
