"""Console commands for moderation and records: the queue (crisis alerts, then reports, a
report and its alert as one item) and closing its items, mutes and bans in force and lifting
them, the audit log and attendance over a date range as CSV. The same services and inputs as
the moderation and attendance routes (server/moderation/http.py, server/meetings/http.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, get_args
from urllib.parse import urlencode

from server.cli.task import (
    CLI,
    Task,
    add_command,
    add_day_range,
    cohort_id,
    day_range,
    identifier,
    login_name,
    print_rows,
    room_of,
    user_id,
    write_csv,
)
from server.kernel.errors import invalid
from server.kernel.validation import parse_input
from server.meetings.http import ATTENDANCE
from server.meetings.models import AttendanceQuery
from server.moderation.http import ALERTS, AUDIT, REPORTS, RESTRICTIONS
from server.moderation.models import ALERT_OUTCOMES, AckIn, AuditQuery, ResolveIn
from server.moderation.restrictions import BAN, MUTE
from server.privacy.access_audit_http import ACCESS_AUDIT
from server.rooms.http import ROOMS

# The most entries the audit log answers a page with (AuditQuery's `limit`).
AUDIT_PAGE = 1000
# What closes a report, as its input declares it.
RESOLUTIONS = get_args(ResolveIn.model_fields["resolution"].annotation)
OPEN = "open"


def add_commands(commands: Any) -> None:
    add_command(
        commands,
        "queue",
        list_queue,
        "the open queue (tab-separated): crisis alerts, then reports, each report with its"
        " alert as one item, oldest first (a read the access audit records)",
    )

    acknowledge = add_command(
        commands,
        "acknowledge",
        close_item,
        "close an item of the queue: acknowledge an alert or resolve a report (a report and"
        " its alert close together)",
    )
    item = acknowledge.add_mutually_exclusive_group(required=True)
    item.add_argument("--alert", type=identifier, help="the alert's id, as `queue` lists it")
    item.add_argument("--report", type=identifier, help="the report's id, as `queue` lists it")
    acknowledge.add_argument(
        "--outcome",
        required=True,
        help=f"what was done: for an alert, {', '.join(ALERT_OUTCOMES)}; for a report,"
        f" {' or '.join(RESOLUTIONS)}",
    )
    acknowledge.add_argument("--note", default="", help="kept with it and in the audit log")

    restrictions = add_command(
        commands, "restrictions", list_restrictions, "mutes and bans in force (tab-separated)"
    )
    restrictions.add_argument("--room", help="one room, by name (default: every room)")

    lift = add_command(commands, "lift", lift_restriction, "lift a mute or a ban early")
    lift.add_argument("--kind", required=True, choices=[MUTE, BAN])
    lift.add_argument("--room", required=True, help="room name")
    lift.add_argument("--username", required=True)

    audit = add_command(
        commands,
        "audit",
        audit_csv,
        "the audit log as CSV, every matching entry, newest first",
    )
    audit.add_argument("--username", help="who acted or was acted on")
    audit.add_argument("--room", help="room name")
    audit.add_argument("--action", default="", help="as entries name it, such as ban")
    add_day_range(audit, required=False)
    _out(audit)

    attendance = add_command(
        commands,
        "attendance",
        attendance_csv,
        "a cohort's attendance over a date range as CSV: a row per person and session, with"
        " the meeting, date and time zone (a read the access audit records)",
    )
    attendance.add_argument("--cohort", required=True, help="cohort name")
    add_day_range(attendance, required=True)
    _out(attendance)


def _out(parser: Any) -> None:
    parser.add_argument("--out", type=Path, help="write the CSV to this file, not to stdout")


# ----- the queue -----


async def list_queue(task: Task) -> int:
    """A line per item: what it is, its alert and report ids (`acknowledge` takes either),
    when it was raised, where, whose words, the words, and why it is in the queue."""
    alerts = await task.app[ALERTS].list(task.staff, OPEN)
    reports = await task.app[REPORTS].queue(task.staff, OPEN)
    # As the API records reads of GET /api/alerts and /api/reports.
    for kind in ("alerts", "reports"):
        await task.app[ACCESS_AUDIT].record_access(
            task.staff, kind, detail=f"status={OPEN}", request_id=CLI
        )
    every = await task.app[ROOMS].list_rooms(task.staff, archived=True)
    rooms = {room["id"]: room["name"] for room in every}
    crisis = sorted((alert for alert in alerts if alert["kind"] != "report"), key=_age)
    rows: list[tuple[object, ...]] = [
        (
            "crisis",
            alert["id"],
            None,
            alert["created_at"],
            rooms.get(alert["room_id"]),
            _alias(alert["user"]),
            alert["excerpt"],
            ", ".join(
                [part for part in (alert["category"], alert["severity"]) if part]
                + ([f"raised {alert['raise_count']} times"] if alert["raise_count"] > 1 else [])
            ),
        )
        for alert in crisis
    ]
    for report, its_alerts in _report_items(reports, alerts):
        first = report or its_alerts[0]
        rows.append(
            (
                "report",
                ", ".join(str(alert["id"]) for alert in its_alerts) or None,
                report["id"] if report else None,
                first["created_at"],
                rooms.get(first["room_id"]),
                _alias(report["author"] if report else its_alerts[0]["user"]),
                _reported_words(report, its_alerts),
                (_alias(report["reporter"]) + f": {report['reason']}") if report else None,
            )
        )
    print_rows(("item", "alert", "report", "raised (UTC)", "room", "writer", "words", "why"), rows)
    return 0


def _age(item: dict[str, Any]) -> tuple[str, int]:
    return item["created_at"], item["id"]


def _alias(user: dict[str, Any] | None) -> str:
    return user["display_name"] if user else "someone"


def _report_items(
    reports: list[dict[str, Any]], alerts: list[dict[str, Any]]
) -> list[tuple[dict[str, Any] | None, list[dict[str, Any]]]]:
    """Each open report with its open alerts, and each report alert whose report is not
    open (closed meanwhile, or none), oldest first: the console's report items."""
    items: dict[tuple[str, int], tuple[dict[str, Any] | None, list[dict[str, Any]]]] = {
        ("report", report["id"]): (report, []) for report in reports
    }
    for alert in alerts:
        if alert["kind"] != "report":
            continue
        key = ("report", alert["report_id"]) if alert["report_id"] else ("alert", alert["id"])
        items.setdefault(key, (None, []))[1].append(alert)
    return sorted(items.values(), key=lambda item: _age(item[0] or item[1][0]))


