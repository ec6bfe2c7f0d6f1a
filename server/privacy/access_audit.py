"""The access audit: every read by staff of what peerrooms keeps about people, recorded in a
table of its own, and read back by admins (docs/privacy.md, "The access audit").

The HTTP reads it covers are declared once, in AUDITED_READS, by their route: a successful GET
of one of them by staff is recorded as its response goes out (app.py hooks `on_response` to
aiohttp's `on_response_prepare`), so no feature needs to know about the audit. Reads that are
not one route (a person's data export) call `record_access` themselves.

Live deliveries are not reads: an `alert` event pushed to every staff socket (and the open
alerts sent to a staff socket as it connects) reaches people whether or not they look at it.
What is recorded is staff opening a list or a page: that is a decision to look."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from aiohttp import web

from server.accounts.http import SIGNED_IN
from server.accounts.service import require_admin
from server.kernel.actors import Actor
from server.kernel.clock import Clock, iso_utc
from server.kernel.csvfile import paged_csv
from server.kernel.db import SessionFactory
from server.kernel.logs import current_request_id
from server.moderation.serialize import public_users
from server.privacy.access_audit_models import (
    DETAIL_CHARS,
    REQUEST_ID_CHARS,
    AccessKind,
    AccessLogQuery,
    AccessRecord,
    TargetType,
)
from server.privacy.access_audit_store import access_records

log = logging.getLogger(__name__)

Target = tuple[TargetType | None, int | None]
NO_TARGET: Target = (None, None)

CSV_COLUMNS = [
    "id",
    "at",
    "actor_id",
    "actor",
    "kind",
    "target_type",
    "target_id",
    "target_user",
    "detail",
    "request_id",
]
# An export stops here, as the audit log's does.
CSV_MAX_ROWS = 100_000


def no_target(_request: web.Request) -> Target:
    return NO_TARGET


def path_target(target_type: TargetType) -> Callable[[web.Request], Target]:
    """The route's `{id}`: a person, a meeting."""

    def target(request: web.Request) -> Target:
        return target_type, int(request.match_info["id"])

    return target


def range_target(request: web.Request) -> Target:
    """Attendance over a range: of one meeting, or of a cohort's meetings."""
    meeting, cohort = request.query.get("meeting_id", ""), request.query.get("cohort_id", "")
    if meeting.isascii() and meeting.isdigit():
        return "meeting", int(meeting)
    if cohort.isascii() and cohort.isdigit():
        return "cohort", int(cohort)
    return NO_TARGET


@dataclass(frozen=True)
class AuditedRead:
    kind: AccessKind
    target: Callable[[web.Request], Target]


# The routes whose successful GET by staff is a recorded read, by their path template.
AUDITED_READS: dict[str, AuditedRead] = {
    "/api/alerts": AuditedRead("alerts", no_target),
    "/api/reports": AuditedRead("reports", no_target),
    "/api/users/{id}": AuditedRead("person", path_target("user")),
    "/api/meetings/{id}/attendance": AuditedRead("attendance", path_target("meeting")),
    "/api/attendance": AuditedRead("attendance", range_target),
}


def audited_read(request: web.Request) -> AuditedRead | None:
    if request.method != "GET":
        return None
    resource = request.match_info.route.resource
    return AUDITED_READS.get(resource.canonical) if resource is not None else None


def record_json(record: AccessRecord, users: dict[int, dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": record.id,
        "at": iso_utc(record.at),
        "actor": users.get(record.actor_id),
        "kind": record.kind,
        "target_type": record.target_type,
        "target_id": record.target_id,
        "target_user": users.get(record.target_id or 0) if record.target_type == "user" else None,
        "detail": record.detail,
        "request_id": record.request_id,
    }


def csv_row(entry: dict[str, Any]) -> list[Any]:
    actor, target = entry["actor"] or {}, entry["target_user"] or {}
    return [
        entry["id"],
        entry["at"],
        actor.get("id"),
        actor.get("display_name"),
        entry["kind"],
        entry["target_type"],
        entry["target_id"],
        target.get("display_name"),
        entry["detail"],
        entry["request_id"],
    ]


@dataclass
class AccessAudit:
    sessions: SessionFactory
    clock: Clock

    async def record_access(
        self,
        actor: Actor,
        kind: AccessKind,
        target: Target = NO_TARGET,
        detail: str = "",
        request_id: str | None = None,
    ) -> None:
        """Record that `actor` read `kind` (about `target`: ("user", id), ("meeting", id) or
        ("cohort", id)): one insert. `request_id` defaults to the request or event being
        handled. For reads that are not one of AUDITED_READS, such as a data export."""
        target_type, target_id = target
        async with self.sessions() as session:
            session.add(
                AccessRecord(
                    at=self.clock.now(),
                    actor_id=actor.id,
                    kind=kind,
                    target_type=target_type,
                    target_id=target_id,
                    detail=detail[:DETAIL_CHARS],
                    request_id=(request_id or current_request_id.get())[:REQUEST_ID_CHARS],
                )
            )
            await session.commit()

    async def on_response(self, request: web.Request, response: web.StreamResponse) -> None:
        """As an answer goes out: a successful audited read by staff is recorded. A record
        that cannot be written is logged, and the read still answered: staff must see the
        alert list even while the database stumbles."""
        actor = request.get(SIGNED_IN)
        if actor is None or not actor.is_staff or not 200 <= response.status < 300:
            return
        read = audited_read(request)
        if read is None:
            return
        try:
            await self.record_access(
                actor,
                read.kind,
                read.target(request),
                detail=request.query_string,
                request_id=response.headers.get("X-Request-Id"),
            )
        except Exception:
            log.exception("the access audit could not record a read of %s", request.path)

    async def entries(self, actor: Actor, query: AccessLogQuery) -> dict[str, Any]:
        """Admins: newest first, a page (`next_before` pages back; None: nothing older)."""
        require_admin(actor)
        async with self.sessions() as session:
            found = await access_records(session, query)
            page = found[: query.limit]
            wanted = [each.actor_id for each in page] + [
                each.target_id for each in page if each.target_type == "user"
            ]
            users = await public_users(session, wanted)
        more = len(found) > query.limit and page
        return {
            "entries": [record_json(each, users) for each in page],
            "next_before": page[-1].id if more else None,
        }

    async def as_csv(self, actor: Actor, query: AccessLogQuery) -> str:
        """Every entry that matches, page after page (up to CSV_MAX_ROWS)."""
        first = query.model_copy(update={"limit": 1000})
        return await paged_csv(
            CSV_COLUMNS, first, partial(self.entries, actor), csv_row, CSV_MAX_ROWS
        )
