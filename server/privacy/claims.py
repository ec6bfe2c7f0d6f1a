"""One process at a time for a job every process schedules (retention): a row per job in
`job_claim`, taken with one conditional UPDATE, which both SQLite (one writer) and PostgreSQL
(the row's lock, the condition read again after a concurrent update commits) let only one
process win.

A run holds a lease it renews as it goes; a process that dies mid-run loses it when the
lease ends. A scheduled run also waits until the job last finished one interval ago, so two
processes ticking at different moments run it once an interval between them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, or_, update
from sqlmodel import col

from server.kernel.clock import Clock
from server.kernel.db import SessionFactory, insert_once
from server.privacy.retention_models import JobClaim

# How long a run may go without renewing its claim before another process may take over.
LEASE = timedelta(minutes=10)


@dataclass
class JobClaims:
    sessions: SessionFactory
    clock: Clock
    name: str
    holder: str = field(default_factory=lambda: uuid.uuid4().hex)

    async def claim(self, *, once_every: timedelta | None = None) -> bool:
        """Take the job for a run: no run is under way elsewhere and, with `once_every`, the
        last one finished at least that long ago."""
        await self._ensure_row()
        now = self.clock.now()
        conditions: list[ColumnElement[bool]] = [
            col(JobClaim.name) == self.name,
            or_(col(JobClaim.lease_until).is_(None), col(JobClaim.lease_until) <= now),
        ]
        if once_every is not None:
            conditions.append(
                or_(
                    col(JobClaim.last_finished_at).is_(None),
                    col(JobClaim.last_finished_at) <= now - once_every,
                )
            )
        return await self._update(conditions, holder=self.holder, lease_until=now + LEASE)

    async def renew(self) -> bool:
        """Extend this process's lease; False when it was lost (it ran out, another took it)."""
        return await self._update(self._mine(), lease_until=self.clock.now() + LEASE)

    async def finish(self) -> None:
        """The run ended: the job is free, and not due for a scheduled run for an interval."""
        await self._update(self._mine(), lease_until=None, last_finished_at=self.clock.now())

    async def release(self) -> None:
        """The run failed: the job is free, and due as before."""
        await self._update(self._mine(), lease_until=None)

    async def last_finished(self) -> datetime | None:
        async with self.sessions() as session:
            row = await session.get(JobClaim, self.name)
            return row.last_finished_at if row is not None else None

    def _mine(self) -> list[ColumnElement[bool]]:
        return [col(JobClaim.name) == self.name, col(JobClaim.holder) == self.holder]

    async def _update(self, conditions: list[ColumnElement[bool]], **values: object) -> bool:
        async with self.sessions() as session:
            result = await session.execute(update(JobClaim).where(*conditions).values(**values))
            await session.commit()
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def _ensure_row(self) -> None:
        async with self.sessions() as session:
            if await session.get(JobClaim, self.name) is None:
                # False when another process made it first, which serves as well.
                await insert_once(session, JobClaim(name=self.name))
