"""Signed, expiring bearer tokens (JWT, HS256) that name a user and the sign-in (session) they
belong to; the session is checked on the server, so a token can be ended before it expires."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import jwt

from server.kernel.errors import unauthorized
from server.kernel.keyfile import read_or_create

_ALGORITHM = "HS256"
_AUDIENCE = "peerrooms"


@dataclass(frozen=True)
class TokenIssuer:
    secret: str
    ttl: timedelta

    def issue(self, user_id: int, session_id: str, now: datetime) -> str:
        claims = {
            "sub": str(user_id),
            "sid": session_id,
            "aud": _AUDIENCE,
            "iat": now,
            "exp": now + self.ttl,
        }
        return jwt.encode(claims, self.secret, algorithm=_ALGORITHM)

    def claims_from(self, token: object, now: datetime) -> tuple[int, str]:
        """The user and session a token names; `unauthorized` when it is missing, forged,
        expired, or from before tokens named their session."""
        if not isinstance(token, str) or not token:
            raise unauthorized()
        try:
            claims = jwt.decode(
                token,
                self.secret,
                algorithms=[_ALGORITHM],
                audience=_AUDIENCE,
                options={
                    # Time claims are checked below against the injected clock.
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                    "require": ["sub", "sid", "exp", "iat"],
                },
            )
            user_id = int(claims["sub"])
            session_id = str(claims["sid"])
            expires = int(claims["exp"])
        except (jwt.InvalidTokenError, ValueError, TypeError):
            raise unauthorized("The token is not valid: sign in again.") from None
        # Expiry is checked against the injected clock, not the wall clock, so it is testable.
        if expires <= now.timestamp():
            raise unauthorized("The token has expired: sign in again.")
        return user_id, session_id


def load_or_create_secret(path: Path) -> str:
    """A per-installation secret kept on disk, so tokens survive restarts without set-up."""
    made = read_or_create(path, lambda: (secrets.token_urlsafe(48) + "\n").encode())
    return made.decode().strip()


def code_for_people(nbytes: int, draw: Callable[[int], str] = secrets.token_urlsafe) -> str:
    """A random URL-safe code that people copy by hand; it never begins with `-`, which a
    command line would read as an option (`revoke-invite --code -x…` fails in argparse)."""
    while (code := draw(nbytes)).startswith("-"):
        pass
    return code
