"""The HTTP access log, without query strings: they can carry credentials (a calendar feed's
token) and nothing that reaches a log may."""

from __future__ import annotations

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from server.kernel.logs import current_request_id


class AccessLogger(AbstractAccessLogger):
    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        # The request's id is on the line (the logging filter); the access log runs after
        # the handler, outside its context, so take it from the response.
        current_request_id.set(response.headers.get("X-Request-Id", "-"))
        self.logger.info(
            '%s "%s %s" %d %.1f ms',
            request.remote,
            request.method,
            request.path,
            response.status,
            time * 1000,
        )