def _reported_words(report: dict[str, Any] | None, alerts: list[dict[str, Any]]) -> str:
    if report is None:
        return str(alerts[0]["excerpt"])
    message = report["message"]
    if message is None:
        return "(message not available)"
    return "(message deleted)" if message["deleted"] else str(message["body"])


async def close_item(task: Task) -> int:
    """As the console's queue closes it: the services close a report's alert with the report,
    and a report alert's report with the alert."""
    args = task.args
    if args.alert is None:
        return await _resolve_report(task)
    outcome = _outcome(args.outcome, ALERT_OUTCOMES, "an alert")
    data = parse_input(AckIn, {"outcome": outcome, "note": args.note})
    alert = await task.app[ALERTS].acknowledge(task.staff, args.alert, data)
    with_it = f"; report {alert['report_id']} closed with it" if alert["report_id"] else ""
    print(f"alert {alert['id']} acknowledged: {alert['outcome']}{with_it}")
    return 0


async def _resolve_report(task: Task) -> int:
    args = task.args
    resolution = _outcome(args.outcome, RESOLUTIONS, "a report")
    data = parse_input(ResolveIn, {"resolution": resolution, "note": args.note})
    report = await task.app[REPORTS].resolve(task.staff, args.report, data)
    print(f"report {report['id']} {report['status']}; its alert acknowledged with it")
    return 0


def _outcome(given: str, allowed: tuple[str, ...], of: str) -> str:
    """`--outcome` says what closes either kind of item; each takes its own words."""
    if given not in allowed:
        raise invalid(f"--outcome: for {of}, use one of {', '.join(allowed)}.")
    return given


# ----- mutes and bans -----


async def list_restrictions(task: Task) -> int:
    if task.args.room is None:
        rooms = await task.app[ROOMS].list_rooms(task.staff)
    else:
        rooms = [await room_of(task, task.args.room)]
    service = task.app[RESTRICTIONS]
    rows = []
    for room in rooms:
        for kind in (MUTE, BAN):
            for each in await service.current(task.staff, room["id"], kind):
                by = each["created_by"] or {}
                rows.append(
                    (
                        kind,
                        room["name"],
                        each["user"]["id"],
                        each["user"]["display_name"],
                        each["until"] or "until lifted",
                        by.get("display_name"),
                        each["reason"],
                    )
                )
    print_rows(("kind", "room", "user id", "alias", "until", "by", "reason"), rows)
    return 0


async def lift_restriction(task: Task) -> int:
    args = task.args
    room = await room_of(task, args.room)
    person = await user_id(task, args.username)
    await task.app[RESTRICTIONS].lift(task.staff, room["id"], args.kind, person)
    print(f"{args.kind} of {login_name(args.username)} in {room['name']} lifted; they are told")
    return 0


# ----- records -----


async def audit_csv(task: Task) -> int:
    args = task.args
    since, until = day_range(args)
    fields = {
        "user_id": await user_id(task, args.username) if args.username else None,
        "room_id": (await room_of(task, args.room))["id"] if args.room else None,
        "action": args.action,
        "since": since,
        "until": until,
        "limit": AUDIT_PAGE,
    }
    query = parse_input(AuditQuery, {name: value for name, value in fields.items() if value})
    write_csv(await task.app[AUDIT].as_csv(task.staff, query), args.out)
    return 0


async def attendance_csv(task: Task) -> int:
    args = task.args
    since, until = day_range(args)
    cohort = await cohort_id(task, args.cohort)
    fields = {"cohort_id": cohort, "since": since, "until": until}
    query = parse_input(AttendanceQuery, fields)
    text = await task.app[ATTENDANCE].range_csv(task.staff, query)
    # As the API records a read of GET /api/attendance (server/privacy/access_audit.py).
    await task.app[ACCESS_AUDIT].record_access(
        task.staff,
        "attendance",
        ("cohort", cohort),
        detail=urlencode(fields | {"format": "csv"}),
        request_id=CLI,
    )
    write_csv(text, args.out)
    return 0
