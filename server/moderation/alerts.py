"""Alerts for moderators: raised by crisis language and reports, sent to every online
moderator, raised again while nobody acknowledges them, and handed to a webhook."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from server.accounts.service import require_staff
from server.kernel.actors import Actor
from server.kernel.audit import AuditSink
from server.kernel.clock import Clock, LoopingCall
from server.kernel.db import SessionFactory
from server.kernel.errors import AppError, not_found
from server.moderation import store
from server.moderation.models import EXCERPT_CHARS, AckIn, Alert
from server.moderation.serialize import alert_json, alert_user_ids, public_users
from server.moderation.webhook import AlertWebhook
from server.realtime.hub import Connection, Hub


@dataclass
class AlertService:
    sessions: SessionFactory
    clock: Clock
    hub: Hub
    audit: AuditSink
    raise_again_after: timedelta
    check_interval_s: float
    webhook: AlertWebhook | None = None
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
        report_id: int | None = None,
    ) -> dict[str, Any]:
        now = self.clock.now()
        alert = Alert(
            kind=kind,
            room_id=room_id,
            message_id=message_id,
            user_id=user_id,
            excerpt=excerpt[:EXCERPT_CHARS],
            term=term,
            report_id=report_id,
            created_at=now,
            raised_at=now,
        )
        async with self.sessions() as session:
            session.add(alert)
            await session.commit()
            payload = alert_json(alert, await public_users(session, alert_user_ids(alert)))
        await self._tell_staff(payload)
        return payload

    async def announce(self, alert_id: int) -> dict[str, Any]:
        """Tells staff of an alert stored already (in its message's transaction)."""
        async with self.sessions() as session:
            alert = await session.get(Alert, alert_id)
            if alert is None:
                raise not_found("alert")
            payload = alert_json(alert, await public_users(session, alert_user_ids(alert)))
        await self._tell_staff(payload)
        return payload

    async def _tell_staff(self, payload: dict[str, Any]) -> None:
        await self.hub.to_staff("alert", payload)
        if self.webhook is not None:
            self.webhook.deliver(payload)

    async def acknowledge(self, actor: Actor, alert_id: int, data: AckIn) -> dict[str, Any]:
        require_staff(actor)
        async with self.sessions() as session:
            if await session.get(Alert, alert_id) is None:
                raise not_found("alert")
        acknowledged = await self._acknowledge(actor, [alert_id], data.note)
        if not acknowledged:
            raise AppError("conflict", "This alert has already been acknowledged.")
        return acknowledged[0]

    async def acknowledge_report_alerts(self, actor: Actor, report_id: int, note: str) -> None:
        async with self.sessions() as session:
            alert_ids = await store.alert_ids_of_report(session, report_id)
        await self._acknowledge(actor, alert_ids, note)

    async def _acknowledge(
        self, actor: Actor, alert_ids: list[int], note: str
    ) -> list[dict[str, Any]]:
        """Acknowledge those still open; answers them as JSON."""
        async with self.sessions() as session:
            acknowledged = await store.acknowledge_alerts(
                session, alert_ids, by=actor.id, note=note, now=self.clock.now()
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
                reason=note,
            )
            # Other moderators' consoles drop it from their open list.
            await self.hub.to_staff("alert_acknowledged", payload)
        return payloads

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
        raised = 0
        async with self.sessions() as session:
            for alert in await store.alerts_due_again(session, now - self.raise_again_after):
                if not await store.claim_raise_again(session, alert, now):
                    continue  # another process raised it
                await session.commit()
                await session.refresh(alert)
                users = await public_users(session, alert_user_ids(alert))
                await self.hub.to_staff("alert", alert_json(alert, users))
                raised += 1
        return raised

    async def start(self) -> None:
        if self.webhook is not None:
            await self.webhook.start()
        self._checking = self.clock.looping_call(self.raise_due_again, self.check_interval_s)

    async def close(self) -> None:
        if self._checking is not None:
            await self._checking.stop()
        if self.webhook is not None:
            await self.webhook.close()
