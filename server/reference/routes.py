"""A route declared once: the same table registers it on the app and describes it in the
app's OpenAPI document (server/reference/openapi.py), so the two cannot drift apart.

Features import this module; it imports no feature (pyproject.toml's import contracts)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

from aiohttp import web
from aiohttp.typedefs import Handler

from server.kernel.validation import InputModel

Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]

# A success body's top-level key's shape: the name of a component schema ("Room"), a JSON
# type ("integer", "boolean", ...; "integer|null" for that or null), or a one-item list for an
# array of either (["Room"]).
Shape = str | list[str]


class Access(StrEnum):
    """Who may call a route, as far as the caller's credentials go; room audiences and bans
    are decided per room and show up as the route's errors."""

    PUBLIC = "public"
    SIGNED_IN = "signed in"
    STAFF = "moderator or admin"
    ADMIN = "admin"


# Signed-in routes a person may use before accepting the program's current consent notice
# (docs/privacy.md, "Consent"): their own account, its sign-ins and password, and the notice
# itself; every other signed-in route answers `consent_required` until they accept. A path
# is free when it is one of these or under one that ends in "/".
CONSENT_FREE_PATHS = (
    "/api/auth/",
    "/api/me",
    "/api/me/consent",
    "/api/me/sessions",
    "/api/me/sessions/",
    "/api/me/password",
    # A person who will not accept a notice may still take their data and ask to leave
    # (docs/privacy.md: "A person's export", "Erasure").
    "/api/me/exports",
    "/api/exports/",
    "/api/me/erasure-request",
    "/api/me/erasure-requests",
)


def needs_consent(path: str) -> bool:
    """Whether a signed-in route at `path` (or route template) needs the notice accepted."""
    return not any(
        path.startswith(free) if free.endswith("/") else path == free for free in CONSENT_FREE_PATHS
    )


@dataclass(frozen=True)
class QueryParam:
    """A query parameter a handler reads by hand (those read through a model come from it)."""

    name: str
    type: Literal["integer", "string"]
    description: str
    required: bool = False
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Route:
    method: Method
    path: str
    handler: Handler
    summary: str
    access: Access
    # The JSON body, read with kernel.http.read_input.
    body: type[InputModel] | None = None
    # The query string, when the handler validates it with a model.
    query: type[InputModel] | None = None
    params: tuple[QueryParam, ...] = ()
    status: int = 200
    # The success body's keys; None when there is no JSON body (204, or `media` below).
    returns: Mapping[str, Shape] | None = None
    # What a success answers when it is not JSON.
    media: str | None = None
    # With `?format=csv`, the same data as CSV.
    csv: bool = False
    # Error codes beyond those the access, path and inputs imply (openapi.implied_errors).
    errors: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class RouteTable:
    """One feature's routes, under one tag of the document."""

    tag: str
    description: str
    routes: tuple[Route, ...] = field(default_factory=tuple)


# Every table added to an app, in order: what its OpenAPI document is built from.
ROUTE_TABLES = web.AppKey("route_tables", list[RouteTable])


def add_routes(app: web.Application, table: RouteTable) -> None:
    """Register the table's routes, and keep the table for the app's OpenAPI document."""
    if ROUTE_TABLES not in app:
        app[ROUTE_TABLES] = []
    app[ROUTE_TABLES].append(table)
    for route in table.routes:
        if route.method == "GET":
            # add_get also answers HEAD, as the routes always have.
            app.router.add_get(route.path, route.handler)
        else:
            app.router.add_route(route.method, route.path, route.handler)
