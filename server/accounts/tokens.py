"""Signed, expiring bearer tokens (JWT, HS256) that name a user."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import jwt

from server.kernel.errors import unauthorized

_ALGORITHM = "HS256"
_AUDIENCE = "peerrooms"


@dataclass(frozen=True)
class TokenIssuer:
    secret: str
    ttl: timedelta

    def issue(self, user_id: int, now: datetime) -> str:
        claims = {"sub": str(user_id), "aud": _AUDIENCE, "iat": now, "exp": now + self.ttl}
        return jwt.encode(claims, self.secret, algorithm=_ALGORITHM)

    def user_id_from(self, token: object, now: datetime) -> int:
        """The user a token names; `unauthorized` when it is missing, forged or expired."""
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
                    "require": ["sub", "exp", "iat"],
                },
            )
            user_id = int(claims["sub"])
            expires = int(claims["exp"])
        except (jwt.InvalidTokenError, ValueError, TypeError):
            raise unauthorized("The token is not valid: sign in again.") from None
        # Expiry is checked against the injected clock, not the wall clock, so it is testable.
        if expires <= now.timestamp():
            raise unauthorized("The token has expired: sign in again.")
        return user_id


def load_or_create_secret(path: Path) -> str:
    """A per-installation secret kept on disk, so tokens survive restarts without set-up."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # Exclusive create: two processes starting together end up with the same secret.
        with path.open("x") as handle:
            path.chmod(0o600)
            handle.write(secrets.token_urlsafe(48) + "\n")
    except FileExistsError:
        pass
    return path.read_text().strip()
