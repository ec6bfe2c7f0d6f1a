"""A push service for the tests, as RFC 8030 describes one, on 127.0.0.1: it takes the
server's POSTs to subscription endpoints, checks their VAPID signature (RFC 8292) and decrypts
them (RFC 8291, aes128gcm) with the browser keys the test made, as a browser would.

`PushService.browser(name)` makes one browser's subscription: its endpoint on this service,
its P-256 key pair and auth secret. What each browser received is in `received[name]`; a
browser marked `gone` answers 410, as a push service does for an expired subscription.

What tests do with it: `PUSH_HOSTS`, the settings that let a test server push to it;
`subscribed`, a person turning notifications on in a browser; `endpoints_of`, the subscriptions
the server holds for a person; `message_in_followed_room`, a push for Ana.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import http_ece  # type: ignore[import-untyped]
import jwt
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from server.notify import store
from server.notify.http import NOTIFICATIONS
from tests.support import Api, Community, Peer, Person, RunningServer, joined, send, settle

# The settings that let a test server push to this stand-in: plain HTTP on 127.0.0.1.
PUSH_HOSTS: dict[str, Any] = {"push_service_hosts": ["127.0.0.1"], "push_allow_http": True}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def from_b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Browser:
    name: str
    endpoint: str
    key: ec.EllipticCurvePrivateKey
    auth: bytes

    def subscription(self) -> dict[str, Any]:
        """What PushSubscription.toJSON() gives the web client."""
        public = self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {
            "endpoint": self.endpoint,
            "keys": {"p256dh": b64url(public), "auth": b64url(self.auth)},
        }


@dataclass
class Push:
    payload: dict[str, Any]
    headers: dict[str, str]  # names in lower case
    vapid_claims: dict[str, Any]


@dataclass
class PushService:
    url: str
    browsers: dict[str, Browser] = field(default_factory=dict)
    received: dict[str, list[Push]] = field(default_factory=dict)
    gone: set[str] = field(default_factory=set)
    # The server's VAPID public key (base64url point), set by the test once it knows it.
    server_key: str | None = None
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def browser(self, name: str) -> Browser:
        made = Browser(
            name, f"{self.url}/push/{name}", ec.generate_private_key(ec.SECP256R1()), os.urandom(16)
        )
        self.browsers[name] = made
        self.received[name] = []
        return made

    def pushes(self, name: str) -> list[dict[str, Any]]:
        return [push.payload for push in self.received[name]]

    async def take(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name in self.gone or name not in self.browsers:
            return web.Response(status=410)
        browser = self.browsers[name]
        body = await request.read()
        claims = self._checked_vapid(request)
        assert request.headers["Content-Encoding"] == "aes128gcm", request.headers
        assert int(request.headers["TTL"]) > 0, request.headers
        plain = http_ece.decrypt(
            body, private_key=browser.key, auth_secret=browser.auth, version="aes128gcm"
        )
        headers = {key.lower(): value for key, value in request.headers.items()}
        self.received[name].append(Push(json.loads(plain), headers, claims))
        self.arrived.set()
        return web.Response(status=201)

    def _checked_vapid(self, request: web.Request) -> dict[str, Any]:
        """The JWT of `Authorization: vapid t=..., k=...`, signed by the server's key."""
        scheme, _, params = request.headers["Authorization"].partition(" ")
        assert scheme == "vapid", request.headers["Authorization"]
        parts = dict(part.strip().split("=", 1) for part in params.split(","))
        assert self.server_key is None or parts["k"] == self.server_key, parts
        point = from_b64url(parts["k"])
        public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
        claims: dict[str, Any] = jwt.decode(
            parts["t"], public, algorithms=["ES256"], audience=self.url
        )
        return claims


@contextlib.asynccontextmanager
async def running_push_service() -> AsyncIterator[PushService]:
    service = PushService("")
    app = web.Application()
    app.router.add_post("/push/{name}", service.take)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    service.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield service
    finally:
        await runner.cleanup()


# ----- what tests do with it -----


async def subscribed(api: Api, service: PushService, person: Person, name: str) -> dict[str, Any]:
    """`person` turned notifications on in browser `name`: what that browser holds. From then
    on the service checks that pushes are signed with the server's VAPID key."""
    subscription = service.browser(name).subscription()
    reply = await api.post("/api/me/push-subscriptions", subscription, person.token)
    assert reply.status == 201, reply.body
    service.server_key = (await api.get("/api/push/key", person.token)).body["public_key"]
    return subscription


async def endpoints_of(server: RunningServer, person: Person) -> list[str]:
    """The endpoints of the subscriptions the server holds for `person`."""
    async with server.app[NOTIFICATIONS].sessions() as session:
        return [row.endpoint for row in await store.subscriptions_of(session, [person.id])]


async def message_in_followed_room(
    api: Api,
    server: RunningServer,
    c: Community,
    peer: Callable[[str], Awaitable[Peer]],
    text: str,
) -> None:
    """Ana follows Group A and Avi writes `text` in it: a push for Ana, tried."""
    assert (await api.put(f"/api/rooms/{c.group_a}/follow", {}, c.pat_ana.token)).status == 200
    avi = await peer(c.pat_avi.token)
    await joined(avi, c.group_a)
    await send(avi, c.group_a, text)
    await settle(server)
