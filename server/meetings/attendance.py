"""Attendance: the time each person had at least one socket in a meeting room during an
occurrence's live window, so two tabs or a reconnect are not counted twice."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from server.accounts import store as account_store
from server.accounts.models import public_user
from server.accounts.service import require_staff
from server.kernel.actors import Actor, Role
from server.kernel.clock import Clock, iso_utc
from server.kernel.csvfile import csv_text
from server.kernel.db import SessionFactory
from server.kernel.errors import invalid
from server.meetings import store
from server.meetings.models import AttendanceQuery, MeetingSeries, PresenceSpan
from server.meetings.occurrences import Occurrence, expand
from server.meetings.service import MeetingService
from server.realtime.hub import Connection
from server.realtime.shared_cache import SharedCache
from server.rooms import store as room_store
from server.rooms.models import Room

CSV_COLUMNS = [
    "meeting_id",
    "meeting",
    "date",
    "local_start",
    "timezone",
    "starts_at",
    "user_id",
    "display_name",
    "first_joined_at",
    "last_left_at",
    "minutes_present",
    "minutes_in_call",
    "late_minutes",
    "mood",
    "low_mood",
    "note",
]
# Check-in moods run 1 (worst) to 5; at or below this one a mood is flagged for staff.
LOW_MOOD = 2
# Arriving later than this after the start counts as late in the range report.
LATE_AFTER_MINUTES = 5.0
# The longest range one report covers.
MAX_RANGE = timedelta(days=92)

Interval = tuple[datetime, datetime]
# Presence spans of a video call start their connection name with this (media/service.py
# writes them as `call:<room>:<feed>`); the chat's sockets have Socket.IO ids.
CALL_SPAN_PREFIX = "call:"


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
    windowed = [
        (span, (max(span.joined_at, occurrence.start), min(span.left_at or now, window_end)))
        for span in spans
    ]
    in_window = [interval for _, interval in windowed if interval[1] > interval[0]]
    in_call = [
        interval
        for span, interval in windowed
        if interval[1] > interval[0] and span.conn_id.startswith(CALL_SPAN_PREFIX)
    ]
    still_here = any(span.left_at is None for span in spans)
    first_present = min((start for start, _ in in_window), default=None)
    return {
        "first_joined_at": iso_utc(min(span.joined_at for span in spans)),
        "last_left_at": None
        if still_here
        else iso_utc(max(span.left_at for span in spans if span.left_at)),
        "minutes_present": round(union_seconds(in_window) / 60, 1),
        # Of those, the minutes in the video call (the rest: in the chat only).
        "minutes_in_call": round(union_seconds(in_call) / 60, 1),
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
    # Rooms as kept in memory (rooms/kept.py): the join that comes before `entered` has
    # just read its room there.
    rooms: SharedCache[Room]
    # A room's kind never changes, so each is read once: joins of other rooms then cost
    # no query at all.
    _kinds: dict[int, str] = field(default_factory=dict)

    async def entered(self, connection: Connection, room_id: int) -> None:
        if room_id not in self._kinds and (kept := self.rooms.kept(room_id)) is not None:
            # Known without a query: in a reconnect storm the joins of a room not yet read
            # here all used to read it at once.
            self._kinds[room_id] = kept.kind
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
        series, occurrence = await self.meetings.occurrence_of(actor, series_id, occurrence_text)
        return await self._rows(series, occurrence)

    async def _rows(self, series: MeetingSeries, occurrence: Occurrence) -> list[dict[str, Any]]:
        """Everyone the room was for when the occurrence started and everyone who came or
        checked in (staff left out): their time in the room during the occurrence, lateness
        and check-in."""
        now = self.clock.now()
        async with self.sessions() as session:
            room = await room_store.get_room(session, series.room_id)
            expected = (
                await store.expected_user_ids(session, room, occurrence.start) if room else []
            )
            spans = await store.spans_between(
                session, series.room_id, occurrence.lobby_opens, occurrence.end
            )
            check_ins = await store.check_ins(session, occurrence.series_id, occurrence.start)
            came = {span.user_id for span in spans} | set(check_ins)
            users = {
                user.id: user
                for user in await account_store.get_users(session, sorted({*expected, *came}))
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
                    **(summarise(present, occurrence, now) if present else ABSENT),
                    "checkin": (
                        {"mood": check_in.mood, "note": check_in.note} if check_in else None
                    ),
                }
            )
        return rows

    async def as_csv(self, actor: Actor, series_id: int, occurrence_text: str) -> str:
        require_staff(actor)
        series, occurrence = await self.meetings.occurrence_of(actor, series_id, occurrence_text)
        rows = await self._rows(series, occurrence)
        return csv_text(CSV_COLUMNS, [csv_row(series, occurrence, row) for row in rows])

    # ----- over a date range -----

    async def over_range(self, actor: Actor, query: AttendanceQuery) -> dict[str, Any]:
        """Every occurrence that started in [since, until) of one meeting or of a cohort's
        meetings (cancelled ones left out), and per person: sessions, attended, minutes, late
        arrivals, moods over time with low ones flagged."""
        sessions = await self._range(actor, query)
        return {"sessions": [session_json(*each) for each in sessions], "people": people(sessions)}

    async def range_csv(self, actor: Actor, query: AttendanceQuery) -> str:
        sessions = await self._range(actor, query)
        rows = [csv_row(series, occ, row) for series, occ, rows in sessions for row in rows]
        return csv_text(CSV_COLUMNS, rows)

    async def _range(
        self, actor: Actor, query: AttendanceQuery
    ) -> list[tuple[MeetingSeries, Occurrence, list[dict[str, Any]]]]:
        require_staff(actor)
        if query.cohort_id is None and query.meeting_id is None:
            raise invalid("cohort_id: give a cohort or a meeting (meeting_id).")
        if not query.since < query.until <= query.since + MAX_RANGE:
            raise invalid(f"until: after since, and at most {MAX_RANGE.days} days after it.")
        now = self.clock.now()
        async with self.sessions() as session:
            chosen = [
                series
                for series, room in await self.meetings.visible(session, actor)
                if query.meeting_id in (None, series.id)
                and query.cohort_id in (None, room.cohort_id)
            ]
            exceptions = await store.exceptions(session, [s.id for s in chosen if s.id])
        found = []
        for series in chosen:
            for occurrence in expand(series, query.since, query.until, exceptions[series.id or 0]):
                started = query.since <= occurrence.start < query.until and occurrence.start <= now
                if started and not occurrence.cancelled:
                    found.append((series, occurrence))
        found.sort(key=lambda pair: (pair[1].start, pair[1].series_id))
        return [(series, occ, await self._rows(series, occ)) for series, occ in found]


ABSENT: dict[str, Any] = {
    "first_joined_at": None,
    "last_left_at": None,
    "minutes_present": 0.0,
    "minutes_in_call": 0.0,
    "late_minutes": None,
}


def local_start(series: MeetingSeries, occurrence: Occurrence) -> datetime:
    return occurrence.start.astimezone(ZoneInfo(series.timezone))


def session_json(
    series: MeetingSeries, occurrence: Occurrence, rows: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "meeting_id": series.id,
        "title": series.title,
        "starts_at": iso_utc(occurrence.start),
        "local_start": local_start(series, occurrence).strftime("%Y-%m-%d %H:%M"),
        "timezone": series.timezone,
        "attendees": rows,
    }


def people(
    sessions: list[tuple[MeetingSeries, Occurrence, list[dict[str, Any]]]],
) -> list[dict[str, Any]]:
    """Per person over the sessions they were expected at or came to."""
    found: dict[int, dict[str, Any]] = {}
    for _, occurrence, rows in sessions:
        for row in rows:
            person = found.setdefault(
                row["user"]["id"],
                {"user": row["user"], "sessions": 0, "attended": 0, "minutes": 0.0,
                 "late": 0, "moods": [], "low_moods": 0},
            )  # fmt: skip
            person["sessions"] += 1
            if row["minutes_present"] > 0:
                person["attended"] += 1
                person["minutes"] = round(person["minutes"] + row["minutes_present"], 1)
            if (row["late_minutes"] or 0) > LATE_AFTER_MINUTES:
                person["late"] += 1
            if row["checkin"] is not None:
                mood = row["checkin"]["mood"]
                low = mood <= LOW_MOOD
                person["moods"].append(
                    {"starts_at": iso_utc(occurrence.start), "mood": mood, "low": low}
                )
                person["low_moods"] += int(low)
    return sorted(found.values(), key=lambda p: str(p["user"]["display_name"]).lower())


def csv_row(series: MeetingSeries, occurrence: Occurrence, row: dict[str, Any]) -> list[Any]:
    check_in = row["checkin"] or {}
    mood = check_in.get("mood")
    local = local_start(series, occurrence)
    return [
        series.id,
        series.title,
        local.strftime("%Y-%m-%d"),
        local.strftime("%H:%M"),
        series.timezone,
        iso_utc(occurrence.start),
        row["user"]["id"],
        row["user"]["display_name"],
        row["first_joined_at"],
        row["last_left_at"],
        row["minutes_present"],
        row["minutes_in_call"],
        row["late_minutes"],
        mood,
        "yes" if mood is not None and mood <= LOW_MOOD else "",
        check_in.get("note"),
    ]
