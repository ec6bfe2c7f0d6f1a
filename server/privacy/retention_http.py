"""HTTP routes of retention and legal holds: parse, call the service, answer. Admins only."""

from __future__ import annotations

from aiohttp import web

from server.accounts.http import current_actor
from server.kernel.http import ok, path_id, read_input
from server.kernel.validation import parse_input
from server.privacy.holds import LegalHolds
from server.privacy.retention import Retention
from server.privacy.retention_models import HoldIn, HoldsQuery, LiftIn
from server.reference.routes import Access, Route, RouteTable, add_routes

RETENTION = web.AppKey("retention", Retention)
LEGAL_HOLDS = web.AppKey("legal_holds", LegalHolds)


async def retention_report(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    return ok({"report": await request.app[RETENTION].report(actor)})


async def list_holds(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    query = parse_input(HoldsQuery, dict(request.query))
    return ok({"holds": await request.app[LEGAL_HOLDS].list_holds(actor, query.status)})


async def place_hold(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    data = await read_input(request, HoldIn)
    return ok({"hold": await request.app[LEGAL_HOLDS].place(actor, data)}, status=201)


async def lift_hold(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    data = await read_input(request, LiftIn)
    hold = await request.app[LEGAL_HOLDS].lift(actor, path_id(request), data)
    return ok({"hold": hold})


RETENTION_ROUTES = RouteTable(
    "retention",
    "How long records are kept, and legal holds (docs/privacy.md).",
    (
        Route(
            "GET",
            "/api/retention/report",
            retention_report,
            "What a retention run would delete now, class by class (a dry run)",
            Access.ADMIN,
            returns={"report": "RetentionReport"},
            description="Per class of record: its period in days (0: kept for ever), how many"
            " records past it a run would delete now (`due`), how many past it legal holds keep"
            " (`held`), and how many past it are kept while a case about them is open"
            " (`kept_open`: an open alert or report about a message; a person's alerts while"
            " one of theirs is open; an open report or one whose alert is open). Nothing is"
            " deleted.",
        ),
        Route(
            "GET",
            "/api/legal-holds",
            list_holds,
            "Legal holds, newest first",
            Access.ADMIN,
            query=HoldsQuery,
            returns={"holds": ["LegalHold"]},
            description="`status`: `active` (in force, the default), `lifted` or `all`.",
        ),
        Route(
            "POST",
            "/api/legal-holds",
            place_hold,
            "Place a legal hold on a room or a person (audited as `legal_hold_placed`)",
            Access.ADMIN,
            body=HoldIn,
            status=201,
            returns={"hold": "LegalHold"},
            errors=("not_found",),
            description="Exactly one of `room_id` and `user_id`. While it is in force,"
            " retention deletes nothing it covers: a room's messages, alerts, reports and audit"
            " entries; a person's messages everywhere, their private support conversation,"
            " alerts and reports about them, and audit entries about them or by them. An"
            " unknown room or person is `not_found`. Holds on the same room or person may"
            " stand side by side (one per matter); each is lifted on its own.",
        ),
        Route(
            "POST",
            "/api/legal-holds/{id}/lift",
            lift_hold,
            "Lift a legal hold (audited as `legal_hold_lifted`)",
            Access.ADMIN,
            body=LiftIn,
            returns={"hold": "LegalHold"},
            errors=("conflict",),
            description="`reason` (optional) goes to the audit log. What the hold kept is"
            " deleted by the next retention run if it is past its period and nothing else"
            " keeps it. Lifting a lifted hold is `conflict`.",
        ),
    ),
)


def add_retention_routes(app: web.Application) -> None:
    add_routes(app, RETENTION_ROUTES)
