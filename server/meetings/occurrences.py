"""Occurrences of a meeting series: RFC 5545 recurrence in local wall-clock time.

The rule is expanded on naive local times and only then placed in the series' zone, so an
18:00 group stays at 18:00 local on both sides of a daylight-saving change (its UTC time
moves instead).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from dateutil.rrule import rrule, rrulestr

from server.meetings.models import MeetingSeries

Status = Literal["scheduled", "lobby", "live", "ended", "cancelled"]

# RRULE parts that would make expansion unbounded in cost or move the start itself.
_REFUSED_PARTS = ("DTSTART", "BYSECOND", "FREQ=SECONDLY", "FREQ=MINUTELY")

# One part of a rule (`NAME=value`): first, after `RRULE:`, or after a `;`.
_PART = r"(?i)(?<![^;:]){name}=([^;]*)"
_UNTIL = re.compile(_PART.format(name="UNTIL"))
_COUNT = re.compile(_PART.format(name="COUNT"))
# An UNTIL as given: a date, a wall-clock time of the series' zone, or a UTC time (Z).
_UNTIL_VALUE = re.compile(r"(?i)^(\d{8})(?:T(\d{6})(Z?))?$")
UNTIL_FORMAT = "%Y%m%dT%H%M%S"
_END_OF_DAY = timedelta(hours=23, minutes=59, seconds=59)
BAD_UNTIL = (
    "UNTIL: give the last day as a date such as 20270331, a time on the series' clock such as"
    " 20270331T235959, or a UTC time such as 20270401T045959Z"
)


@dataclass(frozen=True)
class Exceptions:
    """What staff changed about single occurrences of a series (RFC 5545's EXDATE and
    RECURRENCE-ID): starts cancelled, and rule starts moved to another time (UTC)."""

    cancelled: frozenset[datetime] = frozenset()
    moved: Mapping[datetime, datetime] = field(default_factory=dict)


NO_EXCEPTIONS = Exceptions()


@dataclass(frozen=True)
class Occurrence:
    series_id: int
    start: datetime  # UTC
    end: datetime
    lobby_opens: datetime
    cancelled: bool = False
    # The start the rule gave, when staff moved this occurrence to `start`.
    moved_from: datetime | None = None

    def status(self, now: datetime) -> Status:
        if self.cancelled:
            return "cancelled"
        if now >= self.end:
            return "ended"
        if now >= self.start:
            return "live"
        if now >= self.lobby_opens:
            return "lobby"
        return "scheduled"

    def open_for_posts(self, now: datetime) -> bool:
        return self.lobby_opens <= now < self.end


def parse_rule(text: str, first_local_start: datetime) -> rrule:
    """The recurrence rule; ValueError with a reason when it is not a usable RRULE."""
    upper = text.upper()
    if upper.startswith("RRULE:"):
        text = text[len("RRULE:") :]
        upper = upper[len("RRULE:") :]
    if "FREQ=" not in upper:
        raise ValueError("an RRULE needs FREQ, for example FREQ=WEEKLY;BYDAY=MO,WE,TH")
    if any(part in upper for part in _REFUSED_PARTS):
        raise ValueError("use a daily, weekly, monthly or yearly rule without DTSTART")
    rule = rrulestr(text, dtstart=first_local_start)
    if not isinstance(rule, rrule):
        raise ValueError("give one RRULE, not a set of rules")
    return rule


def wall_clock_until(text: str, zone: ZoneInfo) -> str:
    """The rule with its UNTIL on the series' wall clock, without offset, as series keep it:
    the rule is expanded on that clock, and an end date means the clinic's day. A date alone
    runs through the last session of that local day; a UTC time (Z) becomes the local time
    at that moment. ValueError with a reason for another form, or beside COUNT."""
    found = list(_UNTIL.finditer(text))
    if not found:
        return text
    if len(found) > 1:
        raise ValueError("give UNTIL once")
    if _COUNT.search(text):
        raise ValueError("give COUNT or UNTIL, not both")
    until = found[0]
    given = _UNTIL_VALUE.match(until.group(1).strip())
    if given is None:
        raise ValueError(BAD_UNTIL)
    day, clock, utc = given.groups()
    try:
        # Naive on purpose: a time on the series' wall clock, as `first_local_start`.
        if clock is None:
            local = datetime.fromisoformat(day) + _END_OF_DAY
        else:
            local = datetime.fromisoformat(f"{day}T{clock}")
    except ValueError:
        raise ValueError(BAD_UNTIL) from None
    if utc:
        local = local.replace(tzinfo=UTC).astimezone(zone).replace(tzinfo=None)
    return text[: until.start()] + "UNTIL=" + local.strftime(UNTIL_FORMAT) + text[until.end() :]


def one_off(text: str) -> bool:
    """Whether the rule holds a single session (COUNT=1), as the console's "One session only"
    schedules one."""
    count = _COUNT.search(text)
    return count is not None and count.group(1).strip() == "1"


def utc_until(text: str, zone: ZoneInfo) -> str:
    """A kept rule as RFC 5545 wants it beside a DTSTART with a TZID (calendar feeds): its
    wall-clock UNTIL as the UTC time it falls at in the series' zone."""
    until = _UNTIL.search(text)
    if until is None:
        return text
    try:
        local = datetime.strptime(until.group(1), UNTIL_FORMAT).replace(tzinfo=zone)
    except ValueError:
        return text  # kept before rules were normalised: written as it was
    moment = local.astimezone(UTC).strftime(UNTIL_FORMAT) + "Z"
    return text[: until.start(1)] + moment + text[until.end(1) :]


