"""Logging: peerrooms' own loggers at the configured level, libraries at WARNING, plain or
JSON lines, and the id of the request or Socket.IO event on every line logged while it runs.

Some libraries log what they send at DEBUG (aiosqlite logs SQL with its parameters: message
bodies, tokens, password hashes), so raising our level must never raise theirs.
"""

from __future__ import annotations

import logging
import secrets
from contextvars import ContextVar

from aiohttp.http_exceptions import HttpProcessingError
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


class UnparsableRequestFilter(logging.Filter):
    """aiohttp logs each request it cannot parse (a request line or header over 8 KiB, bad
    framing) at ERROR with a traceback, and the error quotes the start of the request line,
    query string and all. It is the client's fault, and a traceback per request would let
    anyone flood the log: one WARNING line instead, naming only the kind of fault."""

    def filter(self, record: logging.LogRecord) -> bool:
        fault = record.exc_info[1] if record.exc_info else None
        if isinstance(fault, HttpProcessingError):
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.msg = "refused a request that is not valid HTTP (%s, status %s)"
            record.args = (type(fault).__name__, fault.code)
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
    server_log = logging.getLogger("aiohttp.server")
    server_log.filters[:] = [UnparsableRequestFilter()]
