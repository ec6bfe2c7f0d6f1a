"""The audit log: every moderation action, filter hit and alert acknowledgement."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

from server.accounts.service import require_staff
from server.kernel.actors import Actor
from server.kernel.clock import Clock
from server.kernel.csvfile import paged_csv
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
# An export stops here: a clinic's audit log over any range it asks for is far smaller.
CSV_MAX_ROWS = 100_000


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

    def written_with_post(self, action: str) -> None:
        return None  # written already, by the post's own transaction

    async def entries(self, actor: Actor, query: AuditQuery) -> dict[str, Any]:
        """Newest first, a page: `next_before` pages back (None: nothing older matches)."""
        require_staff(actor)
        async with self.sessions() as session:
            found = await store.audit_entries(session, query)
            entries = found[: query.limit]
            users = await public_users(
                session, [id_ for e in entries for id_ in (e.actor_id, e.target_user_id)]
            )
        more = len(found) > query.limit and entries
        return {
            "entries": [audit_json(entry, users) for entry in entries],
            "next_before": entries[-1].id if more else None,
        }

    async def as_csv(self, actor: Actor, query: AuditQuery) -> str:
        """Every entry that matches, page after page (up to CSV_MAX_ROWS)."""
        return await paged_csv(
            CSV_COLUMNS, query, partial(self.entries, actor), csv_row, CSV_MAX_ROWS
        )


def csv_row(entry: dict[str, Any]) -> list[Any]:
    actor, target = entry["actor"] or {}, entry["target_user"] or {}
    return [
        entry["id"],
        entry["created_at"],
        entry["action"],
        actor.get("id"),
        actor.get("display_name"),
        target.get("id"),
        target.get("display_name"),
        entry["room_id"],
        entry["message_id"],
        entry["reason"],
    ]