def first_local_start(series: MeetingSeries) -> datetime:
    # Naive on purpose: recurrence runs on the wall clock; `expand` attaches the zone.
    return datetime.fromisoformat(series.starts_at)


def expand(
    series: MeetingSeries,
    since: datetime,
    until: datetime,
    exceptions: Exceptions = NO_EXCEPTIONS,
) -> list[Occurrence]:
    """Occurrences that overlap [since, until) (UTC), lobby included, in order: the rule's,
    with moved ones at their new time and cancelled ones marked."""
    zone = ZoneInfo(series.timezone)
    rule = parse_rule(series.rrule, first_local_start(series))
    duration = timedelta(minutes=series.duration_minutes)
    lobby = timedelta(minutes=series.lobby_minutes)

    def placed(start: datetime, moved_from: datetime | None) -> Occurrence:
        cancelled = start in exceptions.cancelled
        return Occurrence(
            series.id or 0, start, start + duration, start - lobby, cancelled, moved_from
        )

    # Widen the local search by a day each side: the zone's offset is unknown until placed.
    local_from = (since - duration).astimezone(zone).replace(tzinfo=None) - timedelta(days=1)
    local_to = (until + lobby).astimezone(zone).replace(tzinfo=None) + timedelta(days=1)
    starts = [
        local.replace(tzinfo=zone).astimezone(UTC)
        for local in rule.between(local_from, local_to, inc=True)
    ]
    found = [placed(start, None) for start in starts if start not in exceptions.moved]
    # A move outlives a change of rule only while the rule still has its original start.
    found += [
        placed(new, old)
        for old, new in exceptions.moved.items()
        if _rule_has(rule, old.astimezone(zone).replace(tzinfo=None))
    ]
    return sorted(
        (o for o in found if o.lobby_opens < until and o.end > since), key=lambda o: o.start
    )


def _rule_has(rule: rrule, local: datetime) -> bool:
    return bool(rule.between(local, local, inc=True))


def occurrence_starting(
    series: MeetingSeries, start: datetime, exceptions: Exceptions = NO_EXCEPTIONS
) -> Occurrence | None:
    """The occurrence that starts at `start` (UTC) as the series now stands, if any."""
    day = timedelta(days=1)
    window = expand(series, start - day, start + day, exceptions)
    return next((o for o in window if o.start == start), None)


def local_start(series: MeetingSeries, start: datetime) -> datetime:
    """An occurrence's start on the series' wall clock, zone attached."""
    return start.astimezone(ZoneInfo(series.timezone))
