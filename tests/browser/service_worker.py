"""The app's service worker as tests reach it: a Chromium that can reach no push service, the
worker's registration through the DevTools protocol, a push handed to it, and the notifications
it shows; pushes as the server sends them."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from playwright.async_api import CDPSession, Worker

from tests.browser.pages import WAIT_MS, Tab
from tests.support import RunningServer, eventually

# Port 9 (discard) on this machine: nothing listens, so any GCM connection fails at once.
NO_PUSH_SERVICE = [
    "--gcm-checkin-url=http://127.0.0.1:9/checkin",
    "--gcm-registration-url=http://127.0.0.1:9/register",
    "--gcm-mcs-endpoint=127.0.0.1:9",
    # Every name unresolvable; the server is addressed as 127.0.0.1, which is never resolved.
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
]

# As the server pushes a crisis alert in Group A to staff.
CRISIS_ALERT = {
    "title": "Crisis alert: someone may need help now",
    "body": "Open the moderator console: in Group A.",
    "url": "#/console",
    "tag": "alert-7",
    "kind": "crisis_alert",
}


def message_in(room_id: int, room: str, body: str) -> dict[str, str]:
    """As the server pushes a message in a followed room (previews on)."""
    url, tag = f"#/rooms/{room_id}", f"room-{room_id}"
    return {"title": room, "body": body, "url": url, "tag": tag, "kind": "message"}


async def worker_registration(cdp: CDPSession, server: RunningServer) -> str:
    """The id of the app's service worker registration once its worker is activated."""
    registrations: dict[str, str] = {}
    activated: set[str] = set()

    def on_registrations(event: dict[str, Any]) -> None:
        for registration in event["registrations"]:
            if not registration["isDeleted"]:
                registrations[registration["registrationId"]] = registration["scopeURL"]

    def on_versions(event: dict[str, Any]) -> None:
        for version in event["versions"]:
            if version["status"] == "activated":
                activated.add(version["registrationId"])

    cdp.on("ServiceWorker.workerRegistrationUpdated", on_registrations)
    cdp.on("ServiceWorker.workerVersionUpdated", on_versions)
    await cdp.send("ServiceWorker.enable")

    def app_registration() -> str | None:
        return next(
            (rid for rid, scope in registrations.items() if scope == f"{server.url}/"), None
        )

    async def ready() -> str:
        while (rid := app_registration()) is None or rid not in activated:
            await asyncio.sleep(0.05)
        return rid

    return await asyncio.wait_for(ready(), WAIT_MS / 1000)


async def deliver_push(
    cdp: CDPSession, server: RunningServer, registration: str, payload: dict[str, str]
) -> None:
    await cdp.send(
        "ServiceWorker.deliverPushMessage",
        {"origin": f"{server.url}/", "registrationId": registration, "data": json.dumps(payload)},
    )


async def notifications_under(tab: Tab, tag: str) -> list[dict[str, Any]]:
    """What the page's service worker registration shows under `tag` now."""
    found: list[dict[str, Any]] = await tab.page.evaluate(
        """async (tag) => {
            const registration = await navigator.serviceWorker.ready;
            return (await registration.getNotifications({tag})).map((n) => ({
                title: n.title, body: n.body, tag: n.tag, data: n.data, icon: n.icon,
                requireInteraction: n.requireInteraction, renotify: n.renotify,
            }));
        }""",
        tag,
    )
    return found


async def shown(tab: Tab, tag: str, **expected: Any) -> dict[str, Any]:
    """The one notification under `tag`, once it shows `expected` (a push is shown a moment
    after it is delivered)."""

    async def probe() -> dict[str, Any] | None:
        found = await notifications_under(tab, tag)
        matches = len(found) == 1 and all(found[0][k] == v for k, v in expected.items())
        return found[0] if matches else None

    # A worker the browser stopped is started for the push first: slow on a busy machine.
    return await eventually(
        probe, f"a notification under {tag} with {expected}", timeout=WAIT_MS / 1000
    )


def app_worker(tab: Tab, server: RunningServer) -> Worker:
    workers = [w for w in tab.context.service_workers if w.url == f"{server.url}/sw.js"]
    assert len(workers) == 1, tab.context.service_workers
    return workers[0]
