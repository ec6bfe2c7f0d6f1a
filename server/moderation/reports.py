"""Reports: any member flags a message for moderators; moderators work the queue."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from server.accounts.service import require_staff
from server.kernel.actors import Actor
from server.kernel.audit import AuditSink
from server.kernel.clock import Clock
from server.kernel.db import SessionFactory
from server.kernel.errors import AppError, not_found
from server.moderation import store
from server.moderation.alerts import AlertService
from server.moderation.models import Report, ReportIn, ResolveIn
from server.moderation.serialize import public_users, report_json
from server.realtime.router import EventLimit
from server.rooms import store as room_store
from server.rooms.access import RoomAccess
from server.rooms.messages import rows_json

REPORT_STATUSES = ("open", "dismissed", "actioned")


@dataclass
class ReportService:
    sessions: SessionFactory
    clock: Clock
    access: RoomAccess
    alerts: AlertService
    audit: AuditSink
    # Each report raises an alert for every moderator: held to the per-user action limit.
    limit: EventLimit | None = None

    async def report(self, actor: Actor, message_id: int, data: ReportIn) -> dict[str, Any]:
        if self.limit is not None:
            await self.limit.check("report", actor.id)
        async with self.sessions() as session:
            row = await room_store.get_message_row(session, message_id)
            if row is None or row[0].deleted:
                raise not_found("message")
            message, author = row
            await self.access.enter_to_read(session, actor, message.room_id, message_id)
            if await store.find_open_report(session, message_id=message_id, reporter_id=actor.id):
                raise AppError("conflict", "You have reported this message already.")
            report = Report(
                message_id=message_id,
                room_id=message.room_id,
                reporter_id=actor.id,
                reason=data.reason,
                created_at=self.clock.now(),
            )
            session.add(report)
            await session.commit()
            payload = await self._report_json(session, report)
        await self.alerts.raise_alert(
            kind="report",
            room_id=message.room_id,
            message_id=message_id,
            user_id=author.id or 0,
            excerpt=message.body,
            report_id=report.id,
        )
        return payload

    async def queue(self, actor: Actor, status: str | None) -> list[dict[str, Any]]:
        require_staff(actor)
        async with self.sessions() as session:
            return [
                await self._report_json(session, report)
                for report in await store.list_reports(session, status)
            ]

    async def resolve(self, actor: Actor, report_id: int, data: ResolveIn) -> dict[str, Any]:
        require_staff(actor)
        async with self.sessions() as session:
            if await session.get(Report, report_id) is None:
                raise not_found("report")
        if not await self._resolve(actor, report_id, data.resolution, data.note):
            raise AppError("conflict", "This report has already been resolved.")
        await self.alerts.acknowledge_report_alerts(actor, report_id, data.note)
        async with self.sessions() as session:
            fresh = await session.get(Report, report_id)
            assert fresh is not None  # noqa: S101 - only long-resolved reports are deleted
            return await self._report_json(session, fresh)

    async def resolve_with_its_alert(
        self, actor: Actor, report_id: int, resolution: str, note: str
    ) -> None:
        """A report's alert was acknowledged: the report is resolved with it (if still open)."""
        await self._resolve(actor, report_id, resolution, note)

    async def _resolve(self, actor: Actor, report_id: int, resolution: str, note: str) -> bool:
        """Resolve an open report and audit it; False when it was already resolved."""
        async with self.sessions() as session:
            report = await session.get(Report, report_id)
            if report is None:
                return False
            resolved = await store.resolve_report(
                session,
                report_id=report_id,
                status=resolution,
                by=actor.id,
                note=note,
                now=self.clock.now(),
            )
            await session.commit()
        if resolved:
            await self.audit.record(
                actor_id=actor.id,
                action=f"report_{resolution}",
                room_id=report.room_id,
                message_id=report.message_id,
                reason=note,
            )
        return resolved

    async def _report_json(self, session: AsyncSession, report: Report) -> dict[str, Any]:
        row = (
            await room_store.get_message_row(session, report.message_id)
            if report.message_id is not None
            else None
        )
        message = (await rows_json(session, [row]))[0] if row else None
        users = await public_users(session, [report.reporter_id, report.resolved_by])
        return report_json(report, message, users)
