"""The contract's error codes and the one exception type that carries them."""

from __future__ import annotations

import math
from typing import Any

# The HTTP status each error code maps to (docs/api/README.md, the error table).
STATUS_BY_CODE: dict[str, int] = {
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "conflict": 409,
    "invalid": 422,
    "rate_limited": 429,
    "muted": 403,
    "banned": 403,
    "room_locked": 403,
    "meeting_closed": 403,
    "blocked": 422,
    # peerrooms' addition: the person has not accepted the current consent notice
    # (docs/privacy.md); `version` names the one to accept.
    "consent_required": 403,
    "internal": 500,
    # peerrooms' addition: /readyz names the part that is down.
    "unavailable": 503,
    # peerrooms' addition: this process has as many sends under way as it takes; nothing was
    # done, send again after `retry_after_s` (docs/protocol-additions.md).
    "overloaded": 503,
}


class AppError(Exception):
    """A refusal the caller can act on: a contract code, a sentence, and optional extras."""

    def __init__(self, code: str, message: str, **extra: Any) -> None:
        if code not in STATUS_BY_CODE:
            raise ValueError(f"unknown error code {code!r}")
        super().__init__(message)
        self.code = code
        self.message = message
        self.extra = extra

    @property
    def status(self) -> int:
        return STATUS_BY_CODE[self.code]

    def as_error(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, **self.extra}


def rate_limited(message: str, wait_s: float) -> AppError:
    """Refused for now: try again in `retry_after_s` (whole seconds, at least 1)."""
    return AppError("rate_limited", message, retry_after_s=max(1, math.ceil(wait_s)))


def overloaded(message: str, wait_s: float) -> AppError:
    """Refused at once because the server is at capacity: nothing was done; try again in
    `retry_after_s` (whole seconds, at least 1)."""
    return AppError("overloaded", message, retry_after_s=max(1, math.ceil(wait_s)))


def invalid(message: str) -> AppError:
    return AppError("invalid", message)


def not_found(what: str) -> AppError:
    return AppError("not_found", f"No such {what}.")


def forbidden(message: str) -> AppError:
    return AppError("forbidden", message)


def unauthorized(message: str = "Sign in first: the token is missing or not valid.") -> AppError:
    return AppError("unauthorized", message)
