"""HTTP routes of meetings: parse, call the service, answer."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from server.accounts.http import current_actor
from server.kernel.errors import invalid
from server.kernel.http import json_or_csv, ok, path_id, query_ints, read_input
from server.kernel.validation import parse_input
from server.meetings.attendance import AttendanceReports
from server.meetings.calendar import CalendarFeeds
from server.meetings.models import (
    AttendanceQuery,
    CancelIn,
    CheckInIn,
    MeetingIn,
    MeetingPatch,
    MoveIn,
)
from server.meetings.service import MAX_UPCOMING_DAYS, MeetingService
from server.reference.routes import Access, QueryParam, Route, RouteTable, add_routes

MEETINGS = web.AppKey("meetings", MeetingService)
ATTENDANCE = web.AppKey("attendance", AttendanceReports)
CALENDARS = web.AppKey("calendars", CalendarFeeds)

DEFAULT_UPCOMING_DAYS = 7
DEFAULT_PAST_DAYS = 14


async def create_meeting(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    data = await read_input(request, MeetingIn)
    return ok({"meeting": await request.app[MEETINGS].create(actor, data)}, status=201)


async def change_meeting(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    series_id = path_id(request)
    data = await read_input(request, MeetingPatch)
    return ok({"meeting": await request.app[MEETINGS].change(actor, series_id, data)})


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


async def move_occurrence(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    data = await read_input(request, MoveIn)
    return ok({"meeting": await request.app[MEETINGS].move(actor, path_id(request), data)})


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


async def attendance_over_range(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    texts = {name: request.query[name] for name in ("since", "until") if name in request.query}
    query = parse_input(AttendanceQuery, texts | query_ints(request, "cohort_id", "meeting_id"))
    reports = request.app[ATTENDANCE]
    return await json_or_csv(
        request,
        filename="attendance-range.csv",
        as_json=lambda: reports.over_range(actor, query),
        as_csv=lambda: reports.range_csv(actor, query),
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


def days_param(name: str, meaning: str, default: int, least: int) -> QueryParam:
    return QueryParam(
        name, "integer", f"{meaning}: {least} to {MAX_UPCOMING_DAYS}. Default: {default}."
    )


MEETING_ROUTES = RouteTable(
    "meetings",
    "Recurring virtual meetings, their occurrences, check-ins, attendance and calendar feeds.",
    (
        Route(
            "POST",
            "/api/meetings",
            create_meeting,
            "Create a meeting series in a room of kind `meeting`",
            Access.STAFF,
            body=MeetingIn,
            status=201,
            returns={"meeting": "Meeting"},
            errors=("not_found",),
            description=(
                "`rrule` is an RFC 5545 RRULE (without DTSTART), expanded on the wall clock of"
                " `timezone` from `starts_at` (local, no offset). Its `UNTIL` (the end date)"
                " may be a time on that wall clock (`UNTIL=20270331T235959`, which the web"
                " client sends: through the last session of that local day), a date"
                " (`UNTIL=20270331`, the same) or a UTC time (`UNTIL=20270401T045959Z`); the"
                " series keeps and answers it on its wall clock. `COUNT=1` is a one-off"
                " session. A bad rule, `COUNT` with `UNTIL`, or a room of another kind is"
                " `invalid`. Audited as `meeting_scheduled`."
            ),
        ),
        Route(
            "GET",
            "/api/meetings",
            list_meetings,
            "The meeting series of rooms open to me",
            Access.SIGNED_IN,
            returns={"meetings": ["Meeting"]},
        ),
        Route(
            "GET",
            "/api/meetings/upcoming",
            upcoming,
            "My occurrences from now, ended ones left out",
            Access.SIGNED_IN,
            params=(days_param("days", "How many days ahead", DEFAULT_UPCOMING_DAYS, 1),),
            returns={"occurrences": ["Occurrence"]},
        ),
        Route(
            "GET",
            "/api/meetings/{id}/occurrences",
            occurrences,
            "One series' occurrences, ended and cancelled ones included",
            Access.STAFF,
            params=(
                days_param("past_days", "How many days back", DEFAULT_PAST_DAYS, 0),
                days_param("days", "How many days ahead", DEFAULT_UPCOMING_DAYS, 0),
            ),
            returns={"occurrences": ["Occurrence"]},
        ),
        Route(
            "PATCH",
            "/api/meetings/{id}",
            change_meeting,
            "Change a series: title, schedule (rule, start, time zone), length, lobby, link",
            Access.STAFF,
            body=MeetingPatch,
            returns={"meeting": "Meeting"},
            description="Each given field replaces the series' own (`video_url` null removes"
            " the link); the result is checked, and its `UNTIL` kept, as a new series' would"
            " be (`invalid` names the field). The room stays. Occurrences already held keep"
            " their attendance. The meeting's members and staff get a `meeting_changed`"
            " notice; audited as `meeting_changed`.",
        ),
        Route(
            "POST",
            "/api/meetings/{id}/cancel",
            cancel_occurrence,
            "Cancel one occurrence, named by its UTC start",
            Access.STAFF,
            body=CancelIn,
            returns={"meeting": "Meeting"},
            description="`occurrence`: a UTC start with a Z suffix, such as"
            " 2026-11-23T00:00:00Z. The meeting's members and staff get a `meeting_cancelled`"
            " notice with `reason`, once; audited as `meeting_cancelled`.",
        ),
        Route(
            "POST",
            "/api/meetings/{id}/move",
            move_occurrence,
            "Hold one occurrence, named by its UTC start, at another local time",
            Access.STAFF,
            body=MoveIn,
            returns={"meeting": "Meeting"},
            description="`occurrence`: the occurrence's current UTC start (Z suffix);"
            " `starts_at`: its new start on the series' wall clock, without offset, such as"
            " 2026-12-10T19:00:00. Its lobby, notices, check-ins and attendance go with it,"
            " and `upcoming` lists it with `moved_from`. Refused (`invalid`) once its lobby"
            " has opened, when it is cancelled, when the new lobby would open in the past, or"
            " when another occurrence starts then; moved back to its own time, the move is"
            " forgotten. The meeting's members and staff get a `meeting_moved` notice with"
            " `moved_from`, `starts_at` and `reason`; audited as `meeting_moved`. Calendar"
            " feeds carry it as an event with RECURRENCE-ID.",
        ),
        Route(
            "POST",
            "/api/meetings/{id}/checkins",
            check_in,
            "Check in to the live occurrence (a second check-in replaces the first)",
            Access.SIGNED_IN,
            body=CheckInIn,
            status=201,
            returns={"checkin": "CheckIn"},
            errors=("forbidden", "banned", "meeting_closed"),
            description="Outside an occurrence's live window: `meeting_closed`.",
        ),
        Route(
            "GET",
            "/api/meetings/{id}/attendance",
            attendance,
            "Attendance of one occurrence, as JSON or CSV",
            Access.STAFF,
            params=(
                QueryParam(
                    "occurrence",
                    "string",
                    "The occurrence's UTC start, such as 2026-11-24T00:00:00Z.",
                    required=True,
                ),
            ),
            csv=True,
            returns={"attendees": ["Attendee"]},
            description=(
                "Every patient of the cohort (absent ones with 0 minutes) and anyone else who"
                " joined; staff are not listed. The CSV has the meeting, its local date, start"
                " and time zone on every row, and flags low moods (2 or less of 5)."
            ),
        ),
        Route(
            "GET",
            "/api/attendance",
            attendance_over_range,
            "Attendance over a date range, for a cohort's meetings or one meeting",
            Access.STAFF,
            query=AttendanceQuery,
            csv=True,
            returns={"sessions": ["AttendanceSession"], "people": ["AttendanceSummary"]},
            description="The occurrences that started in [`since`, `until`) (UTC; at most 92"
            " days), cancelled ones left out, each with its attendees as in the one-occurrence"
            " report; and per person: sessions expected or attended, sessions attended,"
            " minutes, arrivals more than 5 minutes late, and check-in moods over time with"
            " low ones (2 or less of 5) flagged. Give `cohort_id` (the meetings of rooms for"
            " that cohort) or `meeting_id`. CSV: one row per person and session.",
        ),
        Route(
            "GET",
            "/api/me/calendar-token",
            calendar_token,
            "My calendar feed token (the same one until revoked)",
            Access.SIGNED_IN,
            returns={"token": "string"},
        ),
        Route(
            "DELETE",
            "/api/me/calendar-token",
            revoke_calendar_token,
            "Revoke my calendar feed token; the feed ends at once",
            Access.SIGNED_IN,
            status=204,
        ),
        Route(
            "GET",
            "/api/calendar.ics",
            calendar_feed,
            "My meetings as an iCalendar feed",
            Access.PUBLIC,
            params=(
                QueryParam(
                    "token",
                    "string",
                    "The calendar feed token: the only credential (calendar apps send no headers).",
                    required=True,
                ),
            ),
            media="text/calendar",
            errors=("unauthorized",),
            description="A missing, unknown or revoked token is `unauthorized`.",
        ),
    ),
)


def add_meeting_routes(app: web.Application) -> None:
    add_routes(app, MEETING_ROUTES)
