"""Attendance: the time each person had at least one socket in a meeting room during an
occurrence's live window, so two tabs or a reconnect are not counted twice."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from server.accounts import store as account_store
from server.accounts.models import public_user
from server.accounts.service import require_staff
from server.kernel.actors import Actor, Role
from server.kernel.clock import Clock, iso_utc
from server.kernel.csvfile import csv_text
from server.kernel.db import SessionFactory
from server.kernel.errors import invalid
from server.meetings import store
from server.meetings.models import PresenceSpan
from server.meetings.occurrences import Occurrence, expand
from server.meetings.service import MeetingService, parse_utc
from server.realtime.hub import Connection
from server.rooms import store as room_store

CSV_COLUMNS = [
    "user_id",
    "display_name",
    "first_joined_at",
    "last_left_at",
    "minutes_present",
    "late_minutes",
    "mood",
    "note",
]

Interval = tuple[datetime, datetime]


def union_seconds(intervals: list[Interval]) -> float:
    """The length of the union of the intervals."""
    total, reach = 0.0, None
    for start, end in sorted(intervals):
        if reach is not None and start < reach:
            start = reach
        if end > start:
            total += (end - start).total_seconds()
            reach = end if reach is None else max(reach, end)
    return total


def summarise(spans: list[PresenceSpan], occurrence: Occurrence, now: datetime) -> dict[str, Any]:
    """One person's attendance of one occurrence from their sockets' spans."""
    window_end = min(occurrence.end, now)
    in_window = [
        (max(span.joined_at, occurrence.start), min(span.left_at or now, window_end))
        for span in spans
    ]
    in_window = [(start, end) for start, end in in_window if end > start]
    still_here = any(span.left_at is None for span in spans)
    first_present = min((start for start, _ in in_window), default=None)
    return {
        "first_joined_at": iso_utc(min(span.joined_at for span in spans)),
        "last_left_at": None
        if still_here
        else iso_utc(max(span.left_at for span in spans if span.left_at)),
        "minutes_present": round(union_seconds(in_window) / 60, 1),
        "late_minutes": (
            round(max(0.0, (first_present - occurrence.start).total_seconds()) / 60, 1)
            if first_present is not None
            else None
        ),
    }


@dataclass
class AttendanceTracker:
    """Listens to presence: records each socket's time in meeting rooms."""

    sessions: SessionFactory
    clock: Clock
    # A room's kind never changes, so each is read once: joins of other rooms then cost
    # no query at all.
    _kinds: dict[int, str] = field(default_factory=dict)

    async def entered(self, connection: Connection, room_id: int) -> None:
        if self._kinds.get(room_id, "meeting") != "meeting":
            return
        async with self.sessions() as session:
            if room_id not in self._kinds:
                room = await room_store.get_room(session, room_id)
                if room is None:
                    return
                self._kinds[room_id] = room.kind
            if self._kinds[room_id] != "meeting":
                return
            await store.open_span(
                session,
                room_id=room_id,
                user_id=connection.actor.id,
                conn_id=connection.sid,
                now=self.clock.now(),
            )

    async def exited(self, connection: Connection, room_id: int) -> None:
        if self._kinds.get(room_id, "meeting") != "meeting":
            return
        async with self.sessions() as session:
            await store.close_spans(
                session, room_id=room_id, conn_id=connection.sid, now=self.clock.now()
            )


@dataclass
class AttendanceReports:
    sessions: SessionFactory
    clock: Clock
    meetings: MeetingService

    async def report(
        self, actor: Actor, series_id: int, occurrence_text: str
    ) -> list[dict[str, Any]]:
        require_staff(actor)
        series = await self.meetings.series_for(actor, series_id)
        start = parse_utc(occurrence_text, "occurrence")
        day = timedelta(days=1)
        occurrence = next(
            (o for o in expand(series, start - day, start + day) if o.start == start), None
        )
        if occurrence is None:
            raise invalid("occurrence: no occurrence of this meeting starts then.")
        now = self.clock.now()
        async with self.sessions() as session:
            room = await room_store.get_room(session, series.room_id)
            expected = await store.audience_user_ids(session, room) if room else []
            spans = await store.spans_between(
                session, series.room_id, occurrence.lobby_opens, occurrence.end
            )
            check_ins = await store.check_ins(session, series_id, occurrence.start)
            users = {
                user.id: user
                for user in await account_store.get_users(
                    session, sorted({*expected, *(span.user_id for span in spans)})
                )
            }
        by_user: dict[int, list[PresenceSpan]] = {}
        for span in spans:
            by_user.setdefault(span.user_id, []).append(span)
        rows = []
        for user_id, user in sorted(users.items(), key=lambda item: item[1].display_name.lower()):
            if user.role in (Role.MODERATOR, Role.ADMIN) or user_id is None:
                continue  # staff run the session; they are not its attendees
            present = by_user.get(user_id)
            check_in = check_ins.get(user_id)
            rows.append(
                {
                    "user": public_user(user),
                    **(
                        summarise(present, occurrence, now)
                        if present
                        else {
                            "first_joined_at": None,
                            "last_left_at": None,
                            "minutes_present": 0.0,
                            "late_minutes": None,
                        }
                    ),
                    "checkin": (
                        {"mood": check_in.mood, "note": check_in.note} if check_in else None
                    ),
                }
            )
        return rows

    async def as_csv(self, actor: Actor, series_id: int, occurrence_text: str) -> str:
        rows = []
        for row in await self.report(actor, series_id, occurrence_text):
            check_in = row["checkin"] or {}
            rows.append(
                [
                    row["user"]["id"],
                    row["user"]["display_name"],
                    row["first_joined_at"],
                    row["last_left_at"],
                    row["minutes_present"],
                    row["late_minutes"],
                    check_in.get("mood"),
                    check_in.get("note"),
                ]
            )
        return csv_text(CSV_COLUMNS, rows)
