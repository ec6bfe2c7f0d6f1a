"""HTTP routes of moderation: parse, call the service, answer."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from server.accounts.http import current_actor
from server.kernel.errors import invalid
from server.kernel.http import json_or_csv, ok, path_id, query_ints, read_input
from server.kernel.validation import parse_input
from server.moderation.alerts import AlertService
from server.moderation.audit import AuditLog
from server.moderation.models import (
    AckIn,
    AuditQuery,
    BanIn,
    DutyIn,
    KickIn,
    MuteIn,
    ReportIn,
    ResolveIn,
)
from server.moderation.reports import REPORT_STATUSES, ReportService
from server.moderation.restrictions import BAN, MUTE, RestrictionService
from server.moderation.support import SupportConversations
from server.reference.routes import Access, QueryParam, Route, RouteTable, add_routes

RESTRICTIONS = web.AppKey("restrictions", RestrictionService)
REPORTS = web.AppKey("reports", ReportService)
ALERTS = web.AppKey("alerts", AlertService)
SUPPORT = web.AppKey("support", SupportConversations)
AUDIT = web.AppKey("audit", AuditLog)
# `merged`: a crisis alert folded into the same person's open one (alerts.py).
ALERT_STATUSES = ("open", "acknowledged", "merged")


def status_filter(request: web.Request, allowed: tuple[str, ...]) -> str | None:
    """`?status=` as given (default open); `all` for every status."""
    status = request.query.get("status", "open")
    if status == "all":
        return None
    if status not in allowed:
        raise invalid(f"status: use one of {', '.join(allowed)} or all.")
    return status


async def mute(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    data = await read_input(request, MuteIn)
    mute = await request.app[RESTRICTIONS].mute(actor, path_id(request), data)
    return ok({"mute": mute}, status=201)


async def unmute(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    await request.app[RESTRICTIONS].lift(actor, path_id(request), MUTE, path_id(request, "user_id"))
    return web.Response(status=204)


async def list_mutes(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    return ok({"mutes": await request.app[RESTRICTIONS].current(actor, path_id(request), MUTE)})


async def kick(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    data = await read_input(request, KickIn)
    await request.app[RESTRICTIONS].kick(actor, path_id(request), data)
    return ok({"kick": {"room_id": path_id(request), "user_id": data.user_id}}, status=201)


async def ban(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    data = await read_input(request, BanIn)
    ban = await request.app[RESTRICTIONS].ban(actor, path_id(request), data)
    return ok({"ban": ban}, status=201)


async def unban(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    await request.app[RESTRICTIONS].lift(actor, path_id(request), BAN, path_id(request, "user_id"))
    return web.Response(status=204)


async def list_bans(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    return ok({"bans": await request.app[RESTRICTIONS].current(actor, path_id(request), BAN)})


async def report_message(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    data = await read_input(request, ReportIn)
    report = await request.app[REPORTS].report(actor, path_id(request), data)
    return ok({"report": report}, status=201)


async def list_reports(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    status = status_filter(request, REPORT_STATUSES)
    return ok({"reports": await request.app[REPORTS].queue(actor, status)})


async def resolve_report(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    data = await read_input(request, ResolveIn)
    return ok({"report": await request.app[REPORTS].resolve(actor, path_id(request), data)})


async def list_alerts(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    status = status_filter(request, ALERT_STATUSES)
    return ok({"alerts": await request.app[ALERTS].list(actor, status)})


async def acknowledge_alert(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    data = await read_input(request, AckIn)
    return ok({"alert": await request.app[ALERTS].acknowledge(actor, path_id(request), data)})


async def open_support(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    return ok(await request.app[SUPPORT].open_from_alert(actor, path_id(request)))


async def duty_roster(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    return ok({"duty": await request.app[ALERTS].desk.roster(actor)})


async def set_duty(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    data = await read_input(request, DutyIn)
    return ok({"duty": await request.app[ALERTS].desk.set_duty(actor, data)})


async def audit_log(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    texts = {
        name: request.query[name] for name in ("action", "since", "until") if name in request.query
    }
    numbers = query_ints(request, "room_id", "user_id", "before", "limit")
    query = parse_input(AuditQuery, texts | numbers)
    audit = request.app[AUDIT]

    async def as_json() -> dict[str, Any]:
        return await audit.entries(actor, query)

    return await json_or_csv(
        request,
        filename="peerrooms-audit.csv",
        as_json=as_json,
        as_csv=lambda: audit.as_csv(actor, query),
    )


def status_param(statuses: tuple[str, ...]) -> QueryParam:
    return QueryParam(
        "status",
        "string",
        "Which to list; `all` for every status. Default: open.",
        choices=(*statuses, "all"),
    )


MODERATION_ROUTES = RouteTable(
    "moderation",
    "Mutes, kicks and bans, the report queue, crisis and report alerts, and the audit log.",
    (
        Route(
            "POST",
            "/api/rooms/{id}/mutes",
            mute,
            "Mute a user in a room for some minutes",
            Access.STAFF,
            body=MuteIn,
            status=201,
            returns={"mute": "Restriction"},
            description=(
                "Replaces a mute in force. The user gets a `notice` of kind `muted`; their"
                " posts get `muted` until it ends. Moderators and admins cannot be muted"
                " (`forbidden`); an unknown user is `not_found`."
            ),
        ),
        Route(
            "GET",
            "/api/rooms/{id}/mutes",
            list_mutes,
            "The mutes in force in a room",
            Access.STAFF,
            returns={"mutes": ["Restriction"]},
        ),
        Route(
            "DELETE",
            "/api/rooms/{id}/mutes/{user_id}",
            unmute,
            "Lift a user's mute early",
            Access.STAFF,
            status=204,
            description=(
                "The user gets a `notice` of kind `unmuted`; no mute in force: `not_found`."
            ),
        ),
        Route(
            "POST",
            "/api/rooms/{id}/kicks",
            kick,
            "Remove every socket of a user from a room (they may join again)",
            Access.STAFF,
            body=KickIn,
            status=201,
            returns={"kick": "Kick"},
            description=(
                "The user gets a `notice` of kind `kicked`; the room sees `presence` offline."
            ),
        ),
        Route(
            "POST",
            "/api/rooms/{id}/bans",
            ban,
            "Ban a user from a room, for some minutes or until lifted",
            Access.STAFF,
            body=BanIn,
            status=201,
            returns={"ban": "Restriction"},
            description=(
                "As a kick, and `join`, `send`, `history` and HTTP history then answer `banned`"
                " with `until` (null: until lifted). The user gets a `notice` of kind `banned`."
            ),
        ),
        Route(
            "GET",
            "/api/rooms/{id}/bans",
            list_bans,
            "The bans in force in a room",
            Access.STAFF,
            returns={"bans": ["Restriction"]},
        ),
        Route(
            "DELETE",
            "/api/rooms/{id}/bans/{user_id}",
            unban,
            "Lift a user's ban early",
            Access.STAFF,
            status=204,
            description=(
                "The user gets a `notice` of kind `unbanned`; no ban in force: `not_found`."
            ),
        ),
        Route(
            "POST",
            "/api/messages/{id}/reports",
            report_message,
            "Report a message to the moderators",
            Access.SIGNED_IN,
            body=ReportIn,
            status=201,
            returns={"report": "Report"},
            errors=("forbidden", "banned", "conflict"),
            description=(
                "Raises an alert of kind `report`. Reporting a message one has an open report"
                " on is `conflict`."
            ),
        ),
        Route(
            "GET",
            "/api/reports",
            list_reports,
            "The report queue",
            Access.STAFF,
            params=(status_param(REPORT_STATUSES),),
            returns={"reports": ["Report"]},
        ),
        Route(
            "POST",
            "/api/reports/{id}/resolve",
            resolve_report,
            "Resolve a report (its alert is acknowledged with it)",
            Access.STAFF,
            body=ResolveIn,
            returns={"report": "Report"},
            errors=("conflict",),
            description="Resolving a resolved report is `conflict`.",
        ),
        Route(
            "GET",
            "/api/alerts",
            list_alerts,
            "Crisis and report alerts",
            Access.STAFF,
            params=(status_param(ALERT_STATUSES),),
            returns={"alerts": ["Alert"]},
        ),
        Route(
            "POST",
            "/api/alerts/{id}/ack",
            acknowledge_alert,
            "Acknowledge an alert (every online moderator gets `alert_acknowledged`)",
            Access.STAFF,
            body=AckIn,
            returns={"alert": "Alert"},
            errors=("conflict",),
            description="Acknowledging an acknowledged alert is `conflict`. `outcome` says what"
            " was done (kept with the note in the alert and the audit log). A report's alert"
            " resolves its report with it: `dismissed` for `not_a_crisis`, otherwise"
            " `actioned`, with the note.",
        ),
        Route(
            "POST",
            "/api/alerts/{id}/support",
            open_support,
            "Open a private support conversation with the alert's writer",
            Access.STAFF,
            returns={"room": "Room", "alert": "Alert"},
            description="A room of the writer and staff only (audience `person`), one per"
            " person: opened again, it is the same room. The writer gets a `support_opened`"
            " notice naming who opened it; audited as `support_opened`.",
        ),
        Route(
            "GET",
            "/api/duty",
            duty_roster,
            "Staff on duty: whether I am, and who is",
            Access.STAFF,
            returns={"duty": "Duty"},
        ),
        Route(
            "PUT",
            "/api/duty",
            set_duty,
            "Go on duty or off it (audited as `duty_started` / `duty_ended`)",
            Access.STAFF,
            body=DutyIn,
            returns={"duty": "Duty"},
            description="A crisis alert raised while someone on duty is online tells its"
            " writer that staff on duty were alerted.",
        ),
        Route(
            "GET",
            "/api/audit",
            audit_log,
            "The audit log, newest first, filtered, as JSON or CSV",
            Access.STAFF,
            query=AuditQuery,
            csv=True,
            returns={"entries": ["AuditEntry"], "next_before": "integer|null"},
            description="Filters: `room_id`; `user_id` (the person who acted or was acted on);"
            " `action` (as the entries name it, e.g. `ban`, `crisis_alert`); `since` (inclusive)"
            " and `until` (exclusive), UTC times such as 2026-11-23T00:00:00Z. Page back with"
            " `before` = `next_before` (null: nothing older matches). CSV has a header row and"
            " every matching entry, not one page.",
        ),
    ),
)


def add_moderation_routes(app: web.Application) -> None:
    add_routes(app, MODERATION_ROUTES)
