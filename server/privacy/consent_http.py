"""HTTP routes of the consent notice: parse, call the book, answer."""

from __future__ import annotations

from aiohttp import web

from server.accounts.http import current_actor
from server.kernel.http import ok, query_ints, read_input
from server.kernel.validation import parse_input
from server.privacy.consent import ConsentBook
from server.privacy.consent_models import AcceptancesQuery, ConsentIn
from server.reference.routes import Access, Route, RouteTable, add_routes

CONSENT = web.AppKey("consent", ConsentBook)


async def show_notice(request: web.Request) -> web.Response:
    return ok(request.app[CONSENT].notice_json())


async def accept_notice(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    data = await read_input(request, ConsentIn)
    return ok({"acceptance": await request.app[CONSENT].accept(actor, data)})


async def list_acceptances(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    query = parse_input(AcceptancesQuery, query_ints(request, "user_id", "before", "limit"))
    return ok(await request.app[CONSENT].acceptances(actor, query))


CONSENT_ROUTES = RouteTable(
    "consent",
    "The program's consent notice, its acceptance, and the record of acceptances"
    " (docs/privacy.md).",
    (
        Route(
            "GET",
            "/api/consent",
            show_notice,
            "The program's consent notice in force, and its version",
            Access.PUBLIC,
            returns={"version": "string", "text": "string"},
            description="`text` is the CONSENT_FILE as written (plain text or Markdown: show"
            " it as text, line breaks kept). `version` is what registration's"
            " `consent_version` and `POST /api/me/consent` name: the text's SHA-256 (16 hex"
            " digits), so any change to the text is a new version everyone is asked to"
            " accept.",
        ),
        Route(
            "POST",
            "/api/me/consent",
            accept_notice,
            "Accept the notice in force (after a sign-in that said `consent_required`)",
            Access.SIGNED_IN,
            body=ConsentIn,
            returns={"acceptance": "ConsentAcceptance"},
            errors=("conflict",),
            description="`version` must be the notice's current version (`conflict`"
            " otherwise: it changed since it was read). Accepting again answers the"
            " acceptance already recorded. From then on the routes and events that answered"
            " `consent_required` work, on every process.",
        ),
        Route(
            "GET",
            "/api/consent/acceptances",
            list_acceptances,
            "Who accepted which version of the notice, when, and where from",
            Access.ADMIN,
            query=AcceptancesQuery,
            returns={"acceptances": ["ConsentAcceptance"], "next_before": "integer|null"},
            description="Newest first; `user_id` for one person's. Pass `next_before` as"
            " `before` for the next page; null when there is none. `source` is"
            " `registration` or `sign-in`; `current`: the version in force.",
        ),
    ),
)


def add_consent_routes(app: web.Application) -> None:
    add_routes(app, CONSENT_ROUTES)
