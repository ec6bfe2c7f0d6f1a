"""HTTP routes of the daily digest's unsubscribe link: a page that asks, and the POST that
turns digests off (its button, or the mail program's RFC 8058 one-click). Session mail has a
link of its own (notify/http.py); neither turns the other off."""

from __future__ import annotations

import html

from aiohttp import web

from server.notify.http import NOTIFICATIONS
from server.reference.routes import Access, Route, RouteTable, add_routes

NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


async def ask_to_stop_digests(request: web.Request) -> web.Response:
    """Opening the link changes nothing: mail scanners open links. The button posts, as a
    mail program's one click does."""
    action = html.escape(request.path_qs, quote=True)
    return web.Response(
        text=(
            '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width"><title>peerrooms</title></head>'
            "<body><h1>The daily digest from peerrooms</h1>"
            f'<form method="post" action="{action}">'
            "<p>Stop the daily email of what you missed? Session reminders stay as they are.</p>"
            '<button type="submit">Turn off the daily digest</button></form></body></html>'
        ),
        content_type="text/html",
        headers=NO_STORE,
    )


async def stop_digests(request: web.Request) -> web.Response:
    user, token = request.query.get("u", ""), request.query.get("t", "")
    user_id = int(user) if user.isdigit() and len(user) < 12 else 0
    stopped = await request.app[NOTIFICATIONS].stop_digest_mail(user_id, token)
    sentence = (
        "The daily digest is off. You can turn it on again under Notifications."
        if stopped
        else "This link is not valid. Nothing was changed."
    )
    # Plain text, no script: a mail's link opens it in any browser.
    return web.Response(
        text=f"peerrooms\n\n{sentence}\n", content_type="text/plain", headers=NO_STORE
    )


DIGEST_ROUTES = RouteTable(
    "digest",
    "The daily email digest's unsubscribe link (docs/notifications.md); the digest itself is"
    " turned on with `email_digest` in PATCH /api/me/notifications.",
    (
        Route(
            "GET",
            "/api/notifications/unsubscribe-digest",
            ask_to_stop_digests,
            "The page a digest's unsubscribe link opens: a button that turns digests off",
            Access.PUBLIC,
            media="text/html",
            description="`u` and `t` as the mail's link gives them. Opening it changes nothing"
            " (mail scanners open links); its button posts to the same address.",
        ),
        Route(
            "POST",
            "/api/notifications/unsubscribe-digest",
            stop_digests,
            "Turn off the daily digest (the page's button, or RFC 8058 one-click from the mail"
            " program); session mail is left as it is",
            Access.PUBLIC,
            media="text/plain",
        ),
    ),
)


def add_digest_routes(app: web.Application) -> None:
    add_routes(app, DIGEST_ROUTES)
