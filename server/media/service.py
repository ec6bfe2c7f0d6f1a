"""Video calls of meeting occurrences on Janus: who gets a pass into which room and when, who
is taken out of it, and who was in it.

Each occurrence has its own Janus room, named by a number worked out from the series and the
occurrence's start, so every process names it alike without asking anyone. The call opens
with the first pass (in the lobby or live window) and ends with the occurrence or when a
moderator ends it. A pass is a fresh token, known to Janus (admin API) and listed in that
room's `allowed` list only, with the participant id its holder joins with; passes are kept
in the database, so whichever process hears of a kick, a ban or a removal revokes them on
the one media server at once.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import aiohttp

from server.accounts.service import require_staff
from server.kernel.actors import Actor
from server.kernel.audit import AuditSink
from server.kernel.clock import Clock, LoopingCall, iso_utc
from server.kernel.db import SessionFactory
from server.kernel.errors import AppError, forbidden, not_found
from server.media import store
from server.media.janus import NO_SUCH_ROOM, JanusClient, JanusConfig, JanusError
from server.media.models import (
    CallEndIn,
    CallMuteIn,
    CallRemoveIn,
    HandIn,
    VideoCall,
    VideoPass,
)
from server.meetings import store as meeting_store
from server.meetings.attendance import CALL_SPAN_PREFIX
from server.meetings.models import MeetingSeries
from server.meetings.occurrences import Occurrence
from server.meetings.service import MeetingService
from server.moderation.serialize import public_users
from server.realtime.hub import Hub
from server.realtime.notices import Notifier

log = logging.getLogger(__name__)

# Room numbers stay below 2**53, which browsers' JavaScript numbers hold exactly: a series
# id, then the occurrence's start in minutes since 1970 (under 10**8 until the year 2160).
MINUTES_PER_SERIES = 10**8
# A call whose occurrence ended this long ago is ended by the sweep, should the meeting
# clock's "ended" have gone to a process that died before it ended the call.
ENDED_CALL_GRACE = timedelta(minutes=2)
MEDIA_ERRORS = (JanusError, aiohttp.ClientError, TimeoutError)
# The notice a person gets when a moderator mutes (True) or unmutes their microphone.
MUTE_NOTICES = {
    True: ("video_muted", "A moderator muted your microphone in the call."),
    False: ("video_unmuted", "A moderator unmuted your microphone; you can speak again."),
}
# The ICE servers of one person's pass at a moment (TURN credentials are minted per person).
IceServers = Callable[[int, datetime], list[dict[str, Any]]]


def room_number(series_id: int, start: datetime) -> int:
    return series_id * MINUTES_PER_SERIES + int(start.timestamp()) // 60


def unavailable(reason: str) -> AppError:
    return AppError("unavailable", f"Video is not available: {reason}")


def call_ended() -> AppError:
    return AppError("meeting_closed", "The call of this session has ended.")


@dataclass
class VideoSessions:
    meetings: MeetingService
    sessions: SessionFactory
    clock: Clock
    hub: Hub
    notifier: Notifier
    audit: AuditSink
    config: JanusConfig
    ws_url: str
    ice_servers: IceServers
    max_participants: int
    poll_s: float
    _http: aiohttp.ClientSession | None = field(default=None, init=False)
    _janus: JanusClient | None = field(default=None, init=False)
    _sweeping: LoopingCall | None = field(default=None, init=False)

    async def start(self) -> None:
        self._http = aiohttp.ClientSession()
        self._janus = JanusClient(self.config, self._http)
        # Janus ends a session silent for 60 s: the sweep keeps the server's alive too.
        self._sweeping = self.clock.looping_call(self.sweep, min(self.poll_s, 25.0))

    async def close(self) -> None:
        if self._sweeping is not None:
            await self._sweeping.stop()
        if self._http is not None:
            await self._http.close()

    async def ping(self) -> None:
        """Raises when the media server does not answer (for /readyz)."""
        await self._client.info()

    # ----- joining -----

    async def join(self, actor: Actor, series_id: int) -> dict[str, Any]:
        """A pass into the call of the series' occurrence open now, for someone who may enter
        its meeting room: refused outside the lobby and live windows, after the call ended,
        and to someone a moderator removed from it."""
        series, occurrence = await self.meetings.open_now(actor, series_id)
        room = room_number(series_id, occurrence.start)
        token = secrets.token_urlsafe(24)
        now = self.clock.now()
        async with self.sessions() as session:
            call = await store.open_call(
                session, room=room, series_id=series_id, occurrence=occurrence.start, now=now
            )
            if call.ended_at is not None:
                raise call_ended()
            if await store.was_removed(session, room=room, user_id=actor.id):
                raise forbidden("A moderator removed you from this call.")
            video_pass = await store.add_pass(
                session, room=room, user_id=actor.id, token=token, now=now
            )
        try:
            await self._client.create_room(
                room, series.title, allowed=[], publishers=self.max_participants
            )
            await self._client.add_token(token)
            await self._client.allow(room, [token])
        except MEDIA_ERRORS as error:
            await self._revoke_in_store([video_pass], "unavailable")
            raise unavailable("the media server did not answer; try again.") from error
        return self._pass_json(series, occurrence, actor, video_pass)

    async def raise_hand(self, actor: Actor, series_id: int, data: HandIn) -> dict[str, Any]:
        """Raise or lower a hand in the call; everyone in the meeting room sees it."""
        series, occurrence, call = await self._open_call(actor, series_id)
        now = self.clock.now()
        async with self.sessions() as session:
            passes = await store.valid_passes(session, call.room, actor.id)
            if not passes:
                raise forbidden("Join the call first.")
            await store.raise_hand(
                session, [p.id for p in passes if p.id], raised_at=now if data.raised else None
            )
            await session.commit()
        news = {
            "meeting_id": series_id,
            "feed_id": passes[-1].id,
            "user_id": actor.id,
            "display_name": actor.display_name,
            "raised": data.raised,
            "at": iso_utc(now),
        }
        await self.hub.to_room(series.room_id, "video_hand", news)
        return news

    async def call_state(self, actor: Actor, series_id: int) -> dict[str, Any]:
        """Who holds a pass into the open call, who of them is in it now, raised hands."""
        series, occurrence, call = await self._open_call(actor, series_id)
        async with self.sessions() as session:
            passes = await store.valid_passes(session, call.room)
            users = await public_users(session, [p.user_id for p in passes])
        try:
            in_call = await self._feeds_in(call.room)
        except MEDIA_ERRORS as error:
            raise unavailable("the media server did not answer; try again.") from error
        return {
            "meeting_id": series_id,
            "starts_at": iso_utc(occurrence.start),
            "room": call.room,
            "participants": [
                {
                    "feed_id": p.id,
                    "user_id": p.user_id,
                    "display_name": users[p.user_id]["display_name"],
                    "in_call": p.id in in_call,
                    "hand_raised_at": iso_utc(p.hand_raised_at) if p.hand_raised_at else None,
                }
                for p in passes
            ],
            "recorded": False,
        }

    # ----- moderators -----

    async def mute(self, actor: Actor, series_id: int, data: CallMuteIn) -> dict[str, Any]:
        """A moderator mutes (or unmutes) one participant's microphone at the media server."""
        require_staff(actor)
        series, _, call = await self._open_call(actor, series_id)
        video_pass = await self._pass_in_call(call, data.feed_id)
        try:
            await self._client.moderate(call.room, data.feed_id, data.mid, mute=data.muted)
        except JanusError as error:
            raise AppError("invalid", f"The media server refused: {error.reason}") from error
        except MEDIA_ERRORS as error:
            raise unavailable("the media server did not answer; try again.") from error
        kind, text = MUTE_NOTICES[data.muted]
        await self.notifier.tell(
            video_pass.user_id, kind, text, room_id=series.room_id, meeting_id=series_id
        )
        await self._audit(actor, kind, series, video_pass.user_id, data.reason)
        return {"feed_id": data.feed_id, "muted": data.muted}

    async def remove(self, actor: Actor, series_id: int, data: CallRemoveIn) -> dict[str, Any]:
        """A moderator takes someone out of this call; they get no new pass into it."""
        require_staff(actor)
        series, _, call = await self._open_call(actor, series_id)
        video_pass = await self._pass_in_call(call, data.feed_id)
        async with self.sessions() as session:
            passes = await store.valid_passes(session, call.room, video_pass.user_id)
        await self._revoke(call.room, passes, "removed")
        await self.notifier.tell(
            video_pass.user_id,
            "video_removed",
            "A moderator removed you from this call.",
            room_id=series.room_id,
            meeting_id=series_id,
        )
        await self._audit(actor, "video_removed", series, video_pass.user_id, data.reason)
        return {"feed_id": data.feed_id, "removed": True}

    async def end(self, actor: Actor, series_id: int, data: CallEndIn) -> dict[str, Any]:
        """A moderator ends the call for everyone; the meeting's chat goes on."""
        require_staff(actor)
        series, _, call = await self._open_call(actor, series_id)
        await self._end_call(series, call.room, by=actor.id, reason=data.reason)
        await self._audit(actor, "video_ended", series, None, data.reason)
        return {"meeting_id": series_id, "ended": True}

    async def person_removed(self, room_id: int, user_id: int, why: str) -> None:
        """A kick or ban from a meeting's chat room takes the person out of its call too."""
        async with self.sessions() as session:
            calls = await store.open_calls_in_room(session, room_id)
            held = [(c.room, await store.valid_passes(session, c.room, user_id)) for c in calls]
        for room, passes in held:
            await self._revoke(room, passes, why)

    async def access_changed(self, actor: Actor) -> None:
        """A person graduated or changed cohort: out of the calls of meetings they may no
        longer attend."""
        for call in await self._calls_with_passes_of(actor.id):
            try:
                await self.meetings.open_now(actor, call.series_id)
            except AppError:
                async with self.sessions() as session:
                    passes = await store.valid_passes(session, call.room, actor.id)
                await self._revoke(call.room, passes, "access")

    async def account_deactivated(self, user_id: int) -> None:
        """A deactivated account is out of every call."""
        for call in await self._calls_with_passes_of(user_id):
            async with self.sessions() as session:
                passes = await store.valid_passes(session, call.room, user_id)
            await self._revoke(call.room, passes, "deactivated")

    async def _calls_with_passes_of(self, user_id: int) -> list[VideoCall]:
        async with self.sessions() as session:
            calls = [call for call, _ in await store.open_calls(session)]
            return [c for c in calls if await store.valid_passes(session, c.room, user_id)]

    # ----- the meeting clock's news, and the sweep -----

    async def transition(self, series: MeetingSeries, occurrence: Occurrence, kind: str) -> None:
        """An occurrence that ended ends its call."""
        if kind != "ended" or series.id is None:
            return
        room = room_number(series.id, occurrence.start)
        await self._end_call(series, room, by=None, reason="The session has ended.")

    async def sweep(self) -> None:
        """Keep the server's Janus session alive, end calls whose occurrence is over, and
        note who is in each open call for attendance."""
        try:
            await self._client.keepalive()
        except MEDIA_ERRORS:
            log.warning("the media server did not answer a keepalive")
            return
        async with self.sessions() as session:
            calls = await store.open_calls(session)
        now = self.clock.now()
        for call, series in calls:
            if (
                call.occurrence + timedelta(minutes=series.duration_minutes) + ENDED_CALL_GRACE
                < now
            ):
                await self._end_call(series, call.room, by=None, reason="The session has ended.")
                continue
            try:
                await self._note_who_is_in(call, series)
            except MEDIA_ERRORS:
                log.exception("could not list who is in video room %s", call.room)

    async def _note_who_is_in(self, call: VideoCall, series: MeetingSeries) -> None:
        """Open an attendance span for each participant newly in the call, close those of
        participants gone; a participant the server gave no pass is put out."""
        in_call = await self._feeds_in(call.room)
        prefix = f"{CALL_SPAN_PREFIX}{call.room}:"
        now = self.clock.now()
        async with self.sessions() as session:
            passes = {p.id: p for p in await store.valid_passes(session, call.room)}
            noted = await meeting_store.open_conn_ids(
                session, room_id=series.room_id, prefix=prefix
            )
        for feed in in_call - passes.keys():
            log.warning("participant %s in video room %s has no pass; kicked", feed, call.room)
            await self._client.kick(call.room, feed)
        async with self.sessions() as session:
            for feed in in_call & passes.keys():
                if f"{prefix}{feed}" not in noted:
                    await meeting_store.open_span(
                        session,
                        room_id=series.room_id,
                        user_id=passes[feed].user_id,
                        conn_id=f"{prefix}{feed}",
                        now=now,
                    )
            for conn_id in noted - {f"{prefix}{feed}" for feed in in_call}:
                await meeting_store.close_spans(
                    session, room_id=series.room_id, conn_id=conn_id, now=now
                )

    async def _end_call(
        self, series: MeetingSeries, room: int, *, by: int | None, reason: str
    ) -> None:
        """The call ends: no pass works any more, the room is gone, the room's members are
        told, and everyone's time in it is closed. A media server that is down must not stop
        the rest: its rooms end with it, and its tokens stay unused."""
        now = self.clock.now()
        async with self.sessions() as session:
            if not await store.end_call(session, room=room, by=by, reason=reason, now=now):
                await session.rollback()
                return
            passes = await store.valid_passes(session, room)
            await store.revoke_passes(
                session, [p.id for p in passes if p.id], reason="ended", now=now
            )
            await session.commit()
            noted = await meeting_store.open_conn_ids(
                session, room_id=series.room_id, prefix=f"{CALL_SPAN_PREFIX}{room}:"
            )
            for conn_id in noted:
                await meeting_store.close_spans(
                    session, room_id=series.room_id, conn_id=conn_id, now=now
                )
        await self.hub.to_room(
            series.room_id, "video_ended", {"meeting_id": series.id, "reason": reason}
        )
        try:
            for video_pass in passes:
                await self._client.remove_token(video_pass.token)
            await self._client.destroy_room(room)
        except MEDIA_ERRORS:
            log.exception("video room %s of meeting %s was not ended", room, series.id)

    # ----- plumbing -----

    async def _open_call(
        self, actor: Actor, series_id: int
    ) -> tuple[MeetingSeries, Occurrence, VideoCall]:
        series, occurrence = await self.meetings.open_now(actor, series_id)
        async with self.sessions() as session:
            call = await store.get_call(session, room_number(series_id, occurrence.start))
        if call is None:
            raise not_found("call of this session (nobody has joined it yet)")
        if call.ended_at is not None:
            raise call_ended()
        return series, occurrence, call

    async def _pass_in_call(self, call: VideoCall, feed_id: int) -> VideoPass:
        async with self.sessions() as session:
            video_pass = await store.get_pass(session, feed_id)
        if video_pass is None or video_pass.room != call.room or video_pass.revoked_at:
            raise not_found("participant of this call")
        return video_pass

    async def _revoke(self, room: int, passes: list[VideoPass], reason: str) -> None:
        """Revoked in the database first (the record holds even if the media server is down),
        then at the media server in the order that shuts the door before the kick: off the
        room's list, the token gone, then out of the room."""
        await self._revoke_in_store(passes, reason)
        try:
            for video_pass in passes:
                await self._client.disallow(room, [video_pass.token])
                await self._client.remove_token(video_pass.token)
                if video_pass.id is not None:
                    await self._client.kick(room, video_pass.id)
        except MEDIA_ERRORS:
            log.exception("passes into video room %s were not all revoked at Janus", room)

    async def _revoke_in_store(self, passes: list[VideoPass], reason: str) -> None:
        async with self.sessions() as session:
            await store.revoke_passes(
                session, [p.id for p in passes if p.id], reason=reason, now=self.clock.now()
            )
            await session.commit()

    async def _feeds_in(self, room: int) -> set[int]:
        try:
            return {int(p["id"]) for p in await self._client.participants(room)}
        except JanusError as error:
            if error.code == NO_SUCH_ROOM:  # nobody is in a room that is not there
                return set()
            raise

    async def _audit(
        self, actor: Actor, action: str, series: MeetingSeries, user_id: int | None, reason: str
    ) -> None:
        await self.audit.record(
            actor_id=actor.id,
            action=action,
            room_id=series.room_id,
            target_user_id=user_id,
            reason=reason,
        )

    @property
    def _client(self) -> JanusClient:
        if self._janus is None:
            raise unavailable("the media server is not connected.")
        return self._janus

    def _pass_json(
        self, series: MeetingSeries, occurrence: Occurrence, actor: Actor, video_pass: VideoPass
    ) -> dict[str, Any]:
        return {
            "meeting_id": series.id,
            "starts_at": iso_utc(occurrence.start),
            "ends_at": iso_utc(occurrence.end),
            "room": video_pass.room,
            "token": video_pass.token,
            "feed_id": video_pass.id,
            "server": self.ws_url,
            "ice_servers": self.ice_servers(actor.id, self.clock.now()),
            "display": actor.display_name,
            "recorded": False,
        }
