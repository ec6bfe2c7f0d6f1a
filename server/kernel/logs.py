"""Logging: peerrooms' own loggers at the configured level, libraries at WARNING, plain or
JSON lines, and the id of the request or Socket.IO event on every line logged while it runs.

Some libraries log what they send at DEBUG (aiosqlite logs SQL with its parameters: message
bodies, tokens, password hashes), so raising our level must never raise theirs.
"""

from __future__ import annotations

import logging
import secrets
from contextvars import ContextVar

from pythonjsonlogger.json import JsonFormatter

OWN_LOGGERS = ("server", "aiohttp.access")
PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"

# The HTTP request or Socket.IO event being handled ("-" outside of one).
current_request_id: ContextVar[str] = ContextVar("current_request_id", default="-")


def new_request_id() -> str:
    return secrets.token_hex(6)


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id.get()
        return True


def configure_logging(level: str, fmt: str = "plain") -> None:
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    if fmt == "json":
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(request_id)s %(message)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            )
        )
    else:
        handler.setFormatter(logging.Formatter(PLAIN_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    for name in OWN_LOGGERS:
        logging.getLogger(name).setLevel(level.upper())
