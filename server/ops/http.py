"""Health, readiness and metrics endpoints."""

from __future__ import annotations

import hmac
import ipaddress
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from server.kernel.errors import forbidden
from server.kernel.http import error_response, ok
from server.ops.metrics import Metrics
from server.reference.routes import Access, Route, RouteTable, add_routes

log = logging.getLogger(__name__)

# A check answers normally when its part works and raises when it does not.
Check = Callable[[], Awaitable[object]]


@dataclass
class Operations:
    metrics: Metrics
    checks: dict[str, Check]
    # Called before each scrape to bring gauges up to date.
    refresh: Callable[[], Awaitable[None]]
    # The bearer token a scraper must show; None: only this machine may scrape, directly.
    metrics_token: str | None = None

    def may_scrape(self, request: web.Request) -> bool:
        if self.metrics_token is not None:
            given = request.headers.get("Authorization", "").removeprefix("Bearer ")
            return hmac.compare_digest(given.encode(), self.metrics_token.encode())
        # Without a token, a scraper on this machine only; through a proxy, the proxy is on
        # this machine but the asker may not be.
        forwarded = "Forwarded" in request.headers or "X-Forwarded-For" in request.headers
        return is_loopback(request.remote) and not forwarded


def is_loopback(address: str | None) -> bool:
    try:
        return address is not None and ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


OPERATIONS = web.AppKey("operations", Operations)


async def healthz(_request: web.Request) -> web.Response:
    return ok({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    failing = []
    for part, check in request.app[OPERATIONS].checks.items():
        try:
            await check()
        except Exception as error:
            log.warning("readiness: %s failed (%s)", part, error.__class__.__name__)
            failing.append(part)
    if failing:
        response = error_response(
            "unavailable", f"Not ready: {', '.join(failing)} unreachable.", 503, failing=failing
        )
        return response
    return ok({"status": "ready", "checked": sorted(request.app[OPERATIONS].checks)})


async def metrics(request: web.Request) -> web.Response:
    operations = request.app[OPERATIONS]
    if not operations.may_scrape(request):
        raise forbidden(
            "Metrics are for this machine, or for a scraper with the METRICS_TOKEN bearer token."
        )
    await operations.refresh()
    body = generate_latest(operations.metrics.registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


OPERATIONS_ROUTES = RouteTable(
    "operations",
    "Liveness, readiness and Prometheus metrics, for the load balancer and monitoring.",
    (
        Route(
            "GET",
            "/healthz",
            healthz,
            "Liveness: the process answers",
            Access.PUBLIC,
            returns={"status": "string"},
        ),
        Route(
            "GET",
            "/readyz",
            readyz,
            "Readiness: the database (and Redis, when configured) answer",
            Access.PUBLIC,
            returns={"status": "string", "checked": ["string"]},
            errors=("unavailable",),
            description=(
                "Not ready: 503 `unavailable` with `failing`, the parts that did not answer."
            ),
        ),
        Route(
            "GET",
            "/metrics",
            metrics,
            "Prometheus metrics",
            Access.PUBLIC,
            media=CONTENT_TYPE_LATEST,
            errors=("forbidden",),
            description="With METRICS_TOKEN set, only a request bearing it (`Authorization:"
            " Bearer ...`); without, only a direct request from this machine (loopback, no"
            " `Forwarded`/`X-Forwarded-For` header). Others are `forbidden`.",
        ),
    ),
)


def add_operations_routes(app: web.Application) -> None:
    add_routes(app, OPERATIONS_ROUTES)
