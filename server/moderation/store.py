"""Every database read and write of moderation."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Integer, Select, bindparam, func, or_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from server.kernel.db import in_time_range, newest_first_page
from server.kernel.hotpath.statements import HotStatement, insert_returning_id
from server.moderation.models import (
    Alert,
    AuditEntry,
    AuditQuery,
    Report,
    Restriction,
    StaffDuty,
)

# Every column of a new alert, so the statement runs on the drivers as it is written.
ALERT_COLUMNS = (
    "kind",
    "room_id",
    "message_id",
    "user_id",
    "excerpt",
    "term",
    "category",
    "severity",
    "reached",
    "page_step",
    "paged_at",
    "support_room_id",
    "report_id",
    "status",
    "created_at",
    "raised_at",
    "raise_count",
    "acked_by",
    "acked_at",
    "outcome",
    "note",
)
# A crisis alert stored in its message's own transaction (rooms/gates.py: StoredWithPost).
INSERT_ALERT = insert_returning_id(Alert, ALERT_COLUMNS)
AUDIT_COLUMNS = (
    "actor_id",
    "action",
    "target_user_id",
    "room_id",
    "message_id",
    "reason",
    "created_at",
)
# A filter's audit entry stored in its message's own transaction, likewise.
INSERT_AUDIT = insert_returning_id(AuditEntry, AUDIT_COLUMNS)


def _active(kind: str, now: datetime) -> list[ColumnElement[bool]]:
    return [col(Restriction.kind) == kind, *_in_force(now)]


def _in_force(now: datetime) -> list[ColumnElement[bool]]:
    return [
        col(Restriction.lifted_at).is_(None),
        or_(col(Restriction.until).is_(None), col(Restriction.until) > now),
    ]


async def restrictions_in_force(
    session: AsyncSession, *, room_ids: list[int], now: datetime
) -> list[Restriction]:
    """Every mute and ban in force in these rooms (what the restriction cache keeps)."""
    result = await session.execute(
        select(Restriction).where(col(Restriction.room_id).in_(room_ids), *_in_force(now))
    )
    return list(result.scalars())


async def restrictions_on_user(
    session: AsyncSession, *, user_id: int, now: datetime
) -> list[Restriction]:
    """Every mute and ban in force on one person, in any room."""
    result = await session.execute(
        select(Restriction)
        .where(col(Restriction.user_id) == user_id, *_in_force(now))
        .order_by(col(Restriction.room_id), col(Restriction.kind), col(Restriction.id))
    )
    return list(result.scalars())


async def active_restrictions(
    session: AsyncSession, *, kind: str, room_id: int, now: datetime
) -> list[Restriction]:
    result = await session.execute(
        select(Restriction)
        .where(col(Restriction.room_id) == room_id, *_active(kind, now))
        .order_by(col(Restriction.id))
    )
    return list(result.scalars())


async def lift_restrictions(
    session: AsyncSession, *, kind: str, room_id: int, user_id: int, by: int, now: datetime
) -> int:
    result = await session.execute(
        update(Restriction)
        .where(
            col(Restriction.room_id) == room_id,
            col(Restriction.user_id) == user_id,
            *_active(kind, now),
        )
        .values(lifted_by=by, lifted_at=now)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def find_open_report(
    session: AsyncSession, *, message_id: int, reporter_id: int
) -> Report | None:
    result = await session.execute(
        select(Report).where(
            Report.message_id == message_id,
            Report.reporter_id == reporter_id,
            Report.status == "open",
        )
    )
    return result.scalars().first()


async def list_reports(session: AsyncSession, status: str | None) -> list[Report]:
    query = select(Report).order_by(col(Report.id))
    if status is not None:
        query = query.where(Report.status == status)
    result = await session.execute(query)
    return list(result.scalars())


async def resolve_report(
    session: AsyncSession, *, report_id: int, status: str, by: int, note: str, now: datetime
) -> bool:
    """Resolve an open report; False when it was resolved already (by someone else first)."""
    result = await session.execute(
        update(Report)
        .where(col(Report.id) == report_id, col(Report.status) == "open")
        .values(status=status, resolved_by=by, resolved_at=now, note=note)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def list_alerts(session: AsyncSession, status: str | None) -> list[Alert]:
    query = select(Alert).order_by(col(Alert.id))
    if status is not None:
        query = query.where(Alert.status == status)
    result = await session.execute(query)
    return list(result.scalars())


async def count_open_alerts(session: AsyncSession) -> int:
    result = await session.execute(select(func.count()).where(col(Alert.status) == "open"))
    return int(result.scalar_one())


async def acknowledge_alerts(
    session: AsyncSession,
    alert_ids: list[int],
    *,
    by: int,
    note: str,
    now: datetime,
    outcome: str | None = None,
) -> list[int]:
    """Acknowledge those still open; answers the ids this call acknowledged."""
    if not alert_ids:
        return []
    open_ids = list(
        (
            await session.execute(
                select(Alert.id).where(col(Alert.id).in_(alert_ids), Alert.status == "open")
            )
        ).scalars()
    )
    if open_ids:
        await session.execute(
            update(Alert)
            .where(col(Alert.id).in_(open_ids), col(Alert.status) == "open")
            .values(status="acknowledged", acked_by=by, acked_at=now, note=note, outcome=outcome)
        )
    return [alert_id for alert_id in open_ids if alert_id is not None]


async def alert_ids_of_report(session: AsyncSession, report_id: int) -> list[int]:
    result = await session.execute(select(Alert.id).where(Alert.report_id == report_id))
    return [alert_id for alert_id in result.scalars() if alert_id is not None]


async def alerts_due_again(session: AsyncSession, raised_before: datetime) -> list[Alert]:
    result = await session.execute(
        select(Alert)
        .where(Alert.status == "open", col(Alert.raised_at) <= raised_before)
        .order_by(col(Alert.id))
    )
    return list(result.scalars())


async def claim_raise_again(session: AsyncSession, alert: Alert, now: datetime) -> bool:
    """Mark an alert raised again, unless another process did since it was read."""
    return await _claim_open(
        session,
        alert,
        col(Alert.raised_at) == alert.raised_at,
        {"raised_at": now, "raise_count": col(Alert.raise_count) + 1},
    )


async def _claim_open(
    session: AsyncSession, alert: Alert, unchanged: ColumnElement[bool], values: dict[str, Any]
) -> bool:
    """Change an open alert only if `unchanged` still holds: of several processes that read
    it, one changes it, and the others learn they lost."""
    result = await session.execute(
        update(Alert)
        .where(col(Alert.id) == alert.id, col(Alert.status) == "open", unchanged)
        .values(**values)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


# Announcing a crisis alert reads and writes alerts straight on the driver (kernel/hotpath/):
# through the ORM its five statements were most of a crisis send's CPU on SQLite. The alerts
# it reads are detached `Alert`s, written back with `save_announced`.
_ALERTS = Alert.__table__  # type: ignore[attr-defined]
_ALERT_FIELDS = tuple(_ALERTS.columns.keys())


def _alert_select(*conditions: ColumnElement[bool]) -> Select[Any]:
    return select(*_ALERTS.columns).where(*conditions)  # type: ignore[no-any-return]


def _detached_alerts(rows: list[tuple[Any, ...]]) -> list[Alert]:
    return [Alert(**dict(zip(_ALERT_FIELDS, row, strict=True))) for row in rows]


def _new_value(name: str) -> Any:
    """A bind for a column's new value (its own name is the SET clause's)."""
    return bindparam(f"new_{name}", type_=_ALERTS.c[name].type)


_ALERT_BY_ID = HotStatement(_alert_select(_ALERTS.c.id == bindparam("alert_id", type_=Integer)))
_UNANNOUNCED = (_ALERTS.c.id == bindparam("alert_id", type_=Integer), _ALERTS.c.reached == "")
_RECORD_REACH = HotStatement(
    update(_ALERTS)
    .where(*_UNANNOUNCED)
    .values(reached=_new_value("reached"))
    .returning(_ALERTS.c.id)
)
_RECORD_REACH_AND_PAGE = HotStatement(
    update(_ALERTS)
    .where(*_UNANNOUNCED)
    .values(reached=_new_value("reached"), page_step=1, paged_at=_new_value("paged_at"))
    .returning(_ALERTS.c.id)
)
# What announcing changes of an alert (fold_alert in alerts.py).
_ANNOUNCED_FIELDS = (
    "room_id",
    "message_id",
    "excerpt",
    "category",
    "severity",
    "reached",
    "page_step",
    "paged_at",
    "status",
    "raised_at",
    "raise_count",
    "note",
)
_SAVE_ANNOUNCED = HotStatement(
    update(_ALERTS)
    .where(_ALERTS.c.id == bindparam("alert_id", type_=Integer))
    .values({name: _new_value(name) for name in _ANNOUNCED_FIELDS})
    .returning(_ALERTS.c.id)
)


def _open_crisis_alert_statement(older: bool, to_update: bool) -> HotStatement:
    conditions = [
        _ALERTS.c.user_id == bindparam("user_id", type_=Integer),
        _ALERTS.c.kind == "crisis",
        _ALERTS.c.status == "open",
    ]
    if older:
        conditions.append(_ALERTS.c.id < bindparam("before", type_=Integer))
    query = _alert_select(*conditions).order_by(_ALERTS.c.id).limit(1)
    return HotStatement(query.with_for_update() if to_update else query)


# By (older than a given alert, to update).
_OPEN_CRISIS_ALERT = {
    (older, to_update): _open_crisis_alert_statement(older, to_update)
    for older in (False, True)
    for to_update in (False, True)
}


async def alert_by_id(session: AsyncSession, alert_id: int) -> Alert | None:
    """The alert, detached from the session."""
    found = _detached_alerts(await _ALERT_BY_ID.rows(session, {"alert_id": alert_id}))
    return found[0] if found else None


async def record_reach(
    session: AsyncSession, alert: Alert, reached: str, paged_at: datetime | None
) -> bool:
    """Record whom a new alert reached, on the row and on `alert`; answers False when it was
    announced already (by a repeated send, or another process), so it is announced once."""
    params: dict[str, Any] = {"alert_id": alert.id, "new_reached": reached}
    statement = _RECORD_REACH
    if paged_at is not None:
        statement = _RECORD_REACH_AND_PAGE
        params["new_paged_at"] = paged_at
    if not await statement.rows(session, params):
        return False
    alert.reached = reached
    if paged_at is not None:
        alert.page_step, alert.paged_at = 1, paged_at
    return True


async def save_announced(session: AsyncSession, alert: Alert) -> None:
    """Write back what announcing changed of a detached alert."""
    params = {f"new_{name}": getattr(alert, name) for name in _ANNOUNCED_FIELDS}
    await _SAVE_ANNOUNCED.rows(session, {"alert_id": alert.id, **params})


async def open_crisis_alert_of(
    session: AsyncSession, user_id: int, before: int | None = None, *, to_update: bool = False
) -> Alert | None:
    """The person's earliest open crisis alert (older than alert `before`, if given),
    detached; `to_update` locks its row until the commit (PostgreSQL; SQLite's write lock,
    taken by an earlier write in the transaction, holds the whole file)."""
    statement = _OPEN_CRISIS_ALERT[(before is not None, to_update)]
    params = {"user_id": user_id} if before is None else {"user_id": user_id, "before": before}
    found = _detached_alerts(await statement.rows(session, params))
    return found[0] if found else None


async def unannounced_alert_of(session: AsyncSession, message_id: int) -> int | None:
    """The alert stored with this message that staff were never told of, if there is one."""
    result = await session.execute(
        select(Alert.id).where(col(Alert.message_id) == message_id, col(Alert.reached) == "")
    )
    return result.scalars().first()


async def alerts_due_a_page(
    session: AsyncSession, paged_before: datetime, steps: int
) -> list[Alert]:
    """Open alerts paged to someone on call who has not acknowledged in time, with someone
    further up the list still to page."""
    result = await session.execute(
        select(Alert)
        .where(
            Alert.status == "open",
            col(Alert.page_step) >= 1,
            col(Alert.page_step) < steps,
            col(Alert.paged_at) <= paged_before,
        )
        .order_by(col(Alert.id))
    )
    return list(result.scalars())


async def claim_page(session: AsyncSession, alert: Alert, now: datetime) -> bool:
    """Move an alert one step up the on-call list, unless another process did since."""
    return await _claim_open(
        session,
        alert,
        col(Alert.page_step) == alert.page_step,
        {"page_step": alert.page_step + 1, "paged_at": now},
    )


async def duty_roster(session: AsyncSession) -> list[StaffDuty]:
    result = await session.execute(select(StaffDuty).order_by(col(StaffDuty.since)))
    return list(result.scalars())


async def set_duty(session: AsyncSession, user_id: int, on_duty: bool, now: datetime) -> bool:
    """Put a member of staff on duty or off it; answers whether that changed anything."""
    current = await session.get(StaffDuty, user_id)
    if on_duty and current is None:
        session.add(StaffDuty(user_id=user_id, since=now))
        return True
    if not on_duty and current is not None:
        await session.delete(current)
        return True
    return False


async def audit_entries(session: AsyncSession, query: AuditQuery) -> list[AuditEntry]:
    """Newest first, the query's page (one more than its limit, to tell whether more follow)."""
    statement = select(AuditEntry)
    if query.room_id is not None:
        statement = statement.where(AuditEntry.room_id == query.room_id)
    if query.user_id is not None:
        statement = statement.where(
            or_(
                col(AuditEntry.actor_id) == query.user_id,
                col(AuditEntry.target_user_id) == query.user_id,
            )
        )
    if query.action:
        statement = statement.where(AuditEntry.action == query.action)
    statement = in_time_range(statement, AuditEntry.created_at, query)
    return await newest_first_page(session, statement, AuditEntry.id, query)
