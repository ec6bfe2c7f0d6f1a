"""Meeting decisions: creating series, listing what someone may attend, cancelling single
occurrences, check-ins, and whether a meeting room is open for posts right now."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from server.accounts import store as account_store
from server.accounts.service import require_staff
from server.kernel.actors import Actor
from server.kernel.audit import AuditSink
from server.kernel.clock import Clock, iso_utc
from server.kernel.db import SessionFactory
from server.kernel.errors import AppError, invalid, not_found
from server.kernel.validation import parse_input
from server.meetings import store
from server.meetings.models import (
    CancelIn,
    CheckIn,
    CheckInIn,
    MeetingIn,
    MeetingPatch,
    MeetingSeries,
    MoveIn,
)
from server.meetings.occurrences import (
    NO_EXCEPTIONS,
    Exceptions,
    Occurrence,
    expand,
    occurrence_starting,
    one_off,
    parse_rule,
    wall_clock_until,
)
from server.realtime.notices import Notifier
from server.rooms import store as room_store
from server.rooms.access import RoomAccess
from server.rooms.gates import Draft
from server.rooms.models import Room

MAX_UPCOMING_DAYS = 366
# The window that holds "now" when asking which occurrence is open.
_MOMENT = timedelta(seconds=1)
# How far back to look for a room's latest session, widening only when nothing was found:
# most series meet daily or weekly; a monthly or yearly one needs the longer reach.
SESSION_LOOKBACKS = (timedelta(days=8), timedelta(days=40), timedelta(days=400))


def meeting_json(series: MeetingSeries, exceptions: Exceptions) -> dict[str, Any]:
    return {
        "id": series.id,
        "title": series.title,
        "room_id": series.room_id,
        "rrule": series.rrule,
        "starts_at": series.starts_at,
        "timezone": series.timezone,
        "duration_minutes": series.duration_minutes,
        "lobby_minutes": series.lobby_minutes,
        "video_url": series.video_url,
        "cancelled": sorted(iso_utc(moment) for moment in exceptions.cancelled),
        "moved": [
            {"from": iso_utc(rule_start), "to": iso_utc(to)}
            for rule_start, to in sorted(exceptions.moved.items())
        ],
    }


def occurrence_json(series: MeetingSeries, occurrence: Occurrence, now: datetime) -> dict[str, Any]:
    return {
        "meeting_id": series.id,
        "title": series.title,
        "room_id": series.room_id,
        "starts_at": iso_utc(occurrence.start),
        "ends_at": iso_utc(occurrence.end),
        "lobby_opens_at": iso_utc(occurrence.lobby_opens),
        "status": occurrence.status(now),
        "video_url": series.video_url,
        "moved_from": iso_utc(occurrence.moved_from) if occurrence.moved_from else None,
    }


def parse_utc(text: str, field: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise invalid(f"{field}: use a UTC time such as 2026-11-23T00:00:00Z.") from None
    if moment.tzinfo is None:
        raise invalid(f"{field}: give the time in UTC with a Z suffix.")
    return moment.astimezone(UTC)


def local_label(series: MeetingSeries, start: datetime) -> str:
    """An occurrence's start as members read it, on the series' wall clock."""
    return start.astimezone(ZoneInfo(series.timezone)).strftime("%a %d %b %H:%M")


def local_to_utc(series: MeetingSeries, local_text: str) -> datetime:
    """A wall-clock start in the series' zone (checked LocalStart text) as UTC."""
    local = datetime.fromisoformat(local_text).replace(tzinfo=ZoneInfo(series.timezone))
    return local.astimezone(UTC)


async def meeting_recipients(session: AsyncSession, access: RoomAccess, room: Room) -> list[int]:
    """Who is told of a meeting's news: its room's audience, less those kept out of the room
    (a ban hides its meetings), and every member of staff."""
    recipients = []
    for user_id in await room_store.audience_user_ids(session, room):
        actor = await account_store.load_actor(session, user_id)
        if actor is not None and await access.allows(session, actor, room):
            recipients.append(user_id)
    recipients += await store.staff_user_ids(session)
    return sorted(set(recipients))


