"""HTTP conventions shared by every feature: JSON in, JSON out, the contract's error shape."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiohttp import web
from aiohttp.typedefs import Handler

from server.kernel.errors import AppError, invalid
from server.kernel.logs import current_request_id, new_request_id
from server.kernel.validation import MAX_ID, InputModel, parse_input

log = logging.getLogger(__name__)

InputT = TypeVar("InputT", bound=InputModel)

# Bodies larger than this are refused before parsing; the largest legitimate one is a
# 4,000-character message with its JSON envelope.
MAX_BODY_BYTES = 64 * 1024

_CODE_BY_STATUS = {
    400: "invalid",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "not_found",
    409: "conflict",
    413: "invalid",
    422: "invalid",
    429: "rate_limited",
}


def error_response(code: str, message: str, status: int, **extra: Any) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message, **extra}}, status=status)


@web.middleware
async def request_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Give the request an id (the caller's X-Request-Id if sane) for its log lines and its
    response, and answer errors in the contract's shape.

    One middleware rather than two: a websocket keeps every middleware's frame for as long
    as it is open.
    """
    given = request.headers.get("X-Request-Id", "")
    request_id = given if given.isalnum() and len(given) <= 64 else new_request_id()
    current_request_id.set(request_id)
    try:
        response = await handler(request)
    except AppError as error:
        response = web.json_response({"error": error.as_error()}, status=error.status)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        code = _CODE_BY_STATUS.get(error.status, "invalid" if error.status < 500 else "internal")
        response = error_response(code, error.reason or "Request refused.", error.status)
    except Exception:
        log.exception("unhandled error in %s %s", request.method, request.path)
        response = error_response("internal", "Something went wrong on our side; try again.", 500)
    response.headers["X-Request-Id"] = request_id
    return response


async def read_input(request: web.Request, model: type[InputT]) -> InputT:
    """The request's JSON body, validated; `invalid` when it is not JSON or not well-formed."""
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise invalid(f"The request body is larger than {MAX_BODY_BYTES} bytes.")
    raw = await request.read()
    if not raw:
        payload: Any = {}
    else:
        try:
            payload = json.loads(raw)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise invalid("The request body is not valid JSON.") from None
    return parse_input(model, payload)


def path_id(request: web.Request, name: str = "id") -> int:
    raw = request.match_info[name]
    # isascii: str.isdigit() is also true for digits such as "²" that int() refuses.
    if not (raw.isascii() and raw.isdigit()) or not 0 < int(raw) <= MAX_ID:
        raise invalid(f"{name}: must be a whole number from 1 to {MAX_ID}.")
    return int(raw)


def query_ints(request: web.Request, *names: str) -> dict[str, int]:
    """The named query parameters that are present, as integers (`invalid` otherwise)."""
    values: dict[str, int] = {}
    for name in names:
        raw = request.query.get(name)
        if raw is None or raw == "":
            continue
        try:
            values[name] = int(raw)
        except ValueError:
            raise invalid(f"{name}: must be an integer.") from None
    return values


async def json_or_csv(
    request: web.Request,
    *,
    filename: str,
    as_json: Callable[[], Awaitable[dict[str, Any]]],
    as_csv: Callable[[], Awaitable[str]],
) -> web.Response:
    """An export in the format `?format=` asks for: json (the default) or csv."""
    chosen = request.query.get("format", "json")
    if chosen == "csv":
        return web.Response(
            text=await as_csv(),
            content_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )
    if chosen != "json":
        raise invalid("format: use json or csv.")
    return ok(await as_json())


def ok(data: dict[str, Any], status: int = 200) -> web.Response:
    return web.json_response(data, status=status)
