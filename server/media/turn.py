"""Time-limited TURN credentials, as coturn checks them with `use-auth-secret`.

The pattern is the "TURN REST API" (draft-uberti-behave-turn-rest-00): the server and the TURN
server share one secret; a credential is a username that names when it expires and whom it
was minted for, `"{expiry in seconds since 1970}:{user id}"`, and a password that is
base64(HMAC-SHA1(secret, username)). coturn recomputes the password from the username and
refuses it once the expiry has passed, so nothing is stored anywhere and a credential copied
out of a browser stops working by itself.

Everything here is pure: the caller passes the time and the settings' values.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from pydantic import SecretStr

# The timestamp/user separator coturn expects unless started with --rest-api-separator.
SEPARATOR = ":"


def turn_username(user_id: int, expires: datetime) -> str:
    """`"{expiry}:{user id}"`; the expiry in whole seconds since 1970, rounded down."""
    if expires.tzinfo is None:
        raise ValueError("the expiry must be an aware datetime")
    return f"{int(expires.timestamp())}{SEPARATOR}{user_id}"


def turn_password(secret: str, username: str) -> str:
    """base64(HMAC-SHA1(secret, username)), the password coturn derives for `username`."""
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def turn_ice_servers(
    urls: Sequence[str],
    secret: SecretStr | str | None,
    *,
    user_id: int,
    now: datetime,
    ttl_s: int,
) -> list[dict[str, Any]]:
    """One RTCIceServer for the TURN `urls`, `{"urls", "username", "credential"}`, usable by
    `user_id` until `now` + `ttl_s`; no entry (`[]`) without URLs or without a secret."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    if ttl_s < 1:
        raise ValueError("ttl_s must be at least one second")
    key = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
    if not urls or not key:
        return []
    username = turn_username(user_id, now + timedelta(seconds=ttl_s))
    return [{"urls": list(urls), "username": username, "credential": turn_password(key, username)}]


def ice_servers_with_turn(
    static: Sequence[Mapping[str, Any]],
    turn_urls: Sequence[str],
    turn_secret: SecretStr | str | None,
    *,
    user_id: int,
    now: datetime,
    ttl_s: int,
) -> list[dict[str, Any]]:
    """What a pass hands a browser: copies of the static `video_ice_servers` (STUN, say),
    then the TURN entry minted for `user_id` when TURN is configured."""
    minted = turn_ice_servers(turn_urls, turn_secret, user_id=user_id, now=now, ttl_s=ttl_s)
    return [dict(server) for server in static] + minted
