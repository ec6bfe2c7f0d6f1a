"""GET /api/openapi.json: the app's OpenAPI document, built from the route tables its
features added (routes.ROUTE_TABLES)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from server.reference.openapi import build_document
from server.reference.routes import ROUTE_TABLES, Access, Route, RouteTable, add_routes


class ApiDocument:
    """Built when first asked for: by then every feature has added its routes, whatever the
    order they were added in."""

    def __init__(self, tables: list[RouteTable]) -> None:
        self._tables = tables
        self._document: dict[str, Any] | None = None

    def get(self) -> dict[str, Any]:
        if self._document is None:
            self._document = build_document(self._tables)
        return self._document


OPENAPI = web.AppKey("openapi", ApiDocument)


async def openapi_json(request: web.Request) -> web.Response:
    return web.json_response(openapi_document(request.app))


REFERENCE_ROUTES = RouteTable(
    "reference",
    "This document.",
    (
        Route(
            "GET",
            "/api/openapi.json",
            openapi_json,
            "The OpenAPI document of this API",
            Access.PUBLIC,
            media="application/json",
        ),
    ),
)


def add_reference_routes(app: web.Application) -> None:
    add_routes(app, REFERENCE_ROUTES)
    app[OPENAPI] = ApiDocument(app[ROUTE_TABLES])


def openapi_document(app: web.Application) -> dict[str, Any]:
    return app[OPENAPI].get()
