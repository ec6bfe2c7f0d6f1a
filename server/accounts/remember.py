"""Keep me signed in on this device: a random secret in an HttpOnly, Secure, SameSite=Strict
cookie renews a sign-in after its tab closed. The database keeps only the secret's SHA-256.
Each renewal replaces the secret; an earlier one presented again (after a short grace for a
second tab renewing at the same moment) means the cookie was copied, and ends the sign-in."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from server.accounts.models import UserSession

REFRESH_COOKIE = "peerrooms_refresh"
# Sent only to the routes that renew and end a sign-in, never with other requests.
REFRESH_COOKIE_PATH = "/api/auth"
# A tab presenting the secret another tab has just replaced still gets a token.
REPLACED_GRACE = timedelta(seconds=30)
_SECRET_BYTES = 32
_MAX_COOKIE = 200


@dataclass(frozen=True)
class SignedIn:
    """A sign-in's answer, and the renewal cookie's new value when one is to be set."""

    answer: dict[str, Any]
    refresh: str | None = None


def new_secret() -> tuple[str, str]:
    """A fresh renewal secret and the digest the database keeps of it."""
    secret = secrets.token_urlsafe(_SECRET_BYTES)
    return secret, digest_of(secret)


def digest_of(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def cookie_value(session_id: str, secret: str) -> str:
    return f"{session_id}.{secret}"


def parse_cookie(value: str | None) -> tuple[str, str] | None:
    """The sign-in id and secret a renewal cookie holds; None when it is missing or malformed
    (session ids and secrets are URL-safe base64, which has no dot)."""
    if not value or len(value) > _MAX_COOKIE:
        return None
    session_id, dot, secret = value.partition(".")
    if not dot or not session_id or not secret:
        return None
    return session_id, secret


def renewable(sign_in: UserSession | None, now: datetime) -> bool:
    """A sign-in that has not ended and was kept on its device until after `now`."""
    return (
        sign_in is not None
        and sign_in.ended_at is None
        and sign_in.refresh_digest is not None
        and sign_in.remembered_until is not None
        and sign_in.remembered_until > now
    )


def is_current(sign_in: UserSession, presented: str) -> bool:
    return hmac.compare_digest(presented, sign_in.refresh_digest or "")


def was_just_replaced(sign_in: UserSession, presented: str, now: datetime) -> bool:
    """The secret replaced by the latest renewal, presented within the grace."""
    previous = sign_in.refresh_previous_digest
    rotated = sign_in.refresh_rotated_at
    return (
        previous is not None
        and rotated is not None
        and now - rotated <= REPLACED_GRACE
        and hmac.compare_digest(presented, previous)
    )
