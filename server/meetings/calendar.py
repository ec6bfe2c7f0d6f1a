"""Calendar feeds: a revocable token per person and an ICS file of their meeting series."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Alarm, Calendar, Event, vRecur

from server.accounts import store as account_store
from server.kernel.actors import Actor
from server.kernel.clock import Clock
from server.kernel.db import SessionFactory
from server.kernel.errors import unauthorized
from server.kernel.links import link_problem
from server.meetings import store
from server.meetings.models import CalendarToken, MeetingSeries
from server.meetings.occurrences import Exceptions, first_local_start, local_start, utc_until
from server.meetings.service import MeetingService

log = logging.getLogger(__name__)

# Calendar apps remind people this long before each session (a VALARM on every event).
REMINDER_BEFORE = timedelta(minutes=15)


@dataclass
class CalendarFeeds:
    sessions: SessionFactory
    clock: Clock
    meetings: MeetingService

    async def token_for(self, actor: Actor) -> str:
        """The person's feed token, made on first request and kept until revoked."""
        async with self.sessions() as session:
            existing = await store.calendar_token_of(session, actor.id)
            if existing is not None:
                return existing.token
            token = CalendarToken(
                user_id=actor.id, token=secrets.token_urlsafe(32), created_at=self.clock.now()
            )
            session.add(token)
            await session.commit()
            return token.token

    async def revoke(self, actor: Actor) -> None:
        async with self.sessions() as session:
            await store.revoke_calendar_token(session, actor.id)

    async def feed(self, token: str, site: str) -> bytes:
        """The ICS file of the token holder's meetings; `site` is the service's base URL."""
        async with self.sessions() as session:
            user_id = await store.calendar_token_owner(session, token) if token else None
            actor = await account_store.load_actor(session, user_id) if user_id else None
            if actor is None:
                raise unauthorized("This calendar link is not valid (it may have been revoked).")
            pairs = await self.meetings.visible(session, actor)
            exceptions = await store.exceptions(session, [s.id for s, _ in pairs if s.id])
        calendar = Calendar()
        calendar.add("prodid", "-//peerrooms//meetings//EN")
        calendar.add("version", "2.0")
        calendar.add("x-wr-calname", "peerrooms meetings")
        for series, _ in pairs:
            try:
                events = series_events(series, exceptions[series.id or 0], site, self.clock.now())
            except (ValueError, TypeError, KeyError):
                # One series that cannot be written (a rule or zone stored before it was
                # checked) leaves the feed without it, not every member without a calendar.
                log.exception("calendar feed: series %s left out", series.id)
                continue
            for event in events:
                calendar.add_component(event)
        calendar.add_missing_timezones()
        return bytes(calendar.to_ical())


def series_events(
    series: MeetingSeries, exceptions: Exceptions, site: str, stamp: datetime
) -> list[Event]:
    """The recurring event (wall-clock start with its TZID, the rule, EXDATEs for cancelled
    occurrences), then one event per moved occurrence, linked by RECURRENCE-ID. Each event
    reminds (VALARM) REMINDER_BEFORE it starts, except a moved occurrence since cancelled."""
    main = series_event(series, site, stamp, first_local_start(series))
    rule = utc_until(series.rrule, ZoneInfo(series.timezone))
    main.add("rrule", vRecur.from_ical(rule.removeprefix("RRULE:")))
    moved_to = dict(exceptions.moved)
    for moment in sorted(exceptions.cancelled):
        if moment not in moved_to.values():
            main.add("exdate", local_start(series, moment))
    events = [main]
    for rule_start, to in sorted(moved_to.items()):
        cancelled = to in exceptions.cancelled
        moved = series_event(series, site, stamp, local_start(series, to), remind=not cancelled)
        moved.add("recurrence-id", local_start(series, rule_start))
        if cancelled:
            moved.add("status", "CANCELLED")
        events.append(moved)
    return events


def series_event(
    series: MeetingSeries, site: str, stamp: datetime, start: datetime, *, remind: bool = True
) -> Event:
    """An event of the series starting at `start` (naive local time or zoned), with its
    reminder unless `remind` is false."""
    # The meeting's page: its call beside the chat of its room.
    room_link = f"{site}/#/meetings/{series.id}"
    event = Event()
    event.add("uid", f"meeting-{series.id}@peerrooms")
    event.add("dtstamp", stamp)
    event.add("summary", series.title)
    zone = ZoneInfo(series.timezone)
    event.add("dtstart", start if start.tzinfo else start.replace(tzinfo=zone))
    event.add("duration", timedelta(minutes=series.duration_minutes))
    details = [f"Room: {room_link}"]
    # A link stored before links were parsed is left out unless it passes now.
    video = series.video_url if series.video_url and not link_problem(series.video_url) else None
    if video:
        details.insert(0, f"Video: {video}")
        event.add("location", video)
    event.add("description", "\n".join(details))
    event.add("url", video or room_link)
    if remind:
        event.add_component(reminder(series))
    return event


def reminder(series: MeetingSeries) -> Alarm:
    """A display alarm REMINDER_BEFORE the start, naming the session (RFC 5545, 3.6.6)."""
    alarm = Alarm()
    alarm.add("action", "DISPLAY")
    minutes = int(REMINDER_BEFORE.total_seconds() // 60)
    alarm.add("description", f"{series.title} starts in {minutes} minutes")
    alarm.add("trigger", -REMINDER_BEFORE)
    return alarm
