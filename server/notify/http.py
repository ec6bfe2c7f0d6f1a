"""HTTP routes of notifications: parse, call the service, answer."""

from __future__ import annotations

import html

from aiohttp import web

from server.accounts.http import ACCOUNTS, client_of, current_actor
from server.kernel.http import ok, path_id, read_input
from server.notify.models import SettingsIn, SubscriptionIn, UnsubscribeIn
from server.notify.resubscribe import ReplaceSubscriptionIn, replace_subscription
from server.notify.service import Notifications
from server.reference.routes import Access, Route, RouteTable, add_routes

NOTIFICATIONS = web.AppKey("notifications", Notifications)


async def push_key(request: web.Request) -> web.Response:
    return ok(request.app[NOTIFICATIONS].public_key())


async def my_settings(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    return ok({"notifications": await request.app[NOTIFICATIONS].settings_of(actor)})


async def change_my_settings(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    data = await read_input(request, SettingsIn)
    changed = await request.app[NOTIFICATIONS].change_settings(actor, data)
    return ok({"notifications": changed})


async def subscribe(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    data = await read_input(request, SubscriptionIn)
    subscribed = await request.app[NOTIFICATIONS].subscribe(actor, data)
    return ok({"notifications": subscribed}, status=201)


async def unsubscribe(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    data = await read_input(request, UnsubscribeIn)
    return ok({"notifications": await request.app[NOTIFICATIONS].unsubscribe(actor, data)})


async def replace_push_subscription(request: web.Request) -> web.Response:
    """The service worker's, with no sign-in: the old subscription's secret proves the right
    to put the browser's new subscription in its place (server/notify/resubscribe.py)."""
    data = await read_input(request, ReplaceSubscriptionIn)
    throttle = request.app[ACCOUNTS].throttle
    address = client_of(request).address
    await replace_subscription(request.app[NOTIFICATIONS], throttle, data, address)
    return web.Response(status=204)


async def follow_room(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    followed = await request.app[NOTIFICATIONS].follow(actor, path_id(request), True)
    return ok({"notifications": followed})


async def unfollow_room(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    followed = await request.app[NOTIFICATIONS].follow(actor, path_id(request), False)
    return ok({"notifications": followed})


async def confirm_address(request: web.Request) -> web.Response:
    confirmed = await request.app[NOTIFICATIONS].confirm_address(*_signed_link(request))
    return _page(
        "Your address is confirmed: session reminders will come to it."
        if confirmed
        else "This link is not valid (the address may have changed since). Nothing was changed."
    )


async def ask_to_unsubscribe(request: web.Request) -> web.Response:
    """The link in a mail asks first: mail scanners open links, and opening one must not turn
    anyone's reminders off. The button posts, as a mail program's one click does."""
    action = html.escape(request.path_qs, quote=True)
    return web.Response(
        text=(
            '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width"><title>peerrooms</title></head>'
            "<body><h1>Session mail from peerrooms</h1>"
            f'<form method="post" action="{action}">'
            "<p>Stop reminders and session changes by email?</p>"
            '<button type="submit">Turn off session mail</button></form></body></html>'
        ),
        content_type="text/html",
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )


async def unsubscribe_reminders(request: web.Request) -> web.Response:
    """The page's button, or RFC 8058's one-click POST from the mail program."""
    stopped = await request.app[NOTIFICATIONS].stop_reminder_mail(*_signed_link(request))
    return _page(
        "Reminders and session changes by email are off. You can turn them on again under"
        " Notifications."
        if stopped
        else "This link is not valid. Nothing was changed."
    )


def _signed_link(request: web.Request) -> tuple[int, str]:
    user = request.query.get("u", "")
    return (int(user) if user.isdigit() and len(user) < 12 else 0), request.query.get("t", "")


def _page(sentence: str) -> web.Response:
    # A plain page, as a mail's link opens it in any browser; text only, no script.
    return web.Response(
        text=f"peerrooms\n\n{sentence}\n",
        content_type="text/plain",
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )


SETTINGS = {"notifications": "NotificationSettings"}

NOTIFICATION_ROUTES = RouteTable(
    "notifications",
    "Reaching people away from the app: Web Push subscriptions, what each person wants, the"
    " rooms they follow (docs/notifications.md).",
    (
        Route(
            "GET",
            "/api/push/key",
            push_key,
            "The server's VAPID public key, to subscribe a browser with",
            Access.SIGNED_IN,
            returns={"public_key": "string"},
            description="base64url of the uncompressed P-256 point: PushManager.subscribe()'s"
            " `applicationServerKey`.",
        ),
        Route(
            "GET",
            "/api/me/notifications",
            my_settings,
            "My notification settings",
            Access.SIGNED_IN,
            returns=SETTINGS,
        ),
        Route(
            "PATCH",
            "/api/me/notifications",
            change_my_settings,
            "Change my notification settings (the fields given)",
            Access.SIGNED_IN,
            body=SettingsIn,
            returns=SETTINGS,
            errors=("invalid",),
            description="`previews`: show message text on the lock screen (off by default);"
            " `reminder_minutes`: how long before a session to be reminded (0: never; default"
            " 15); `quiet_start`/`quiet_end`: 24-hour times on `timezone`'s clock between which"
            " nothing is pushed (null: none), such as 22:00 to 07:00.",
        ),
        Route(
            "POST",
            "/api/me/push-subscriptions",
            subscribe,
            "Subscribe this browser to Web Push",
            Access.SIGNED_IN,
            body=SubscriptionIn,
            status=201,
            returns=SETTINGS,
            errors=("invalid",),
            description="The body is PushSubscription.toJSON(): `{endpoint, keys: {p256dh,"
            " auth}}`. Only the push services' own https hosts are taken (`invalid` else), so"
            " nobody can make the server post elsewhere.",
        ),
        Route(
            "DELETE",
            "/api/me/push-subscriptions",
            unsubscribe,
            "Stop pushing to this browser",
            Access.SIGNED_IN,
            body=UnsubscribeIn,
            returns=SETTINGS,
        ),
        Route(
            "POST",
            "/api/push-subscriptions/replace",
            replace_push_subscription,
            "Replace a browser's push subscription with the new one the browser was given",
            Access.PUBLIC,
            body=ReplaceSubscriptionIn,
            status=204,
            errors=("not_found", "conflict", "rate_limited"),
            description="For the service worker's `pushsubscriptionchange`, which holds no"
            " sign-in. `old_endpoint` and `old_auth` are the old subscription's endpoint and"
            " `keys.auth`, a secret only that browser and the server know; `subscription` is"
            " the new PushSubscription.toJSON(). It takes the old one's place for the same"
            " person. `not_found` unless that endpoint is held with that secret (either way"
            " the same answer), and each such refusal counts against the caller's address as a"
            " failed sign-in does (`rate_limited` once spent); `invalid` for an endpoint off the"
            " push services' hosts, as when subscribing; `conflict` when the new endpoint"
            " belongs to another account.",
        ),
        Route(
            "GET",
            "/api/notifications/confirm",
            confirm_address,
            "Confirm an email address (the link in the confirmation mail)",
            Access.PUBLIC,
            media="text/plain",
            description="`u` and `t` as the mail's link gives them; a page says whether the"
            " address is confirmed. Nothing but that mail is sent to an address before.",
        ),
        Route(
            "GET",
            "/api/notifications/unsubscribe",
            ask_to_unsubscribe,
            "The page a mail's unsubscribe link opens: a button that turns session mail off",
            Access.PUBLIC,
            media="text/html",
            description="Opening it changes nothing (mail scanners open links); its button"
            " posts to the same address.",
        ),
        Route(
            "POST",
            "/api/notifications/unsubscribe",
            unsubscribe_reminders,
            "Turn off reminders and session changes by email (the page's button, or RFC 8058"
            " one-click from the mail program)",
            Access.PUBLIC,
            media="text/plain",
        ),
        Route(
            "PUT",
            "/api/rooms/{id}/follow",
            follow_room,
            "Follow a room: its new messages are pushed to me while I am not in it",
            Access.SIGNED_IN,
            returns=SETTINGS,
            errors=("forbidden", "banned", "not_found"),
        ),
        Route(
            "DELETE",
            "/api/rooms/{id}/follow",
            unfollow_room,
            "Stop following a room",
            Access.SIGNED_IN,
            returns=SETTINGS,
            errors=("forbidden", "banned", "not_found"),
        ),
    ),
)


def add_notification_routes(app: web.Application) -> None:
    add_routes(app, NOTIFICATION_ROUTES)
