"""Web Push to browsers: the server's VAPID key (RFC 8292), which push services may be sent to,
and one encrypted message (RFC 8291, aes128gcm) to one subscription, through pywebpush.

A subscription's endpoint is an address the browser's push service gave it, and the server
posts to it: taken at face value, any signed-in person could make the server post to an
address of their choosing. So endpoints are kept to the push services' hosts (the settings'
`push_service_hosts`) over HTTPS.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid  # type: ignore[import-untyped]
from pywebpush import WebPushException, webpush_async  # type: ignore[import-untyped]

from server.kernel.errors import invalid
from server.kernel.keyfile import read_or_create

# How long a push service keeps a message for a browser that is offline.
TTL_S = 12 * 3600
SEND_TIMEOUT_S = 10.0


def load_or_create_vapid_key(path: Path) -> ec.EllipticCurvePrivateKey:
    """The installation's VAPID key (P-256), made on first start and kept on disk: browsers
    subscribed with its public half, so a new key would orphan every subscription."""
    loaded = serialization.load_pem_private_key(read_or_create(path, new_vapid_pem), password=None)
    if not isinstance(loaded, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{path} does not hold an EC private key")
    return loaded


def new_vapid_pem() -> bytes:
    return ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def application_server_key(key: ec.EllipticCurvePrivateKey) -> str:
    """The public half browsers subscribe with: the uncompressed point, base64url."""
    point = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return b64url(point)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class PushPolicy:
    hosts: tuple[str, ...]  # exact names, or "*.domain" for its subdomains
    allow_http: bool = False  # tests' push service on loopback only

    def check(self, endpoint: str) -> None:
        """`invalid` unless the endpoint is on a push service's host."""
        parts = urlsplit(endpoint)
        schemes = ("https", "http") if self.allow_http else ("https",)
        if parts.scheme not in schemes or not parts.hostname:
            raise invalid("endpoint: a push service's https address is needed.")
        host = parts.hostname.lower()
        if not any(_host_matches(host, allowed) for allowed in self.hosts):
            raise invalid("endpoint: not a push service this server sends to.")


def _host_matches(host: str, allowed: str) -> bool:
    if allowed.startswith("*."):
        return host.endswith(allowed[1:])
    return host == allowed


class Gone(Exception):
    """The push service says the subscription is no more (404 or 410): forget it."""


class PushFailed(Exception):
    pass


@dataclass
class PushSender:
    key: ec.EllipticCurvePrivateKey
    subject: str  # a mailto: or https: contact for push services (RFC 8292)
    http: aiohttp.ClientSession

    async def send(
        self, endpoint: str, p256dh: str, auth: str, payload: dict[str, Any], *, urgent: bool
    ) -> None:
        """One encrypted message; Gone when the subscription has expired, PushFailed else."""
        info = {"endpoint": endpoint, "keys": {"p256dh": p256dh, "auth": auth}}
        audience = "{0.scheme}://{0.netloc}".format(urlsplit(endpoint))
        try:
            reply = await webpush_async(
                info,
                data=json.dumps(payload, separators=(",", ":")),
                vapid_private_key=Vapid(private_key=self.key),
                vapid_claims={"sub": self.subject, "aud": audience},
                ttl=TTL_S,
                headers={"Urgency": "high" if urgent else "normal"},
                timeout=SEND_TIMEOUT_S,
                aiohttp_session=self.http,
            )
        except WebPushException as error:
            status = getattr(error.response, "status", None)
            if status in (404, 410):
                raise Gone(endpoint) from error
            raise PushFailed(str(error)) from error
        except (aiohttp.ClientError, TimeoutError) as error:
            raise PushFailed(str(error)) from error
        status = int(getattr(reply, "status", 201) or 201)
        if status in (404, 410):
            raise Gone(endpoint)
        if status >= 400:
            raise PushFailed(f"the push service answered {status}")
