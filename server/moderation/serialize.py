"""The JSON shapes of moderation objects."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from server.accounts import store as account_store
from server.accounts.models import public_user_of
from server.kernel.clock import iso_utc
from server.moderation.models import Alert, AuditEntry, Report, Restriction

PublicUsers = dict[int, dict[str, Any]]


async def public_users(session: AsyncSession, user_ids: Iterable[int | None]) -> PublicUsers:
    wanted = sorted({user_id for user_id in user_ids if user_id is not None})
    rows = await account_store.public_user_rows(session, wanted)
    return {user_id: public_user_of(user_id, name, role) for user_id, name, role in rows}


def alert_json(alert: Alert, users: PublicUsers) -> dict[str, Any]:
    return {
        "id": alert.id,
        "kind": alert.kind,
        "room_id": alert.room_id,
        "message_id": alert.message_id,
        "user": users.get(alert.user_id),
        "excerpt": alert.excerpt,
        "category": alert.category,
        "severity": alert.severity,
        "reached": alert.reached,
        "paged": alert.page_step,
        "support_room_id": alert.support_room_id,
        "created_at": iso_utc(alert.created_at),
        "status": alert.status,
        "report_id": alert.report_id,
        "raise_count": alert.raise_count,
        "raised_at": iso_utc(alert.raised_at),
        "acked_by": users.get(alert.acked_by) if alert.acked_by else None,
        "acked_at": iso_utc(alert.acked_at),
        "outcome": alert.outcome,
        "note": alert.note,
    }


def alert_user_ids(alert: Alert) -> list[int | None]:
    return [alert.user_id, alert.acked_by]


def report_json(
    report: Report, message: dict[str, Any] | None, users: PublicUsers
) -> dict[str, Any]:
    return {
        "id": report.id,
        "room_id": report.room_id,
        "message_id": report.message_id,
        "message": message,
        "author": message["author"] if message else None,
        "reporter": users.get(report.reporter_id),
        "reason": report.reason,
        "status": report.status,
        "created_at": iso_utc(report.created_at),
        "resolved_by": users.get(report.resolved_by) if report.resolved_by else None,
        "resolved_at": iso_utc(report.resolved_at),
        "note": report.note,
    }


def restriction_json(restriction: Restriction, users: PublicUsers) -> dict[str, Any]:
    return {
        "id": restriction.id,
        "kind": restriction.kind,
        "room_id": restriction.room_id,
        "user": users.get(restriction.user_id),
        "reason": restriction.reason,
        "created_by": users.get(restriction.created_by),
        "created_at": iso_utc(restriction.created_at),
        "until": iso_utc(restriction.until),
    }


def audit_json(entry: AuditEntry, users: PublicUsers) -> dict[str, Any]:
    return {
        "id": entry.id,
        "actor": users.get(entry.actor_id) if entry.actor_id else None,
        "action": entry.action,
        "target_user": users.get(entry.target_user_id) if entry.target_user_id else None,
        "room_id": entry.room_id,
        "message_id": entry.message_id,
        "reason": entry.reason,
        "created_at": iso_utc(entry.created_at),
    }
