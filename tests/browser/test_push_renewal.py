"""A subscription the browser replaced, handed over by the service worker itself
(web/public/sw.js, `pushsubscriptionchange`; docs/notifications.md) in a real Chromium, to a
real server whose pushes go to the push service stand-in (tests/push_service.py).

This Chromium has no push service (see test_push_client.py), so it never replaces a
subscription by itself, and a PushSubscription cannot be made by a script. The event is made in
the worker, with objects standing for the browser's old and new subscriptions (their
`toJSON()`, `options` and `unsubscribe()`, all the worker uses), and dispatched to the worker's
own listener; what the listener does from there is real: its request to the server, the
server's check of the old subscription's secret, and the pushes that follow."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Worker

from tests.browser.conftest import PeerFactory, TabFactory
from tests.browser.pages import WEB_DIST
from tests.browser.service_worker import app_worker
from tests.push_service import (
    PUSH_HOSTS,
    PushService,
    endpoints_of,
    from_b64url,
    message_in_followed_room,
    running_push_service,
    subscribed,
)
from tests.support import Api, Community, RunningServer

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture
def server_overrides() -> dict[str, Any]:
    return {"web_dir": WEB_DIST, **PUSH_HOSTS}


@pytest_asyncio.fixture(loop_scope="session")
async def push_service() -> AsyncIterator[PushService]:
    async with running_push_service() as service:
        yield service


def server_key(service: PushService) -> list[int]:
    assert service.server_key is not None
    return list(from_b64url(service.server_key))


# The event, made and dispatched in the worker. An event a script makes is not trusted and the
# browser refuses its waitUntil, so it carries one of its own that keeps what the listener hands
# it, and that is awaited (the listener must hand its work over, or the browser may stop the
# worker midway). `pushManager.subscribe` is stood in for too: it answers `again`.
CHANGE = """async ({old, fresh, again, key}) => {
    const serverKey = new Uint8Array(key).buffer;
    const subscription = (json) => json && {
        endpoint: json.endpoint,
        options: {userVisibleOnly: true, applicationServerKey: serverKey},
        ended: false,
        toJSON() { return json; },
        async unsubscribe() { this.ended = true; return true; },
    };
    const [oldSubscription, newSubscription, resubscribed] = [old, fresh, again].map(subscription);
    const asked = [];
    const pushManager = self.registration.pushManager;
    Object.defineProperty(pushManager, "subscribe", {configurable: true, value: async (options) => {
        asked.push({userVisibleOnly: options.userVisibleOnly,
                    key: Array.from(new Uint8Array(options.applicationServerKey))});
        return resubscribed;
    }});
    const event = new PushSubscriptionChangeEvent("pushsubscriptionchange");
    Object.defineProperty(event, "oldSubscription", {value: oldSubscription});
    Object.defineProperty(event, "newSubscription", {value: newSubscription});
    const work = [];
    event.waitUntil = (promise) => work.push(promise);
    self.dispatchEvent(event);
    try {
        await Promise.all(work);
    } finally {
        delete pushManager.subscribe;
    }
    const handed = newSubscription || resubscribed;
    return {handed_over: work.length, asked, ended: handed ? handed.ended : null};
}"""


async def subscription_changed(
    worker: Worker,
    service: PushService,
    old: dict[str, Any] | None,
    fresh: dict[str, Any] | None,
    again: dict[str, Any] | None = None,
) -> dict[str, Any]:
    args = {"old": old, "fresh": fresh, "again": again, "key": server_key(service)}
    done: dict[str, Any] = await worker.evaluate(CHANGE, args)
    assert done["handed_over"] == 1, done
    return done


async def test_the_worker_hands_the_new_subscription_over_for_the_same_person(
    browse: TabFactory,
    api: Api,
    server: RunningServer,
    community: Community,
    peer: PeerFactory,
    push_service: PushService,
) -> None:
    c = community
    ana = await browse()
    await ana.sign_in(c.pat_ana)
    old = await subscribed(api, push_service, c.pat_ana, "ana-old")
    worker = app_worker(ana, server)
    fresh = push_service.browser("ana-new").subscription()

    done = await subscription_changed(worker, push_service, old, fresh)
    assert done["ended"] is False, done
    assert await endpoints_of(server, c.pat_ana) == [fresh["endpoint"]]
    await message_in_followed_room(api, server, c, peer, "anyone up?")
    assert push_service.received["ana-old"] == []
    assert [push["url"] for push in push_service.pushes("ana-new")] == [f"#/rooms/{c.group_a}"]

    # No new one from the browser: the worker subscribes again with the old one's server key.
    again = push_service.browser("ana-again").subscription()
    done = await subscription_changed(worker, push_service, fresh, None, again)
    assert done["asked"] == [{"userVisibleOnly": True, "key": server_key(push_service)}], done
    assert await endpoints_of(server, c.pat_ana) == [again["endpoint"]]

    # Handed over once: the same old subscription again is one the server no longer holds, so
    # the new one is ended (nobody would push to it) and the server's stays as it is.
    stray = push_service.browser("stray").subscription()
    done = await subscription_changed(worker, push_service, old, stray)
    assert done["ended"] is True, done
    assert await endpoints_of(server, c.pat_ana) == [again["endpoint"]]

    # Without the old subscription, nothing can be done.
    done = await subscription_changed(worker, push_service, None, stray)
    assert done["ended"] is False, done
    assert await endpoints_of(server, c.pat_ana) == [again["endpoint"]]
