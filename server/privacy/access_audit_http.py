"""HTTP route of the access audit: admins read who read what, as JSON or CSV."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from server.accounts.http import current_actor
from server.kernel.http import json_or_csv, query_ints
from server.kernel.validation import parse_input
from server.privacy.access_audit import AccessAudit
from server.privacy.access_audit_models import AccessLogQuery
from server.reference.routes import Access, Route, RouteTable, add_routes

ACCESS_AUDIT = web.AppKey("access_audit", AccessAudit)


async def access_log(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    texts = {
        name: request.query[name]
        for name in ("kind", "target_type", "since", "until")
        if name in request.query
    }
    numbers = query_ints(request, "actor_id", "target_id", "before", "limit")
    query = parse_input(AccessLogQuery, texts | numbers)
    audit = request.app[ACCESS_AUDIT]

    async def as_json() -> dict[str, Any]:
        return await audit.entries(actor, query)

    return await json_or_csv(
        request,
        filename="peerrooms-access-log.csv",
        as_json=as_json,
        as_csv=lambda: audit.as_csv(actor, query),
    )


ACCESS_AUDIT_ROUTES = RouteTable(
    "access audit",
    "Who among staff read alerts, reports, a person's page, attendance or an export, and when"
    " (docs/privacy.md).",
    (
        Route(
            "GET",
            "/api/access-log",
            access_log,
            "The access log: staff reads of people's records, newest first",
            Access.ADMIN,
            query=AccessLogQuery,
            csv=True,
            returns={"entries": ["AccessLogEntry"], "next_before": "integer|null"},
            description="One entry per read by a moderator or admin: the alert list"
            " (`alerts`), the report queue (`reports`), a person's page (`person`, target the"
            " user), attendance of an occurrence or over a range (`attendance`, target the"
            " meeting or the cohort), a person's data export (`export`). Filters: `actor_id`"
            " (who read), `kind`, `target_type` and `target_id`, `since` (inclusive) and"
            " `until` (exclusive). Pass `next_before` as `before` for the next page; null when"
            " there is none. `format=csv`: every entry that matches (up to 100,000), not one"
            " page. Live `alert` events are not reads; reading this log is not recorded.",
        ),
    ),
)


def add_access_audit_routes(app: web.Application) -> None:
    add_routes(app, ACCESS_AUDIT_ROUTES)
