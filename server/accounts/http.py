"""HTTP routes of accounts: parse, call the service, answer."""

from __future__ import annotations

from aiohttp import web

from server.accounts.models import CohortIn, InviteIn, LoginIn, RegisterIn
from server.accounts.service import AccountService
from server.kernel.actors import Actor
from server.kernel.http import ok, path_id, read_input

ACCOUNTS = web.AppKey("accounts", AccountService)


async def current_actor(request: web.Request) -> Actor:
    """The signed-in caller, from `Authorization: Bearer <token>`; `unauthorized` otherwise."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return await request.app[ACCOUNTS].actor_for_token(
        token.strip() if scheme.lower() == "bearer" else None
    )


async def register(request: web.Request) -> web.Response:
    data = await read_input(request, RegisterIn)
    return ok(await request.app[ACCOUNTS].register(data), status=201)


async def login(request: web.Request) -> web.Response:
    data = await read_input(request, LoginIn)
    return ok(await request.app[ACCOUNTS].login(data))


async def me(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    return ok({"user": await request.app[ACCOUNTS].me(actor)})


async def create_cohort(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    data = await read_input(request, CohortIn)
    return ok({"cohort": await request.app[ACCOUNTS].create_cohort(actor, data)}, status=201)


async def list_cohorts(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    return ok({"cohorts": await request.app[ACCOUNTS].list_cohorts(actor)})


async def create_invite(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    data = await read_input(request, InviteIn)
    return ok({"invite": await request.app[ACCOUNTS].create_invite(actor, data)}, status=201)


async def graduate(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    user_id = path_id(request)
    return ok({"user": await request.app[ACCOUNTS].graduate(actor, user_id)})


def add_account_routes(app: web.Application) -> None:
    app.router.add_post("/api/auth/register", register)
    app.router.add_post("/api/auth/login", login)
    app.router.add_get("/api/me", me)
    app.router.add_post("/api/cohorts", create_cohort)
    app.router.add_get("/api/cohorts", list_cohorts)
    app.router.add_post("/api/invites", create_invite)
    app.router.add_post("/api/users/{id}/graduate", graduate)