# The notices of a series changed by staff: kind and text.
CHANGE_NOTICES = {
    "changed": ("meeting_changed", "{title} has a new schedule: see Meetings."),
    "cancelled": ("meeting_cancelled", "{title} on {local} is cancelled."),
    "moved": ("meeting_moved", "{title} on {local} moves to {to_local}."),
}


def checked(data: MeetingIn) -> MeetingIn:
    """A series as it is kept: its rule usable, and its UNTIL, however given, on the series'
    own wall clock (occurrences.py `wall_clock_until`); every new or changed series passes
    here."""
    try:
        rule = wall_clock_until(data.rrule, ZoneInfo(data.timezone))
        parse_rule(rule, datetime.fromisoformat(data.starts_at))
    except ValueError as error:
        raise invalid(f"rrule: {error}.") from None
    return data.model_copy(update={"rrule": rule})


def schedule_note(series: MeetingSeries) -> str:
    """What the audit entry of a new series says: its title, rule and first start."""
    first = f"{series.starts_at} {series.timezone}"
    if one_off(series.rrule):
        return f"{series.title}: one session, {first}"
    return f"{series.title}: {series.rrule}, from {first}"


ChangeListener = Callable[[MeetingSeries, str, str, list[int], dict[str, Any]], Awaitable[None]]


