"""HTTP routes of video sessions: parse, call the service, answer."""

from __future__ import annotations

from aiohttp import web

from server.accounts.http import current_actor
from server.kernel.errors import AppError
from server.kernel.http import ok, path_id
from server.media.service import VideoSessions
from server.reference.routes import Access, Route, RouteTable, add_routes

VIDEO = web.AppKey("video", VideoSessions)


async def join_video(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    series_id = path_id(request)
    if VIDEO not in request.app:
        # Not an outage: this server has no video sessions at all (no media server is set).
        raise AppError("not_found", "No video here: this server has no media server.")
    return ok({"video": await request.app[VIDEO].join(actor, series_id)}, status=201)


VIDEO_ROUTES = RouteTable(
    "video",
    "Video sessions: a pass into the video room of a meeting's open occurrence (docs/video.md).",
    (
        Route(
            "POST",
            "/api/meetings/{id}/video",
            join_video,
            "A pass into the video room of the meeting's occurrence in its lobby or live now",
            Access.SIGNED_IN,
            status=201,
            returns={"video": "VideoPass"},
            errors=("forbidden", "banned", "meeting_closed", "not_found", "unavailable"),
            description="For someone who may enter the meeting's room, during the lobby and"
            " live windows: the Janus room number, a token that opens that room only and ends"
            " with the occurrence, the WebSocket address of the media server, the ICE servers"
            " and the alias to show. Never recorded. Outside the windows: `meeting_closed`;"
            " on a server without a media server: `not_found`; when the media server does not"
            " answer: `unavailable`.",
        ),
    ),
)


def add_video_routes(app: web.Application) -> None:
    add_routes(app, VIDEO_ROUTES)
