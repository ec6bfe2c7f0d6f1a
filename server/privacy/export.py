"""A person's export: everything peerrooms holds about them, asked for by them or by staff on
their behalf, made in the background, downloaded as JSON or as a readable page by the person
or by the member of staff who asked, and deleted when it expires (docs/privacy.md)."""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from server.accounts.models import User
from server.accounts.people import admin_rights, managed_user
from server.kernel.actors import Actor
from server.kernel.audit import AuditSink
from server.kernel.clock import Clock, LoopingCall, iso_utc
from server.kernel.db import SessionFactory
from server.kernel.errors import AppError, not_found
from server.moderation.serialize import PublicUsers, public_users
from server.privacy import exports_store as store
from server.privacy.access_audit import AccessAudit
from server.privacy.export_data import collect
from server.privacy.export_html import render
from server.privacy.exports_models import ExportStatus, PersonalExport

log = logging.getLogger(__name__)

REQUESTED = "export_requested"
DOWNLOADED = "export_downloaded"
FAILED = "export_failed"
# How often each process deletes expired exports: an export is gone at most this long after
# it expires (a download is refused from the moment it expires).
SWEEP = timedelta(minutes=15)
# An export is made in seconds; one pending this long was being made by a process that
# stopped, and is marked failed so the person may ask again.
STALE = timedelta(minutes=30)
MEDIA = {"json": "application/json", "html": "text/html"}


@dataclass(frozen=True)
class Download:
    filename: str
    media: str
    text: str


def status_at(export: PersonalExport, now: datetime) -> str:
    """A ready export past its expiry is expired, whether or not the sweep has run yet."""
    expired = export.expires_at is not None and export.expires_at <= now
    if export.status == ExportStatus.READY and expired:
        return ExportStatus.EXPIRED
    return export.status


def export_json(export: PersonalExport, users: PublicUsers, now: datetime) -> dict[str, Any]:
    return {
        "id": export.id,
        "user": users.get(export.user_id),
        "requested_by": users.get(export.requested_by) if export.requested_by else None,
        "status": status_at(export, now),
        "created_at": iso_utc(export.created_at),
        "ready_at": iso_utc(export.ready_at),
        "expires_at": iso_utc(export.expires_at),
    }


