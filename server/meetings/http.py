"""HTTP routes of meetings: parse, call the service, answer."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from server.accounts.http import current_actor
from server.kernel.errors import invalid
from server.kernel.http import json_or_csv, ok, path_id, query_ints, read_input
from server.meetings.attendance import AttendanceReports
from server.meetings.calendar import CalendarFeeds
from server.meetings.models import CancelIn, CheckInIn, MeetingIn
from server.meetings.service import MeetingService

MEETINGS = web.AppKey("meetings", MeetingService)
ATTENDANCE = web.AppKey("attendance", AttendanceReports)
CALENDARS = web.AppKey("calendars", CalendarFeeds)

DEFAULT_UPCOMING_DAYS = 7
DEFAULT_PAST_DAYS = 14


async def create_meeting(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    data = await read_input(request, MeetingIn)
    return ok({"meeting": await request.app[MEETINGS].create(actor, data)}, status=201)


async def list_meetings(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    return ok({"meetings": await request.app[MEETINGS].meetings_of(actor)})


async def upcoming(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    days = query_ints(request, "days").get("days", DEFAULT_UPCOMING_DAYS)
    return ok({"occurrences": await request.app[MEETINGS].upcoming(actor, days)})


async def occurrences(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    window = query_ints(request, "past_days", "days")
    listed = await request.app[MEETINGS].occurrences(
        actor,
        path_id(request),
        past_days=window.get("past_days", DEFAULT_PAST_DAYS),
        days=window.get("days", DEFAULT_UPCOMING_DAYS),
    )
    return ok({"occurrences": listed})


async def cancel_occurrence(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    data = await read_input(request, CancelIn)
    return ok({"meeting": await request.app[MEETINGS].cancel(actor, path_id(request), data)})


async def check_in(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    data = await read_input(request, CheckInIn)
    saved = await request.app[MEETINGS].check_in(actor, path_id(request), data)
    return ok({"checkin": saved}, status=201)


async def attendance(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    occurrence = request.query.get("occurrence", "")
    if not occurrence:
        raise invalid("occurrence: give the occurrence's UTC start, such as 2026-11-24T00:00:00Z.")
    reports, series_id = request.app[ATTENDANCE], path_id(request)

    async def as_json() -> dict[str, Any]:
        return {"attendees": await reports.report(actor, series_id, occurrence)}

    return await json_or_csv(
        request,
        filename="attendance.csv",
        as_json=as_json,
        as_csv=lambda: reports.as_csv(actor, series_id, occurrence),
    )


async def calendar_token(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    return ok({"token": await request.app[CALENDARS].token_for(actor)})


async def revoke_calendar_token(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    await request.app[CALENDARS].revoke(actor)
    return web.Response(status=204)


async def calendar_feed(request: web.Request) -> web.Response:
    site = str(request.url.origin())
    body = await request.app[CALENDARS].feed(request.query.get("token", ""), site)
    return web.Response(body=body, content_type="text/calendar", charset="utf-8")


def add_meeting_routes(app: web.Application) -> None:
    app.router.add_post("/api/meetings", create_meeting)
    app.router.add_get("/api/meetings", list_meetings)
    app.router.add_get("/api/meetings/upcoming", upcoming)
    app.router.add_get("/api/meetings/{id}/occurrences", occurrences)
    app.router.add_post("/api/meetings/{id}/cancel", cancel_occurrence)
    app.router.add_post("/api/meetings/{id}/checkins", check_in)
    app.router.add_get("/api/meetings/{id}/attendance", attendance)
    app.router.add_get("/api/me/calendar-token", calendar_token)
    app.router.add_delete("/api/me/calendar-token", revoke_calendar_token)
    app.router.add_get("/api/calendar.ics", calendar_feed)
