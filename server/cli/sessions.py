"""Console commands for sessions: the same services and inputs as the meeting routes
(server/meetings/http.py). A series is given as the console's form asks for it (days, time,
time zone, length, lobby, first and last day, or one session only) and built into the RRULE
the API takes, as web/src/meetings-admin.ts builds it; an edited one's rule is read back into
days and last day, and rebuilt, as that form does."""

from __future__ import annotations

import argparse
import re
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from server.cli.task import (
    Task,
    add_command,
    clock_time,
    day,
    identifier,
    print_rows,
    room_of,
    zone,
)
from server.kernel.errors import invalid, not_found
from server.kernel.validation import parse_input
from server.meetings.http import DEFAULT_PAST_DAYS, DEFAULT_UPCOMING_DAYS, MEETINGS
from server.meetings.models import LOCAL_FORMAT, CancelIn, MeetingIn, MeetingPatch, MoveIn
from server.rooms.http import ROOMS

# RFC 5545's weekdays as BYDAY names them, in the week's order, with the names they abbreviate.
WEEKDAYS = {
    "MO": "monday",
    "TU": "tuesday",
    "WE": "wednesday",
    "TH": "thursday",
    "FR": "friday",
    "SA": "saturday",
    "SU": "sunday",
}
ONE_SESSION = "FREQ=DAILY;COUNT=1"


def add_commands(commands: Any) -> None:
    add_command(commands, "meetings", list_meetings, "list meeting series (tab-separated)")

    occurrences = add_command(
        commands,
        "sessions",
        list_sessions,
        "one series' sessions (tab-separated), ended and cancelled ones included: the UTC"
        " start that cancel-session and move-session take, and the local one",
    )
    occurrences.add_argument("--meeting", required=True, type=identifier, help="series id")
    occurrences.add_argument("--past-days", type=int, default=DEFAULT_PAST_DAYS)
    occurrences.add_argument("--days", type=int, default=DEFAULT_UPCOMING_DAYS)

    schedule = add_command(
        commands, "schedule", schedule_series, "schedule a weekly series of sessions"
    )
    _session_fields(schedule)
    _series_days(schedule)

    edit = add_command(
        commands,
        "edit-series",
        edit_series,
        "change a series: its title, days, time, time zone, length, lobby, first or last day,"
        " link (it stays in its room); its members are told",
    )
    edit.add_argument("--meeting", required=True, type=identifier, help="series id")
    _session_fields(edit, editing=True)
    _series_days(edit, editing=True)

    one = add_command(commands, "add-session", add_session, "schedule one session only")
    _session_fields(one)
    one.add_argument("--date", required=True, help="its day, such as 2027-03-04")

    cancel = add_command(
        commands,
        "cancel-session",
        cancel_session,
        "cancel one session; its members are told, with the reason",
    )
    _occurrence_fields(cancel)

    move = add_command(
        commands,
        "move-session",
        move_session,
        "hold one session at another time; its members are told, with the reason",
    )
    _occurrence_fields(move)
    move.add_argument("--to", required=True, help="its new local start, such as 2027-03-05T19:00")


def _session_fields(parser: argparse.ArgumentParser, *, editing: bool = False) -> None:
    """A new session's fields, each required but the lobby and link; or, `editing`, those a
    series may change, each optional (the room stays)."""
    parser.add_argument("--title", required=not editing)
    if not editing:
        parser.add_argument("--room", required=True, help="a room of kind meeting, by name")
    parser.add_argument("--time", required=not editing, help="local start, such as 18:00")
    parser.add_argument("--timezone", required=not editing, help="such as America/Chicago")
    parser.add_argument("--duration", required=not editing, type=int, help="minutes")
    parser.add_argument(
        "--lobby",
        type=int,
        default=None if editing else 15,
        help="minutes the lobby opens before",
    )
    parser.add_argument(
        "--video-url",
        help="a video link outside peerrooms" + ('; "" takes it away' if editing else ""),
    )


