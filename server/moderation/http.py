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
from server.moderation.models import AckIn, AuditQuery, BanIn, KickIn, MuteIn, ReportIn, ResolveIn
from server.moderation.reports import REPORT_STATUSES, ReportService
from server.moderation.restrictions import BAN, MUTE, RestrictionService

RESTRICTIONS = web.AppKey("restrictions", RestrictionService)
REPORTS = web.AppKey("reports", ReportService)
ALERTS = web.AppKey("alerts", AlertService)
AUDIT = web.AppKey("audit", AuditLog)


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
    status = status_filter(request, ("open", "acknowledged"))
    return ok({"alerts": await request.app[ALERTS].list(actor, status)})


async def acknowledge_alert(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    data = await read_input(request, AckIn)
    return ok({"alert": await request.app[ALERTS].acknowledge(actor, path_id(request), data)})


async def audit_log(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    query = parse_input(AuditQuery, query_ints(request, "room_id", "before", "limit"))
    audit = request.app[AUDIT]

    async def as_json() -> dict[str, Any]:
        return {"entries": await audit.entries(actor, query)}

    return await json_or_csv(
        request,
        filename="peerrooms-audit.csv",
        as_json=as_json,
        as_csv=lambda: audit.as_csv(actor, query),
    )


def add_moderation_routes(app: web.Application) -> None:
    app.router.add_post("/api/rooms/{id}/mutes", mute)
    app.router.add_get("/api/rooms/{id}/mutes", list_mutes)
    app.router.add_delete("/api/rooms/{id}/mutes/{user_id}", unmute)
    app.router.add_post("/api/rooms/{id}/kicks", kick)
    app.router.add_post("/api/rooms/{id}/bans", ban)
    app.router.add_get("/api/rooms/{id}/bans", list_bans)
    app.router.add_delete("/api/rooms/{id}/bans/{user_id}", unban)
    app.router.add_post("/api/messages/{id}/reports", report_message)
    app.router.add_get("/api/reports", list_reports)
    app.router.add_post("/api/reports/{id}/resolve", resolve_report)
    app.router.add_get("/api/alerts", list_alerts)
    app.router.add_post("/api/alerts/{id}/ack", acknowledge_alert)
    app.router.add_get("/api/audit", audit_log)
