"""The meeting clock: at lobby open, start and end, tell the audience once.

Every process runs the loop; each transition is claimed in the database first, so with
several processes sharing one database each notice still goes out once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from server.kernel.clock import Clock, LoopingCall, iso_utc
from server.kernel.db import SessionFactory
from server.meetings import store
from server.meetings.models import MeetingSeries
from server.meetings.occurrences import Occurrence, expand
from server.meetings.service import meeting_recipients
from server.realtime.notices import Notifier
from server.rooms import store as room_store
from server.rooms.access import RoomAccess

TransitionListener = Callable[[MeetingSeries, Occurrence, str], Awaitable[None]]

# A transition missed while no process was running is claimed but not announced once it is
# older than this: "the meeting started" ten minutes late still helps; an hour late, not.
ANNOUNCE_LATE_BY_AT_MOST = timedelta(minutes=10)

NOTICES = {
    "lobby": ("meeting_lobby_open", "The lobby of {title} is open; the meeting starts soon."),
    "live": ("meeting_started", "{title} has started."),
    "ended": ("meeting_ended", "{title} has ended. Thank you for coming."),
}


def due_transitions(
    occurrence: Occurrence, lobby_minutes: int, now: datetime
) -> list[tuple[str, datetime]]:
    moments = [("live", occurrence.start), ("ended", occurrence.end)]
    if lobby_minutes > 0:
        moments.insert(0, ("lobby", occurrence.lobby_opens))
    return [(kind, at) for kind, at in moments if at <= now]


@dataclass
class MeetingClock:
    sessions: SessionFactory
    clock: Clock
    notifier: Notifier
    access: RoomAccess
    tick_s: float
    # Told of each transition claimed here, after its notices (video rooms end with their
    # occurrence): (series, occurrence, "lobby" | "live" | "ended").
    on_transition: list[TransitionListener] = field(default_factory=list)
    _ticking: LoopingCall | None = field(default=None, init=False)

    async def tick(self) -> int:
        """Announce every transition that has come due; answers how many were announced."""
        now = self.clock.now()
        announced = 0
        async with self.sessions() as session:
            for series, _ in await store.list_series(session):
                exceptions = await store.exceptions(session, [series.id or 0])
                since = now - ANNOUNCE_LATE_BY_AT_MOST
                for occurrence in expand(series, since, now, exceptions[series.id or 0]):
                    if occurrence.cancelled:
                        continue
                    claimed = await store.claimed_transitions(
                        session, series.id or 0, occurrence.start
                    )
                    for kind, at in due_transitions(occurrence, series.lobby_minutes, now):
                        if (
                            kind not in claimed
                            and await store.claim_transition(
                                session, series.id or 0, occurrence.start, kind, now
                            )
                            and now - at <= ANNOUNCE_LATE_BY_AT_MOST
                        ):
                            await self._announce(session, series, occurrence, kind)
                            for listener in self.on_transition:
                                await listener(series, occurrence, kind)
                            announced += 1
        return announced

    async def _announce(
        self, session: AsyncSession, series: MeetingSeries, occurrence: Occurrence, kind: str
    ) -> None:
        room = await room_store.get_room(session, series.room_id)
        if room is None:
            return
        notice_kind, text = NOTICES[kind]
        for user_id in await meeting_recipients(session, self.access, room):
            await self.notifier.tell(
                user_id,
                notice_kind,
                text.format(title=series.title),
                room_id=series.room_id,
                meeting_id=series.id,
                starts_at=iso_utc(occurrence.start),
                ends_at=iso_utc(occurrence.end),
                video_url=series.video_url,
            )

    async def start(self) -> None:
        # At once too: what came due while no process ran is announced without a tick's delay.
        self._ticking = self.clock.looping_call(self.tick, self.tick_s, run_now=True)

    async def close(self) -> None:
        if self._ticking is not None:
            await self._ticking.stop()