def _series_days(parser: argparse.ArgumentParser, *, editing: bool = False) -> None:
    parser.add_argument(
        "--weekdays",
        required=not editing,
        help="the days it meets, such as MO,WE,TH or Mon,Wed,Thu",
    )
    parser.add_argument("--start", required=not editing, help="its first day, such as 2027-03-01")
    ending = parser.add_mutually_exclusive_group()
    without = "its last day stays" if editing else "no end"
    ending.add_argument("--end", help=f"its last day (included); without it, {without}")
    if editing:
        ending.add_argument("--no-end", action="store_true", help="take its last day away")


def _occurrence_fields(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--meeting", required=True, type=identifier, help="series id")
    parser.add_argument(
        "--occurrence",
        required=True,
        help="its UTC start as `sessions` lists it, such as 2027-03-03T00:00:00Z",
    )
    parser.add_argument("--reason", default="", help="what its members are told")


# ----- listing -----


async def list_meetings(task: Task) -> int:
    every = await task.app[ROOMS].list_rooms(task.staff, archived=True)
    rooms = {room["id"]: room["name"] for room in every}
    print_rows(
        (
            "id",
            "title",
            "room",
            "rule",
            "first start",
            "timezone",
            "minutes",
            "lobby",
            "cancelled",
            "moved",
        ),  # fmt: skip
        (
            (
                each["id"],
                each["title"],
                rooms.get(each["room_id"], "?"),
                each["rrule"],
                each["starts_at"],
                each["timezone"],
                each["duration_minutes"],
                each["lobby_minutes"],
                len(each["cancelled"]),
                len(each["moved"]),
            )
            for each in await task.app[MEETINGS].meetings_of(task.staff)
        ),
    )
    return 0


async def list_sessions(task: Task) -> int:
    args = task.args
    meetings = task.app[MEETINGS]
    # Refused first for a series that is not there, or not for this account.
    listed = await meetings.occurrences(
        task.staff, args.meeting, past_days=args.past_days, days=args.days
    )
    series = {each["id"]: each for each in await meetings.meetings_of(task.staff)}
    where = ZoneInfo(series[args.meeting]["timezone"])
    print_rows(
        ("starts (UTC)", "local start", "status", "moved from (UTC)"),
        (
            (
                each["starts_at"],
                _utc(each["starts_at"]).astimezone(where).strftime("%a %Y-%m-%d %H:%M"),
                each["status"],
                each["moved_from"],
            )
            for each in listed
        ),
    )
    return 0


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# ----- scheduling -----


async def schedule_series(task: Task) -> int:
    args = task.args
    first = day(args.start, "--start")
    last = None if args.end is None else last_day(args.end, first)
    return await _create(task, weekly_rule(weekdays(args.weekdays), last), first)


async def add_session(task: Task) -> int:
    return await _create(task, ONE_SESSION, day(task.args.date, "--date"))


async def _create(task: Task, rule: str, first_day: date) -> int:
    args = task.args
    zone(args.timezone)
    starts = datetime.combine(first_day, clock_time(args.time, "--time"))
    fields = {
        "title": args.title,
        "room_id": (await room_of(task, args.room))["id"],
        "rrule": rule,
        "starts_at": starts.strftime(LOCAL_FORMAT),
        "timezone": args.timezone,
        "duration_minutes": args.duration,
        "lobby_minutes": args.lobby,
        "video_url": args.video_url,
    }
    meeting = await task.app[MEETINGS].create(task.staff, parse_input(MeetingIn, fields))
    print(
        f"meeting {meeting['id']} scheduled: {meeting['title']}, {meeting['rrule']}, from"
        f" {meeting['starts_at']} {meeting['timezone']}"
    )
    return 0


# ----- changing a series -----

# What a series' answer holds that `edit-series` may change, as MeetingPatch names it.
CHANGEABLE = tuple(MeetingPatch.model_fields)


async def edit_series(task: Task) -> int:
    args = task.args
    options = ("title", "weekdays", "start", "time", "timezone", "duration", "lobby", "video_url")
    if all(getattr(args, name) is None for name in (*options, "end")) and not args.no_end:
        raise invalid("edit-series: give what to change, such as --title or --time.")
    meetings = task.app[MEETINGS]
    series = {each["id"]: each for each in await meetings.meetings_of(task.staff)}.get(args.meeting)
    if series is None:
        raise not_found("meeting")
    if args.timezone is not None:
        zone(args.timezone)
    was = datetime.fromisoformat(series["starts_at"])
    start = _edited_start(was, args)
    fields = {
        "title": args.title,
        "rrule": _edited_rule(series["rrule"], args, (start or was).date()),
        "starts_at": None if start is None else start.strftime(LOCAL_FORMAT),
        "timezone": args.timezone,
        "duration_minutes": args.duration,
        "lobby_minutes": args.lobby,
        "video_url": args.video_url,
    }
    given = {name: value for name, value in fields.items() if value is not None}
    meeting = await meetings.change(task.staff, args.meeting, parse_input(MeetingPatch, given))
    changed = [name for name in CHANGEABLE if meeting[name] != series[name]]
    if not changed:
        print(f"meeting {meeting['id']}: nothing to change; nobody told")
        return 0
    print(
        f"meeting {meeting['id']} changed ({', '.join(changed)}): {meeting['title']},"
        f" {meeting['rrule']}, from {meeting['starts_at']} {meeting['timezone']},"
        f" {meeting['duration_minutes']} min, lobby {meeting['lobby_minutes']} min; members told"
    )
    return 0


def _edited_start(was: datetime, args: argparse.Namespace) -> datetime | None:
    """The series' first start with the day or time given; None when neither is."""
    if args.start is None and args.time is None:
        return None
    first = was.date() if args.start is None else day(args.start, "--start")
    at = was.time() if args.time is None else clock_time(args.time, "--time")
    return datetime.combine(first, at)


def _edited_rule(rule: str, args: argparse.Namespace, first: date) -> str | None:
    """The series' rule with the days or last day given, read and rebuilt as the console's
    form does (its other parts go); None when neither is given."""
    if args.weekdays is None and args.end is None and not args.no_end:
        return None
    parts = dict(part.split("=", 1) for part in rule.upper().split(";") if "=" in part)
    if args.weekdays is not None:
        days = weekdays(args.weekdays)
    else:
        days = [code for code in parts.get("BYDAY", "").split(",") if code in WEEKDAYS]
        if not days or parts.get("COUNT") == "1":
            raise invalid("--weekdays: this series meets on no weekdays; say which days.")
    last = None
    if args.end is not None:
        last = last_day(args.end, first)
    elif not args.no_end and (until := re.match(r"\d{8}", parts.get("UNTIL", ""))):
        last = date.fromisoformat(until.group())
    return weekly_rule(days, last)


# ----- rules -----


def weekly_rule(days: list[str], last: date | None) -> str:
    rule = f"FREQ=WEEKLY;BYDAY={','.join(days)}"
    if last is not None:
        # The last day's end on the series' wall clock, where the API expands its rule.
        rule += f";UNTIL={last.strftime('%Y%m%d')}T235959"
    return rule


def last_day(text: str, first: date) -> date:
    last = day(text, "--end")
    if last < first:
        raise invalid(f"--end: give a day on or after --start ({first}).")
    return last


def weekdays(text: str) -> list[str]:
    """`MO,WE` or `Mon,Wed` or `monday,wednesday`, as BYDAY's names, in the week's order."""
    chosen = set()
    for given in text.split(","):
        name = given.strip().lower()
        found = [
            code
            for code, day_name in WEEKDAYS.items()
            if len(name) >= 2 and day_name.startswith(name)
        ]
        if not found:
            raise invalid(f"--weekdays: {given.strip()!r} is not a day; use MO,TU,WE,TH,FR,SA,SU.")
        chosen.update(found)
    return [code for code in WEEKDAYS if code in chosen]


# ----- one occurrence -----


async def cancel_session(task: Task) -> int:
    args = task.args
    data = parse_input(CancelIn, {"occurrence": args.occurrence, "reason": args.reason})
    await task.app[MEETINGS].cancel(task.staff, args.meeting, data)
    print(f"meeting {args.meeting}: the session at {args.occurrence} is cancelled; members told")
    return 0


async def move_session(task: Task) -> int:
    args = task.args
    fields = {"occurrence": args.occurrence, "starts_at": args.to, "reason": args.reason}
    data = parse_input(MoveIn, fields)
    meeting = await task.app[MEETINGS].move(task.staff, args.meeting, data)
    print(
        f"meeting {args.meeting}: the session at {args.occurrence} moves to {data.starts_at}"
        f" {meeting['timezone']}; members told"
    )
    return 0