@dataclass
class MeetingService:
    sessions: SessionFactory
    clock: Clock
    access: RoomAccess
    notifier: Notifier | None = None
    audit: AuditSink | None = None
    # Told of each change notice after it went out: (series, kind, text, recipients, its
    # fields). Notifications push cancelled and moved sessions to people away from the app.
    change_listeners: list[ChangeListener] = field(default_factory=list)

    async def create(self, actor: Actor, data: MeetingIn) -> dict[str, Any]:
        """A series, or a one-off session (COUNT=1); audited as `meeting_scheduled`."""
        require_staff(actor)
        data = checked(data)
        async with self.sessions() as session:
            room = await self.access.enter(session, actor, data.room_id)
            if room.kind != "meeting":
                raise invalid("room_id: choose a room of kind 'meeting'.")
            series = MeetingSeries(
                **data.model_dump(), created_by=actor.id, created_at=self.clock.now()
            )
            session.add(series)
            await session.commit()
        await self._audit(actor, series, "meeting_scheduled", schedule_note(series))
        return meeting_json(series, NO_EXCEPTIONS)

    async def ensure(self, actor: Actor, data: MeetingIn) -> dict[str, Any]:
        """The series of this title in this room, created when missing (the demo)."""
        async with self.sessions() as session:
            for series in await store.series_of_room(session, data.room_id):
                if series.title == data.title:
                    return meeting_json(series, NO_EXCEPTIONS)
        return await self.create(actor, data)

    async def visible(
        self, session: AsyncSession, actor: Actor
    ) -> list[tuple[MeetingSeries, Room]]:
        """The series in rooms the actor may be in now: a ban from the room hides its
        meetings, their video links and calendar entries too."""
        return [
            (series, room)
            for series, room in await store.list_series(session)
            if await self.access.allows(session, actor, room)
        ]

    async def meetings_of(self, actor: Actor) -> list[dict[str, Any]]:
        async with self.sessions() as session:
            pairs = await self.visible(session, actor)
            exceptions = await store.exceptions(session, [s.id for s, _ in pairs if s.id])
        return [meeting_json(series, exceptions[series.id or 0]) for series, _ in pairs]

    async def upcoming(self, actor: Actor, days: int) -> list[dict[str, Any]]:
        if not 1 <= days <= MAX_UPCOMING_DAYS:
            raise invalid(f"days: use 1 to {MAX_UPCOMING_DAYS}.")
        now = self.clock.now()
        async with self.sessions() as session:
            pairs = await self.visible(session, actor)
            exceptions = await store.exceptions(session, [s.id for s, _ in pairs if s.id])
        listed = []
        until = now + timedelta(days=days)
        for series, _ in pairs:
            for occurrence in expand(series, now, until, exceptions[series.id or 0]):
                if occurrence.end > now and occurrence.start < until:
                    listed.append(occurrence_json(series, occurrence, now))
        return sorted(listed, key=lambda item: (item["starts_at"], item["meeting_id"]))

    async def occurrences(
        self, actor: Actor, series_id: int, *, past_days: int, days: int
    ) -> list[dict[str, Any]]:
        """One series' occurrences from `past_days` ago to `days` ahead, ended ones included:
        what staff pick from to read an attendance report."""
        require_staff(actor)
        for name, value in (("past_days", past_days), ("days", days)):
            if not 0 <= value <= MAX_UPCOMING_DAYS:
                raise invalid(f"{name}: use 0 to {MAX_UPCOMING_DAYS}.")
        now = self.clock.now()
        async with self.sessions() as session:
            series = await self._series(session, actor, series_id)
            exceptions = (await store.exceptions(session, [series_id]))[series_id]
        since, until = now - timedelta(days=past_days), now + timedelta(days=days)
        return [
            occurrence_json(series, occurrence, now)
            for occurrence in expand(series, since, until, exceptions)
        ]

    async def cancel(self, actor: Actor, series_id: int, data: CancelIn) -> dict[str, Any]:
        require_staff(actor)
        moment = parse_utc(data.occurrence, "occurrence")
        async with self.sessions() as session:
            series = await self._series(session, actor, series_id)
            await self._occurrence(session, series, moment)
            newly = await store.add_cancellation(session, series_id, moment, data.reason)
            await session.commit()
            exceptions = (await store.exceptions(session, [series_id]))[series_id]
            told = await self._recipients(session, series)
        if newly:
            await self._tell_cancelled(actor, series, moment, data.reason, told)
        return meeting_json(series, exceptions)

    async def move(self, actor: Actor, series_id: int, data: MoveIn) -> dict[str, Any]:
        """Hold one occurrence that has not begun at another time (its lobby, notices,
        check-ins and attendance go with it); members and staff are told (`meeting_moved`)."""
        require_staff(actor)
        moment = parse_utc(data.occurrence, "occurrence")
        now = self.clock.now()
        async with self.sessions() as session:
            series = await self._series(session, actor, series_id)
            occurrence = await self._occurrence(session, series, moment)
            to = local_to_utc(series, data.starts_at)
            await self._check_move(session, series, occurrence, to, now)
            rule_start = occurrence.moved_from or occurrence.start
            await store.move_occurrence(session, series_id, rule_start, to, data.reason)
            await session.commit()
            exceptions = (await store.exceptions(session, [series_id]))[series_id]
            told = await self._recipients(session, series)
        if to != occurrence.start:
            await self._tell_moved(actor, series, (occurrence.start, to), data.reason, told)
        return meeting_json(series, exceptions)

    async def _check_move(
        self,
        session: AsyncSession,
        series: MeetingSeries,
        occurrence: Occurrence,
        to: datetime,
        now: datetime,
    ) -> None:
        if occurrence.cancelled:
            raise invalid("occurrence: it is cancelled; schedule a one-off session instead.")
        if occurrence.lobby_opens <= now:
            raise invalid("occurrence: its lobby has opened; only a later one can be moved.")
        if to - timedelta(minutes=series.lobby_minutes) <= now:
            raise invalid("starts_at: choose a time after the lobby could open, in the future.")
        exceptions = (await store.exceptions(session, [series.id or 0]))[series.id or 0]
        taken = occurrence_starting(series, to, exceptions)
        if taken is not None and taken.start != occurrence.start:
            raise invalid("starts_at: another occurrence of this meeting starts then.")

    async def change(self, actor: Actor, series_id: int, data: MeetingPatch) -> dict[str, Any]:
        """A series' new title, schedule, length, lobby or link. Occurrences already held keep
        their attendance; the meeting's members and staff are told (`meeting_changed`)."""
        require_staff(actor)
        async with self.sessions() as session:
            series = await self._series(session, actor, series_id)
            current = meeting_json(series, NO_EXCEPTIONS)
            given = data.model_dump(exclude_unset=True)
            merged = checked(parse_input(MeetingIn, {**current, **given}))
            changed = {
                name: value
                for name, value in merged.model_dump().items()
                if name != "room_id" and getattr(series, name) != value
            }
            for name, value in changed.items():
                setattr(series, name, value)
            session.add(series)
            await session.commit()
            exceptions = (await store.exceptions(session, [series_id]))[series_id]
            told = await self._recipients(session, series)
        answer = meeting_json(series, exceptions)
        if changed:
            await self._tell_changed(actor, series, answer, sorted(changed), told)
        return answer

    async def _tell_changed(
        self,
        actor: Actor,
        series: MeetingSeries,
        meeting: dict[str, Any],
        fields: list[str],
        recipients: list[int],
    ) -> None:
        kind, text = CHANGE_NOTICES["changed"]
        extra = {"meeting": meeting, "changed": fields}
        await self._tell(series, kind, text.format(title=series.title), recipients, extra)
        await self._audit(actor, series, kind, f"{series.title}: {', '.join(fields)}")

    async def _tell_cancelled(
        self,
        actor: Actor,
        series: MeetingSeries,
        start: datetime,
        reason: str,
        recipients: list[int],
    ) -> None:
        kind, template = CHANGE_NOTICES["cancelled"]
        text = template.format(title=series.title, local=local_label(series, start))
        if reason:
            text = f"{text} {reason}"
        extra = {"starts_at": iso_utc(start), "reason": reason}
        await self._tell(series, kind, text, recipients, extra)
        note = f"{series.title}, {iso_utc(start)}" + (f": {reason}" if reason else "")
        await self._audit(actor, series, kind, note)

    async def _tell_moved(
        self,
        actor: Actor,
        series: MeetingSeries,
        starts: tuple[datetime, datetime],
        reason: str,
        recipients: list[int],
    ) -> None:
        start, to = starts
        kind, template = CHANGE_NOTICES["moved"]
        text = template.format(
            title=series.title, local=local_label(series, start), to_local=local_label(series, to)
        )
        if reason:
            text = f"{text} {reason}"
        extra = {"moved_from": iso_utc(start), "starts_at": iso_utc(to), "reason": reason}
        await self._tell(series, kind, text, recipients, extra)
        note = f"{series.title}, {iso_utc(start)} -> {iso_utc(to)}" + (
            f": {reason}" if reason else ""
        )
        await self._audit(actor, series, kind, note)

    async def _tell(
        self,
        series: MeetingSeries,
        kind: str,
        text: str,
        recipients: list[int],
        extra: dict[str, Any],
    ) -> None:
        """A notice of the series to each recipient (members and staff)."""
        if self.notifier is not None:
            for user_id in recipients:
                await self.notifier.tell(
                    user_id, kind, text, room_id=series.room_id, meeting_id=series.id, **extra
                )
        for listener in self.change_listeners:
            await listener(series, kind, text, recipients, extra)

    async def _audit(self, actor: Actor, series: MeetingSeries, action: str, note: str) -> None:
        if self.audit is not None:
            await self.audit.record(
                actor_id=actor.id, action=action, room_id=series.room_id, reason=note
            )

    async def check_in(self, actor: Actor, series_id: int, data: CheckInIn) -> dict[str, Any]:
        now = self.clock.now()
        async with self.sessions() as session:
            series = await self._series(session, actor, series_id)
            live = await self._live_occurrence(session, series, now)
            if live is None:
                raise AppError("meeting_closed", "Check-ins open when the meeting starts.")
            saved = await store.save_check_in(
                session,
                CheckIn(
                    series_id=series_id,
                    occurrence=live.start,
                    user_id=actor.id,
                    mood=data.mood,
                    note=data.note,
                    created_at=now,
                ),
            )
        return {
            "meeting_id": series_id,
            "occurrence": iso_utc(saved.occurrence),
            "mood": saved.mood,
            "note": saved.note,
            "created_at": iso_utc(saved.created_at),
        }

    async def attended_by(self, user_id: int) -> dict[str, Any]:
        """For a person's page in the console: the occurrences they checked in to."""
        async with self.sessions() as session:
            return {"meetings_attended": await store.count_check_ins_of(session, user_id)}

    async def room_open_for_posts(self, session: AsyncSession, room_id: int, now: datetime) -> bool:
        """Whether an occurrence of a series in this room is in its lobby or live window."""
        all_series = await store.series_of_room(session, room_id)
        exceptions = await store.exceptions(session, [s.id for s in all_series if s.id])
        return any(
            occurrence.open_for_posts(now) and not occurrence.cancelled
            for series in all_series
            for occurrence in expand(series, now, now + _MOMENT, exceptions[series.id or 0])
        )

    async def session_opened(
        self, session: AsyncSession, room_id: int, now: datetime
    ) -> datetime | None:
        """When the room's current session opened: the lobby of its latest occurrence (of
        any series there, cancelled ones aside) whose lobby has opened by `now`; None when
        none has. A meeting room that shows history since the session (rooms/visibility.py)
        shows what was said from then on."""
        all_series = await store.series_of_room(session, room_id)
        if not all_series:
            return None
        exceptions = await store.exceptions(session, [s.id for s in all_series if s.id])
        for lookback in SESSION_LOOKBACKS:
            opened = [
                occurrence.lobby_opens
                for series in all_series
                for occurrence in expand(
                    series, now - lookback, now + _MOMENT, exceptions[series.id or 0]
                )
                if occurrence.lobby_opens <= now and not occurrence.cancelled
            ]
            if opened:
                return max(opened)
        return None

    async def open_now(self, actor: Actor, series_id: int) -> tuple[MeetingSeries, Occurrence]:
        """A series the actor may attend and its occurrence in its lobby or live now;
        `meeting_closed` outside those windows."""
        now = self.clock.now()
        async with self.sessions() as session:
            series = await self._series(session, actor, series_id)
            exceptions = (await store.exceptions(session, [series_id]))[series_id]
        for occurrence in expand(series, now, now + _MOMENT, exceptions):
            if occurrence.open_for_posts(now) and not occurrence.cancelled:
                return series, occurrence
        raise AppError("meeting_closed", "The session opens with its lobby.")

    async def occurrence_of(
        self, actor: Actor, series_id: int, start_text: str
    ) -> tuple[MeetingSeries, Occurrence]:
        """A series and its occurrence that starts at `start_text` (UTC), moves counted."""
        start = parse_utc(start_text, "occurrence")
        async with self.sessions() as session:
            series = await self._series(session, actor, series_id)
            return series, await self._occurrence(session, series, start)

    async def _occurrence(
        self, session: AsyncSession, series: MeetingSeries, start: datetime
    ) -> Occurrence:
        exceptions = (await store.exceptions(session, [series.id or 0]))[series.id or 0]
        occurrence = occurrence_starting(series, start, exceptions)
        if occurrence is None:
            raise invalid("occurrence: no occurrence of this meeting starts then.")
        return occurrence

    async def _recipients(self, session: AsyncSession, series: MeetingSeries) -> list[int]:
        room = await room_store.get_room(session, series.room_id)
        return await meeting_recipients(session, self.access, room) if room else []

    async def _series(self, session: AsyncSession, actor: Actor, series_id: int) -> MeetingSeries:
        series = await store.get_series(session, series_id)
        if series is None:
            raise not_found("meeting")
        await self.access.enter(session, actor, series.room_id)
        return series

    async def _live_occurrence(
        self, session: AsyncSession, series: MeetingSeries, now: datetime
    ) -> Occurrence | None:
        exceptions = (await store.exceptions(session, [series.id or 0]))[series.id or 0]
        for occurrence in expand(series, now, now + _MOMENT, exceptions):
            if occurrence.start <= now < occurrence.end and not occurrence.cancelled:
                return occurrence
        return None


@dataclass
class MeetingWindowGate:
    """A meeting room takes posts from members only in its lobby and live windows."""

    meetings: MeetingService

    async def check(self, draft: Draft) -> None:
        room = draft.room
        if room.kind != "meeting" or draft.actor.is_staff or room.id is None:
            return
        if not await self.meetings.room_open_for_posts(draft.reads, room.id, draft.now):
            draft.refuse(
                AppError("meeting_closed", "This meeting room opens with the meeting's lobby.")
            )
