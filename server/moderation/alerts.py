"""Alerts for moderators: raised by crisis language and reports, sent to every online
moderator, raised again while nobody acknowledges them, and handed to a webhook. When no staff
is online, a crisis alert pages the on-call list through the webhook, one after the other
until someone acknowledges it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from server.accounts.service import require_staff
from server.kernel.actors import Actor
from server.kernel.audit import AuditSink
from server.kernel.clock import Clock, LoopingCall
from server.kernel.db import SessionFactory
from server.kernel.errors import AppError, not_found
from server.moderation import store
from server.moderation.duty import StaffDesk
from server.moderation.models import EXCERPT_CHARS, AckIn, Alert
from server.moderation.serialize import alert_json, alert_user_ids, public_users
from server.moderation.webhook import AlertWebhook
from server.realtime.hub import Connection, Hub


class Reach(StrEnum):
    """Who an alert reached when it was raised: what its writer may truthfully be told."""

    ON_DUTY = "on_duty"  # staff on duty are online, and were shown it
    STAFF_ONLINE = "staff_online"  # staff are online (none on duty), and were shown it
    ON_CALL = "on_call"  # no staff online: the first on the on-call list is being paged
    NOBODY = "nobody"  # no staff online, nobody to page: staff see it when they next connect


# (who acknowledged, the report, its resolution, the note)
ReportAlertListener = Callable[[Actor, int, str, str], Awaitable[None]]
# Told an alert's JSON: announced, or raised again.
AlertListener = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass
class AlertService:
    sessions: SessionFactory
    clock: Clock
    hub: Hub
    audit: AuditSink
    desk: StaffDesk
    raise_again_after: timedelta
    check_interval_s: float
    webhook: AlertWebhook | None = None
    # Names or handles the paging system behind the webhook knows, in the order to page them
    # about a crisis alert when no staff is online; the next is paged when the last has not
    # acknowledged within `page_next_after`.
    on_call: list[str] = field(default_factory=list)
    page_next_after: timedelta = timedelta(minutes=10)
    # Told when a report's alert is acknowledged, so its report is resolved with it: one item
    # in the moderators' queue, not two (app.py wires the report service).
    report_alert_listeners: list[ReportAlertListener] = field(default_factory=list)
    # Told of each alert once it is announced (once, on one process): staff away from the
    # console are pushed to (app.py wires notifications).
    announce_listeners: list[AlertListener] = field(default_factory=list)
    # Told of each alert raised again because nobody acknowledged it in time (once, on the
    # process that claimed the raise): staff away from the console are pushed to, wider than
    # the first time (app.py wires notifications; this package imports none).
    reraise_listeners: list[AlertListener] = field(default_factory=list)
    _checking: LoopingCall | None = field(default=None, init=False)

    async def raise_alert(
        self,
        *,
        kind: str,
        room_id: int | None,
        user_id: int,
        excerpt: str,
        message_id: int | None = None,
        term: str = "",
        category: str | None = None,
        severity: str | None = None,
        report_id: int | None = None,
    ) -> dict[str, Any]:
        """Store an alert and tell staff; the answer's `reached` says who was reached."""
        now = self.clock.now()
        alert = Alert(
            kind=kind,
            room_id=room_id,
            message_id=message_id,
            user_id=user_id,
            excerpt=excerpt[:EXCERPT_CHARS],
            term=term,
            category=category,
            severity=severity,
            report_id=report_id,
            created_at=now,
            raised_at=now,
        )
        async with self.sessions() as session:
            session.add(alert)
            await session.commit()
        announced = await self.announce(alert.id or 0)
        assert announced is not None  # noqa: S101 - stored just now, so nobody else has
        return announced

    async def announce(self, alert_id: int) -> dict[str, Any] | None:
        """Tell staff of a stored alert (a crisis alert is stored in its message's
        transaction); the answer's `reached` says who was reached. None when it has been
        announced already: each alert is announced once."""
        async with self.sessions() as session:
            # Read before the first write: on SQLite that write takes the file's one write
            # lock until the commit, and every send waits while it is held. (Whom it
            # reaches is read from memory: presence and the kept duty roster.)
            alert = await store.alert_by_id(session, alert_id)
            if alert is None:
                raise not_found("alert")
            kind = alert.kind
            reach = await self._reach(kind, session)
            paged_at = self.clock.now() if reach is Reach.ON_CALL else None
            if not await store.record_reach(session, alert, reach, paged_at):
                return None
            # Read under the lock, so that alerts announced at once fold one after another
            # (none lost), and only into an older one (never two into each other, leaving
            # none open).
            earlier = (
                await store.open_crisis_alert_of(
                    session, alert.user_id, before=alert_id, to_update=True
                )
                if kind == "crisis"
                else None
            )
            page = reach is Reach.ON_CALL and earlier is None
            if earlier is not None:
                # One person, one open crisis alert: a flood of crisis text raises the same
                # alert again rather than burying staff in new ones.
                page = fold_alert(alert, earlier, self.clock.now(), reach)
                for folded in (alert, earlier):
                    await store.save_announced(session, folded)
                alert = earlier
            await session.commit()
            payload = alert_json(alert, await public_users(session, alert_user_ids(alert)))
        await self.hub.to_staff("alert", payload)
        for listener in self.announce_listeners:
            await listener(payload)
        if self.webhook is not None:
            self.webhook.deliver(payload)
            if page:
                self.webhook.page(payload, self.on_call[0], 1)
        return payload

    async def unannounced_alert_of(self, message_id: int) -> int | None:
        async with self.sessions() as session:
            return await store.unannounced_alert_of(session, message_id)

    async def _reach(self, kind: str, session: AsyncSession) -> Reach:
        online = await self.desk.online_staff()
        if online & await self.desk.on_duty(session):
            return Reach.ON_DUTY
        if online:
            return Reach.STAFF_ONLINE
        if kind == "crisis" and self.webhook is not None and self.on_call:
            return Reach.ON_CALL
        return Reach.NOBODY

    async def acknowledge(self, actor: Actor, alert_id: int, data: AckIn) -> dict[str, Any]:
        require_staff(actor)
        async with self.sessions() as session:
            if await session.get(Alert, alert_id) is None:
                raise not_found("alert")
        acknowledged = await self._acknowledge(actor, [alert_id], data.note, data.outcome)
        if not acknowledged:
            raise AppError("conflict", "This alert has already been acknowledged.")
        report_id = acknowledged[0].get("report_id")
        if report_id is not None:
            resolution = "dismissed" if data.outcome == "not_a_crisis" else "actioned"
            for listener in self.report_alert_listeners:
                await listener(actor, report_id, resolution, data.note)
        # Told only now: a console that reloads its report queue on this news must find the
        # report already resolved.
        await self._announce_acknowledged(acknowledged)
        return acknowledged[0]

    async def acknowledge_report_alerts(self, actor: Actor, report_id: int, note: str) -> None:
        async with self.sessions() as session:
            alert_ids = await store.alert_ids_of_report(session, report_id)
        await self._announce_acknowledged(await self._acknowledge(actor, alert_ids, note))

    async def _acknowledge(
        self, actor: Actor, alert_ids: list[int], note: str, outcome: str | None = None
    ) -> list[dict[str, Any]]:
        """Acknowledge those still open and audit it; answers them as JSON, not yet announced."""
        async with self.sessions() as session:
            acknowledged = await store.acknowledge_alerts(
                session, alert_ids, by=actor.id, note=note, now=self.clock.now(), outcome=outcome
            )
            await session.commit()
        async with self.sessions() as session:
            alerts = [a for a in [await session.get(Alert, i) for i in acknowledged] if a]
            users = await public_users(session, [i for a in alerts for i in alert_user_ids(a)])
        payloads = []
        for alert in alerts:
            payload = alert_json(alert, users)
            payloads.append(payload)
            await self.audit.record(
                actor_id=actor.id,
                action="alert_acknowledged",
                room_id=alert.room_id,
                target_user_id=alert.user_id,
                message_id=alert.message_id,
                reason="; ".join(
                    part for part in (f"outcome: {outcome}" if outcome else "", note) if part
                ),
            )
        return payloads

    async def _announce_acknowledged(self, payloads: list[dict[str, Any]]) -> None:
        # Other moderators' consoles drop them from their open list.
        for payload in payloads:
            await self.hub.to_staff("alert_acknowledged", payload)

    async def list(self, actor: Actor, status: str | None) -> list[dict[str, Any]]:
        require_staff(actor)
        async with self.sessions() as session:
            alerts = await store.list_alerts(session, status)
            users = await public_users(session, [i for a in alerts for i in alert_user_ids(a)])
        return [alert_json(alert, users) for alert in alerts]

    async def open_count(self) -> int:
        async with self.sessions() as session:
            return await store.count_open_alerts(session)

    async def send_open_alerts(self, connection: Connection) -> None:
        """A moderator who connects gets every open alert, including those raised while no
        moderator was online."""
        if not connection.actor.is_staff:
            return
        async with self.sessions() as session:
            alerts = await store.list_alerts(session, "open")
            users = await public_users(session, [i for a in alerts for i in alert_user_ids(a)])
        for alert in alerts:
            await self.hub.to_connection(connection, "alert", alert_json(alert, users))

    async def raise_due_again(self) -> int:
        """Raise again every open alert nobody acknowledged in time; answers how many."""
        now = self.clock.now()
        raised: list[dict[str, Any]] = []
        async with self.sessions() as session:
            for alert in await store.alerts_due_again(session, now - self.raise_again_after):
                if not await store.claim_raise_again(session, alert, now):
                    continue  # another process raised it
                await session.commit()
                await session.refresh(alert)
                users = await public_users(session, alert_user_ids(alert))
                payload = alert_json(alert, users)
                await self.hub.to_staff("alert", payload)
                raised.append(payload)
        # Told after the session is back: a listener may read the database itself.
        for payload in raised:
            for listener in self.reraise_listeners:
                await listener(payload)
        return len(raised)

    async def page_next_on_call(self) -> int:
        """Page the next on the on-call list about every crisis alert that the last one paged
        has not acknowledged in time; answers how many pages went out."""
        if self.webhook is None:
            return 0
        now = self.clock.now()
        paged = 0
        async with self.sessions() as session:
            due = await store.alerts_due_a_page(
                session, now - self.page_next_after, len(self.on_call)
            )
            for alert in due:
                step = alert.page_step
                if not await store.claim_page(session, alert, now):
                    continue  # another process paged
                await session.commit()
                await session.refresh(alert)
                users = await public_users(session, alert_user_ids(alert))
                self.webhook.page(alert_json(alert, users), self.on_call[step], step + 1)
                paged += 1
        return paged

    async def check(self) -> None:
        await self.raise_due_again()
        await self.page_next_on_call()

    async def start(self) -> None:
        if self.webhook is not None:
            await self.webhook.start()
        self._checking = self.clock.looping_call(self.check, self.check_interval_s)

    async def close(self) -> None:
        if self._checking is not None:
            await self._checking.stop()
        if self.webhook is not None:
            await self.webhook.close()


SEVERITY_RANK = {"urgent": 1, "emergency": 2}


def fold_alert(alert: Alert, into: Alert, now: datetime, reached: str) -> bool:
    """Fold a new crisis alert into the person's open one: that one is raised again with the
    newest words, place and category and the graver severity; this one is kept, merged.
    Answers whether the on-call list must be paged now (it reached nobody online, and no
    page about the open alert is under way)."""
    graver = max(
        [into.severity, alert.severity], key=lambda value: SEVERITY_RANK.get(value or "", 0)
    )
    into.raise_count += 1
    into.raised_at = now
    into.excerpt = alert.excerpt
    into.room_id = alert.room_id
    into.message_id = alert.message_id
    into.category = alert.category
    into.severity = graver
    # A page under way goes on up the on-call list; otherwise say who this one reached, and
    # start paging if that is the on-call list.
    start_paging = into.page_step == 0 and reached == "on_call"
    if into.page_step == 0:
        into.reached = reached
    if start_paging:
        into.page_step, into.paged_at = 1, now
    alert.status = "merged"
    alert.note = f"merged into alert {into.id}"
    return start_paging
