"""HTTP routes of erasure: parse, call the service, answer."""

from __future__ import annotations

from aiohttp import web

from server.accounts.http import current_actor
from server.kernel.http import ok, path_id, query_ints, read_input
from server.kernel.validation import parse_input
from server.privacy.erasure import Erasures
from server.privacy.exports_models import ErasureDecisionIn, ErasureQuery, ErasureRequestIn
from server.reference.routes import Access, Route, RouteTable, add_routes

ERASURES = web.AppKey("erasures", Erasures)


async def request_own_erasure(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    data = await read_input(request, ErasureRequestIn)
    return ok({"request": await request.app[ERASURES].request_own(actor, data)}, status=201)


async def request_erasure_for(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    user_id = path_id(request)
    data = await read_input(request, ErasureRequestIn)
    answer = await request.app[ERASURES].request_for(actor, user_id, data)
    return ok({"request": answer}, status=201)


async def list_own_erasure_requests(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    return ok({"requests": await request.app[ERASURES].mine(actor)})


async def list_erasure_requests(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    texts = {name: request.query[name] for name in ("status",) if name in request.query}
    query = parse_input(ErasureQuery, texts | query_ints(request, "user_id"))
    return ok({"requests": await request.app[ERASURES].list_requests(actor, query)})


async def approve_erasure(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    request_id = path_id(request)
    data = await read_input(request, ErasureDecisionIn)
    return ok({"request": await request.app[ERASURES].approve(actor, request_id, data)})


async def decline_erasure(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    request_id = path_id(request)
    data = await read_input(request, ErasureDecisionIn)
    return ok({"request": await request.app[ERASURES].decline(actor, request_id, data)})


ERASURE_ROUTES = RouteTable(
    "erasure",
    "Erasure of a person at their request, approved by an admin (docs/privacy.md).",
    (
        Route(
            "POST",
            "/api/me/erasure-request",
            request_own_erasure,
            "Ask to be erased (an admin decides; nothing is erased before)",
            Access.SIGNED_IN,
            body=ErasureRequestIn,
            status=201,
            returns={"request": "ErasureRequest"},
            errors=("conflict",),
            description="`reason` (optional, up to 500 characters) is for the admin who"
            " decides. A request already waiting is `conflict`. Audited as"
            " `erasure_requested`.",
        ),
        Route(
            "GET",
            "/api/me/erasure-requests",
            list_own_erasure_requests,
            "My erasure requests and their decisions, newest first",
            Access.SIGNED_IN,
            returns={"requests": ["ErasureRequest"]},
        ),
        Route(
            "POST",
            "/api/users/{id}/erasure-request",
            request_erasure_for,
            "Ask, on a person's behalf, for them to be erased",
            Access.STAFF,
            body=ErasureRequestIn,
            status=201,
            returns={"request": "ErasureRequest"},
            errors=("conflict",),
            description="Moderators for patients and alumni, admins for anyone. A request"
            " already waiting, or a person erased already, is `conflict`. Audited as"
            " `erasure_requested`.",
        ),
        Route(
            "GET",
            "/api/erasure-requests",
            list_erasure_requests,
            "Erasure requests, newest first",
            Access.ADMIN,
            query=ErasureQuery,
            returns={"requests": ["ErasureRequest"]},
            description="`status`: `pending` (the default), `declined`, `erased` or `all`;"
            " `user_id`: one person's.",
        ),
        Route(
            "POST",
            "/api/erasure-requests/{id}/approve",
            approve_erasure,
            "Approve an erasure request: the person is erased now",
            Access.ADMIN,
            body=ErasureDecisionIn,
            returns={"request": "ErasureRequest"},
            errors=("conflict",),
            description="In one transaction: the account is deactivated under a pseudonym"
            ' ("Former member 7f3a2c"), which frees the alias and login name, and every'
            " sign-in ends (its sockets close on every process); the person's messages are"
            ' replaced by "Removed at the member\'s request." and shown as deleted in every'
            " room at once (`message_deleted`), unless ERASURE_MESSAGES is `keep`; their"
            " email, notification settings, push subscriptions, follows and calendar feed are"
            " removed. The moderation audit, attendance, check-ins and alerts stay under the"
            " pseudonym. A legal hold on the person is `conflict` (its reason in the message,"
            " `hold_id` beside it), and so is an open crisis alert about the person"
            " (`alert_id` beside it: acknowledge it first); messages in a room under a hold"
            " are left as they are. A"
            " request decided already is `conflict`; an admin's own, `forbidden`. Audited as"
            " `erasure_approved` and `erasure_done`.",
        ),
        Route(
            "POST",
            "/api/erasure-requests/{id}/decline",
            decline_erasure,
            "Decline an erasure request: nothing is erased",
            Access.ADMIN,
            body=ErasureDecisionIn,
            returns={"request": "ErasureRequest"},
            errors=("conflict",),
            description="`note` is kept with the request, which its person can read. A"
            " request decided already is `conflict`. Audited as `erasure_declined`.",
        ),
    ),
)


def add_erasure_routes(app: web.Application) -> None:
    add_routes(app, ERASURE_ROUTES)
