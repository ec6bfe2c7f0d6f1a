"""Legal holds: an admin suspends the deletion of everything about a room or a person (for a
lawsuit, an investigation, a records request) until the hold is lifted (docs/privacy.md).

Other features ask `holds_covering` before they delete anything about someone."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from server.accounts.models import User
from server.accounts.service import require_admin
from server.kernel.actors import Actor
from server.kernel.audit import AuditSink
from server.kernel.clock import Clock, iso_utc
from server.kernel.db import SessionFactory
from server.kernel.errors import AppError, not_found
from server.moderation.serialize import PublicUsers, public_users
from server.privacy import retention_store as store
from server.privacy.retention_models import HoldIn, LegalHold, LiftIn
from server.rooms.models import Room

PLACED = "legal_hold_placed"
LIFTED = "legal_hold_lifted"


async def holds_covering(
    session: AsyncSession, *, user_id: int | None = None, room_id: int | None = None
) -> list[LegalHold]:
    """The holds in force on this person, or on this room (either, when both are given);
    empty when neither is under a hold. Oldest first."""
    return await store.holds_covering(session, user_id=user_id, room_id=room_id)


def hold_json(hold: LegalHold, users: PublicUsers) -> dict[str, Any]:
    return {
        "id": hold.id,
        "room_id": hold.room_id,
        "user_id": hold.user_id,
        "user": users.get(hold.user_id) if hold.user_id else None,
        "reason": hold.reason,
        "placed_by": users.get(hold.placed_by) if hold.placed_by else None,
        "placed_at": iso_utc(hold.placed_at),
        "lifted_by": users.get(hold.lifted_by) if hold.lifted_by else None,
        "lifted_at": iso_utc(hold.lifted_at),
        "active": hold.lifted_at is None,
    }


async def holds_json(session: AsyncSession, holds: list[LegalHold]) -> list[dict[str, Any]]:
    users = await public_users(
        session, [id_ for hold in holds for id_ in (hold.user_id, hold.placed_by, hold.lifted_by)]
    )
    return [hold_json(hold, users) for hold in holds]


@dataclass
class LegalHolds:
    sessions: SessionFactory
    clock: Clock
    audit: AuditSink

    async def list_holds(self, actor: Actor, status: str) -> list[dict[str, Any]]:
        require_admin(actor)
        async with self.sessions() as session:
            return await holds_json(session, await store.list_holds(session, status))

    async def place(self, actor: Actor, data: HoldIn) -> dict[str, Any]:
        require_admin(actor)
        async with self.sessions() as session:
            await _check_target(session, data)
            hold = LegalHold(
                room_id=data.room_id,
                user_id=data.user_id,
                reason=data.reason,
                placed_by=actor.id,
                placed_at=self.clock.now(),
            )
            session.add(hold)
            await session.commit()
            answer = (await holds_json(session, [hold]))[0]
        await self._record(actor, PLACED, hold, data.reason)
        return answer

    async def lift(self, actor: Actor, hold_id: int, data: LiftIn) -> dict[str, Any]:
        require_admin(actor)
        async with self.sessions() as session:
            if await session.get(LegalHold, hold_id) is None:
                raise not_found("legal hold")
            lifted = await store.lift_hold(session, hold_id, by=actor.id, now=self.clock.now())
            await session.commit()
            if not lifted:
                raise AppError("conflict", "This legal hold has been lifted already.")
            hold = await session.get(LegalHold, hold_id, populate_existing=True)
            assert hold is not None  # noqa: S101 - holds are never deleted
            answer = (await holds_json(session, [hold]))[0]
        await self._record(actor, LIFTED, hold, data.reason)
        return answer

    async def _record(self, actor: Actor, action: str, hold: LegalHold, reason: str) -> None:
        await self.audit.record(
            actor_id=actor.id,
            action=action,
            room_id=hold.room_id,
            target_user_id=hold.user_id,
            reason=f"hold {hold.id}: {reason}" if reason else f"hold {hold.id}",
        )


async def _check_target(session: AsyncSession, data: HoldIn) -> None:
    if data.room_id is not None and await session.get(Room, data.room_id) is None:
        raise not_found("room")
    if data.user_id is not None and await session.get(User, data.user_id) is None:
        raise not_found("user")
