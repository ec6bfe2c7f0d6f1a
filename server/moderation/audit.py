"""The audit log: every moderation action, filter hit and alert acknowledgement."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from server.accounts.service import require_staff
from server.kernel.actors import Actor
from server.kernel.clock import Clock
from server.kernel.csvfile import csv_text
from server.kernel.db import SessionFactory
from server.moderation import store
from server.moderation.models import AuditEntry, AuditQuery
from server.moderation.serialize import audit_json, public_users

CSV_COLUMNS = [
    "id",
    "created_at",
    "action",
    "actor_id",
    "actor",
    "target_user_id",
    "target_user",
    "room_id",
    "message_id",
    "reason",
]


@dataclass
class AuditLog:
    sessions: SessionFactory
    clock: Clock

    async def record(
        self,
        *,
        actor_id: int | None,
        action: str,
        room_id: int | None = None,
        target_user_id: int | None = None,
        message_id: int | None = None,
        reason: str = "",
    ) -> None:
        async with self.sessions() as session:
            session.add(
                AuditEntry(
                    actor_id=actor_id,
                    action=action,
                    room_id=room_id,
                    target_user_id=target_user_id,
                    message_id=message_id,
                    reason=reason[:1000],
                    created_at=self.clock.now(),
                )
            )
            await session.commit()

    async def entries(self, actor: Actor, query: AuditQuery) -> list[dict[str, Any]]:
        """Newest first."""
        require_staff(actor)
        async with self.sessions() as session:
            entries = await store.audit_entries(
                session, room_id=query.room_id, before=query.before, limit=query.limit
            )
            users = await public_users(
                session, [id_ for e in entries for id_ in (e.actor_id, e.target_user_id)]
            )
        return [audit_json(entry, users) for entry in entries]

    async def as_csv(self, actor: Actor, query: AuditQuery) -> str:
        rows = []
        for entry in await self.entries(actor, query):
            actor_json, target = entry["actor"] or {}, entry["target_user"] or {}
            rows.append(
                [
                    entry["id"],
                    entry["created_at"],
                    entry["action"],
                    actor_json.get("id"),
                    actor_json.get("display_name"),
                    target.get("id"),
                    target.get("display_name"),
                    entry["room_id"],
                    entry["message_id"],
                    entry["reason"],
                ]
            )
        return csv_text(CSV_COLUMNS, rows)
