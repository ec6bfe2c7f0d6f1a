"""Health, readiness and metrics endpoints."""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from server.kernel.errors import forbidden
from server.kernel.http import error_response, ok
from server.ops.metrics import Metrics
from server.reference.routes import Access, Route, RouteTable, add_routes

log = logging.getLogger(__name__)

# Within the load balancer's usual probe timeout (1 s), with room for the answer.
READY_CHECK_S = 0.5

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
    # Parts whose trouble /readyz reports but that leave the process ready: without the media
    # server the chat, alerts and meetings still work, so the process stays in rotation.
    reported: dict[str, Check] = field(default_factory=dict)
    # Checks given up on, kept until they end (asyncio keeps only weak references to tasks).
    _abandoned: set[asyncio.Future[object]] = field(default_factory=set)

    async def problems(self) -> tuple[dict[str, str], dict[str, str]]:
        """What is wrong with each part that did not answer its check in READY_CHECK_S: the
        parts readiness needs, then the reported ones. All are checked at once.

        A check still running then is cancelled but not waited for: a driver stuck on a hung
        server can take seconds to let go even of a cancelled call."""
        found = await self._run({**self.checks, **self.reported})
        needed = {part: problem for part, problem in found.items() if part in self.checks}
        return needed, {part: problem for part, problem in found.items() if part not in needed}

    async def _run(self, checks: dict[str, Check]) -> dict[str, str]:
        running = {part: asyncio.ensure_future(check()) for part, check in checks.items()}
        await asyncio.wait(running.values(), timeout=READY_CHECK_S)
        found: dict[str, str] = {}
        for part, task in running.items():
            if not task.done():
                task.cancel()
                self._abandoned.add(task)
                task.add_done_callback(self._forget)
                found[part] = f"did not answer within {READY_CHECK_S} s"
            elif task.exception() is not None:
                found[part] = f"failed ({type(task.exception()).__name__})"
        return found

    def _forget(self, task: asyncio.Future[object]) -> None:
        self._abandoned.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved, so asyncio does not log it as never retrieved

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
    """Every check at once, each given READY_CHECK_S: a load balancer's probe must be answered
    within a second whatever hangs, and a part that does not answer by then is not ready."""
    operations = request.app[OPERATIONS]
    problems, degraded = await operations.problems()
    for part, problem in degraded.items():
        log.warning("readiness: %s %s (reported; the process stays ready)", part, problem)
    if problems:
        for part, problem in problems.items():
            log.warning("readiness: %s %s", part, problem)
        failing = sorted(problems)
        return error_response(
            "unavailable",
            f"Not ready: {', '.join(failing)} unreachable.",
            503,
            failing=failing,
            problems=problems,
            degraded=degraded,
        )
    checked = sorted([*operations.checks, *operations.reported])
    return ok({"status": "ready", "checked": checked, "degraded": degraded})


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
            returns={"status": "string", "checked": ["string"], "degraded": "object"},
            errors=("unavailable",),
            description=(
                "Answers within a second, whatever hangs. Not ready: 503 `unavailable` with"
                " `failing`, the parts that did not answer within 0.5 s, and `problems`, what"
                " went wrong with each (`did not answer within 0.5 s`, `failed (ConnectionError)`)."
                " `checked` also names `media` when a media server is configured: its trouble"
                " is told in `degraded` (part: problem) and leaves the process ready, since"
                " chat, alerts and meetings work without video."
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
