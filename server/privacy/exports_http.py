"""HTTP routes of a person's export: parse, call the service, answer."""

from __future__ import annotations

from aiohttp import web

from server.accounts.http import current_actor
from server.kernel.http import ok, path_id
from server.kernel.validation import parse_input
from server.privacy.export import PersonalExports
from server.privacy.exports_models import DownloadQuery
from server.reference.routes import Access, Route, RouteTable, add_routes

EXPORTS = web.AppKey("exports", PersonalExports)


async def request_own_export(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    return ok({"export": await request.app[EXPORTS].request_own(actor)}, status=202)


async def request_export_for(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    export = await request.app[EXPORTS].request_for(actor, path_id(request))
    return ok({"export": export}, status=202)


async def list_own_exports(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    return ok({"exports": await request.app[EXPORTS].list_own(actor)})


async def list_exports_for(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    return ok({"exports": await request.app[EXPORTS].list_for(actor, path_id(request))})


async def show_export(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    return ok({"export": await request.app[EXPORTS].one(actor, path_id(request))})


async def download_export(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    query = parse_input(DownloadQuery, dict(request.query))
    download = await request.app[EXPORTS].download(actor, path_id(request), query.format)
    return web.Response(
        text=download.text,
        content_type=download.media,
        headers={"Content-Disposition": f'attachment; filename="{download.filename}"'},
    )


WHO_DOWNLOADS = (
    " Only the person it is about and the member of staff who asked for it may read or"
    " download it; to anyone else it is `not_found`."
)

EXPORT_ROUTES = RouteTable(
    "exports",
    "A person's export: everything peerrooms holds about them, as JSON or a readable page"
    " (docs/privacy.md).",
    (
        Route(
            "POST",
            "/api/me/exports",
            request_own_export,
            "Ask for an export of everything peerrooms holds about me (made in the background)",
            Access.SIGNED_IN,
            status=202,
            returns={"export": "PersonalExport"},
            errors=("conflict",),
            description="Answers at once with the export `pending`; it is `ready` within"
            " minutes (poll `GET /api/exports/{id}`), then downloadable until `expires_at`"
            " (EXPORT_EXPIRY_DAYS), when it is deleted. One export of a person is made at a"
            " time: asking while one is pending is `conflict`. Audited as `export_requested`.",
        ),
        Route(
            "GET",
            "/api/me/exports",
            list_own_exports,
            "The exports of my data, newest first (also those staff asked for)",
            Access.SIGNED_IN,
            returns={"exports": ["PersonalExport"]},
        ),
        Route(
            "POST",
            "/api/users/{id}/exports",
            request_export_for,
            "Ask for an export of a person's data on their behalf",
            Access.STAFF,
            status=202,
            returns={"export": "PersonalExport"},
            errors=("conflict",),
            description="As `POST /api/me/exports`, for the person: moderators for patients and"
            " alumni, admins for anyone. The staff member who asked may download it, as may"
            " the person. Audited as `export_requested`.",
        ),
        Route(
            "GET",
            "/api/users/{id}/exports",
            list_exports_for,
            "The exports of a person's data, newest first",
            Access.STAFF,
            returns={"exports": ["PersonalExport"]},
            errors=("forbidden",),
            description="Their status only: downloading is for the person and for whoever"
            " asked for each.",
        ),
        Route(
            "GET",
            "/api/exports/{id}",
            show_export,
            "One export's status",
            Access.SIGNED_IN,
            returns={"export": "PersonalExport"},
            description="`pending`, `ready`, `failed` (ask again) or `expired` (deleted)."
            + WHO_DOWNLOADS,
        ),
        Route(
            "GET",
            "/api/exports/{id}/download",
            download_export,
            "Download an export, as JSON (the default) or as a readable HTML page",
            Access.SIGNED_IN,
            query=DownloadQuery,
            media="application/json",
            errors=("conflict",),
            description="`format=json` answers the export's JSON document; `format=html` the"
            " same as one self-contained page (`text/html`: escaped text, no scripts, nothing"
            " loaded from elsewhere). Both with `Content-Disposition: attachment`. Still"
            " pending or failed: `conflict`; expired (deleted): `not_found`."
            + WHO_DOWNLOADS
            + " Audited as `export_downloaded`.",
        ),
    ),
)


def add_export_routes(app: web.Application) -> None:
    add_routes(app, EXPORT_ROUTES)