@dataclass
class PersonalExports:
    sessions: SessionFactory
    clock: Clock
    audit: AuditSink
    # How long a made export may be downloaded before it is deleted.
    keep_for: timedelta
    # Staff downloading a person's export is a read of their records (docs/privacy.md).
    access_audit: AccessAudit | None = None
    _making: set[asyncio.Task[None]] = field(default_factory=set, init=False)
    _sweeping: LoopingCall | None = field(default=None, init=False)

    async def start(self) -> None:
        self._sweeping = self.clock.looping_call(self.sweep, SWEEP.total_seconds())

    async def close(self) -> None:
        if self._sweeping is not None:
            await self._sweeping.stop()
        for task in list(self._making):
            task.cancel()
        await asyncio.gather(*self._making, return_exceptions=True)

    # ----- asking -----

    async def request_own(self, actor: Actor) -> dict[str, Any]:
        return await self._request(actor, actor.id)

    async def request_for(self, actor: Actor, user_id: int) -> dict[str, Any]:
        """Staff, on the person's behalf: moderators for patients and alumni, admins for
        anyone."""
        is_admin = admin_rights(actor)
        async with self.sessions() as session:
            await managed_user(session, user_id, is_admin=is_admin)
        return await self._request(actor, user_id)

    async def _request(self, actor: Actor, user_id: int) -> dict[str, Any]:
        async with self.sessions() as session:
            if await store.pending_export_of(session, user_id) is not None:
                raise AppError(
                    "conflict", "An export of this person is being made; it is ready in minutes."
                )
            export = PersonalExport(
                user_id=user_id, requested_by=actor.id, created_at=self.clock.now()
            )
            session.add(export)
            await session.commit()
            answer = await self._json(session, [export])
        assert export.id is not None  # noqa: S101 - set on insert
        await self.audit.record(
            actor_id=actor.id,
            action=REQUESTED,
            target_user_id=user_id,
            reason=f"export {export.id}",
        )
        self._start_making(export.id)
        return answer[0]

    def _start_making(self, export_id: int) -> None:
        # Not awaited: the request is answered at once and the export is made meanwhile.
        task = asyncio.create_task(self._make(export_id))
        self._making.add(task)
        task.add_done_callback(self._making.discard)

    async def _make(self, export_id: int) -> None:
        try:
            async with self.sessions() as session:
                export = await session.get(PersonalExport, export_id)
                user = await session.get(User, export.user_id) if export else None
                if export is None or user is None:
                    return
                data = await collect(session, user, self.clock.now())
            content = json.dumps(data, ensure_ascii=False, indent=2)
            now = self.clock.now()
            async with self.sessions() as session:
                await store.finish(
                    session, export_id, content, now=now, expires_at=now + self.keep_for
                )
                await session.commit()
        except Exception:
            log.exception("export %s could not be made", export_id)
            await self._failed(export_id)

    async def _failed(self, export_id: int) -> None:
        async with self.sessions() as session:
            export = await session.get(PersonalExport, export_id)
            failed = await store.fail(session, export_id)
            await session.commit()
        if failed and export is not None:
            await self.audit.record(
                actor_id=None,
                action=FAILED,
                target_user_id=export.user_id,
                reason=f"export {export_id}",
            )

    # ----- reading -----

    async def list_own(self, actor: Actor) -> list[dict[str, Any]]:
        async with self.sessions() as session:
            return await self._json(session, await store.exports_about(session, actor.id))

    async def list_for(self, actor: Actor, user_id: int) -> list[dict[str, Any]]:
        is_admin = admin_rights(actor)
        async with self.sessions() as session:
            await managed_user(session, user_id, is_admin=is_admin)
            return await self._json(session, await store.exports_about(session, user_id))

    async def one(self, actor: Actor, export_id: int) -> dict[str, Any]:
        async with self.sessions() as session:
            export = await self._theirs(session, actor, export_id)
            return (await self._json(session, [export]))[0]

    async def download(self, actor: Actor, export_id: int, file_format: str) -> Download:
        """The export's file, to the person it is about or the member of staff who asked for
        it; everyone else is told there is no such export."""
        async with self.sessions() as session:
            export = await self._theirs(session, actor, export_id)
        status = status_at(export, self.clock.now())
        if status == ExportStatus.PENDING:
            raise AppError("conflict", "This export is still being made; try again in a minute.")
        if status == ExportStatus.FAILED:
            raise AppError("conflict", "This export could not be made; ask for a new one.")
        if status == ExportStatus.EXPIRED or export.content is None:
            raise AppError("not_found", "This export has expired and was deleted; ask again.")
        await self.audit.record(
            actor_id=actor.id,
            action=DOWNLOADED,
            target_user_id=export.user_id,
            reason=f"export {export_id} as {file_format}",
        )
        if self.access_audit is not None and actor.id != export.user_id and actor.is_staff:
            await self.access_audit.record_access(
                actor, "export", ("user", export.user_id), detail=f"export {export_id}"
            )
        text = export.content if file_format == "json" else render(json.loads(export.content))
        filename = f"peerrooms-export-{export_id}.{file_format}"
        return Download(filename, MEDIA[file_format], text)

    async def _theirs(self, session: AsyncSession, actor: Actor, export_id: int) -> PersonalExport:
        export = await session.get(PersonalExport, export_id)
        if export is None or actor.id not in (export.user_id, export.requested_by):
            raise not_found("export")
        return export

    async def _json(
        self, session: AsyncSession, exports: list[PersonalExport]
    ) -> list[dict[str, Any]]:
        users = await public_users(
            session, [id_ for e in exports for id_ in (e.user_id, e.requested_by)]
        )
        now = self.clock.now()
        return [export_json(export, users, now) for export in exports]

    # ----- expiry -----

    async def sweep(self) -> None:
        """Delete expired exports, and give up on those a stopped process left pending. Every
        process runs it; a second run finds nothing left to do."""
        now = self.clock.now()
        async with self.sessions() as session:
            await store.expire_due(session, now)
            await store.fail_stale(session, now - STALE)
            await session.commit()
