"""Retention: records past their class's period are deleted for good, by a job every process
schedules and one process at a time runs, in batches; and a dry-run report of what a run would
delete now and what legal holds and open cases keep (docs/privacy.md).

A period of 0 days keeps a class for ever, the default of every class: a clinic decides what
peerrooms deletes. Nobody is told of a deletion live: the records are old, and a room's
history simply no longer has them."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from server.accounts.service import require_admin
from server.kernel.actors import Actor
from server.kernel.audit import AuditSink
from server.kernel.clock import Clock, LoopingCall, iso_utc
from server.kernel.db import SessionFactory
from server.kernel.errors import AppError
from server.privacy import retention_store as store
from server.privacy.claims import JobClaims
from server.privacy.retention_classes import RECORD_CLASSES, RecordClass
from server.settings import Settings

log = logging.getLogger(__name__)

JOB_NAME = "retention"
RUN_ACTION = "retention_run"
# How often each process looks whether a run is due, at most: a run is at most this late,
# and a process restarted more often than the interval still sees runs through.
TICK = timedelta(hours=1)


@dataclass(frozen=True)
class RetentionPolicy:
    # Days each class is kept, by its name (retention_classes.py); 0 or absent: for ever.
    periods: Mapping[str, int]
    interval: timedelta
    batch_size: int

    def period_of(self, record: RecordClass) -> int:
        return self.periods.get(record.name, 0)

    def cutoff(self, record: RecordClass, now: datetime) -> datetime:
        """Rows of the class older than this are past their period."""
        return now - timedelta(days=self.period_of(record))

    @property
    def deleting(self) -> list[RecordClass]:
        """The classes with a period: the others are kept for ever."""
        return [record for record in RECORD_CLASSES if self.period_of(record) > 0]


def policy_from(settings: Settings) -> RetentionPolicy:
    alerts = settings.retention_alert_days
    return RetentionPolicy(
        periods={
            "group_messages": settings.retention_group_days,
            "peer_messages": settings.retention_peer_days,
            "meeting_messages": settings.retention_meeting_days,
            "support_messages": settings.retention_support_days,
            "alerts": alerts,
            "reports": alerts,
            "audit_entries": settings.retention_audit_days,
        },
        interval=timedelta(hours=settings.retention_interval_hours),
        batch_size=settings.retention_batch_size,
    )


@dataclass
class Retention:
    sessions: SessionFactory
    clock: Clock
    audit: AuditSink
    policy: RetentionPolicy
    claims: JobClaims = field(init=False)
    _looking: LoopingCall | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.claims = JobClaims(self.sessions, self.clock, JOB_NAME)

    async def start(self) -> None:
        # Nothing ever becomes due while every class is kept for ever.
        if self.policy.deleting:
            tick = min(TICK, self.policy.interval).total_seconds()
            self._looking = self.clock.looping_call(self.run_if_due, tick)

    async def close(self) -> None:
        if self._looking is not None:
            await self._looking.stop()

    async def run_if_due(self) -> None:
        """A scheduled run: when no process has finished one within the interval."""
        if await self.claims.claim(once_every=self.policy.interval):
            await self._run_claimed()

    async def run_now(self) -> dict[str, int]:
        """One run at once (the command line's `--apply`): how many records of each class
        with a period it deleted. `conflict` while another process runs one."""
        if not self.policy.deleting:
            return {}
        if not await self.claims.claim():
            raise AppError("conflict", "A retention run is under way on another process.")
        return await self._run_claimed()

    async def report(self, actor: Actor | None) -> dict[str, Any]:
        """Per class: its period, how many records a run would delete now, how many past
        their period legal holds keep, and how many an open case keeps."""
        require_admin(actor)
        now = self.clock.now()
        async with self.sessions() as session:
            classes = [await self._class_report(session, record, now) for record in RECORD_CLASSES]
            holds = await store.count_holds_in_force(session)
        return {
            "classes": classes,
            "holds_in_force": holds,
            "interval_hours": self.policy.interval.total_seconds() / 3600,
            "last_run_at": iso_utc(await self.claims.last_finished()),
        }

    async def _class_report(
        self, session: AsyncSession, record: RecordClass, now: datetime
    ) -> dict[str, Any]:
        days = self.policy.period_of(record)
        counts = {"due": 0, "held": 0, "kept_open": 0}
        if days > 0:
            cutoff = self.policy.cutoff(record, now)
            counts = {
                "due": await store.count_where(session, record, record.due(cutoff)),
                "held": await store.count_where(session, record, record.held_back(cutoff)),
                "kept_open": await store.count_where(
                    session, record, record.kept_for_open_case(cutoff)
                ),
            }
        return {"name": record.name, "period_days": days, **counts}

    async def _run_claimed(self) -> dict[str, int]:
        now = self.clock.now()
        deleted: dict[str, int] = {}
        try:
            for record in self.policy.deleting:
                if not await self._delete_due(record, self.policy.cutoff(record, now), deleted):
                    log.warning("retention: another process took the run over; stopping")
                    break
            held = await self._held_back(now)
        except BaseException:
            await self.claims.release()
            if any(deleted.values()):
                # What went before the failure is gone for good: the log says so.
                await self._record(summary(deleted) + "; stopped by an error, the next run goes on")
            raise
        await self._record(f"{summary(deleted)}; held by legal holds {held}")
        await self.claims.finish()
        return deleted

    async def _delete_due(
        self, record: RecordClass, cutoff: datetime, deleted: dict[str, int]
    ) -> bool:
        """Batch after batch, each its own short transaction, so a year of messages holds no
        lock for long, counted into `deleted` as they go. Answers whether the claim is still
        this process's."""
        deleted[record.name], batch = 0, self.policy.batch_size
        while True:
            async with self.sessions() as session:
                ids = await store.due_ids(session, record, cutoff, batch)
                if ids:
                    await store.delete_rows(session, record, ids)
                    await session.commit()
            deleted[record.name] += len(ids)
            if len(ids) < batch:
                return True
            if not await self.claims.renew():
                return False

    async def _record(self, reason: str) -> None:
        await self.audit.record(actor_id=None, action=RUN_ACTION, reason=reason)

    async def _held_back(self, now: datetime) -> int:
        """Records past their period that legal holds keep, over every class with a period."""
        async with self.sessions() as session:
            total = 0
            for record in self.policy.deleting:
                cutoff = self.policy.cutoff(record, now)
                total += await store.count_where(session, record, record.held_back(cutoff))
            return total


def summary(deleted: Mapping[str, int]) -> str:
    """What a run deleted, class by class, for its audit entry."""
    return "deleted " + ", ".join(f"{name} {count}" for name, count in deleted.items())
