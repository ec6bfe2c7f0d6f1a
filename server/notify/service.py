"""Reaching people who are not looking: Web Push to their browsers, by what they chose.

What is pushed: new messages in rooms a person follows, and replies to them and mentions of
them anywhere they may be, while they are not in the room (no text on the lock screen unless
they asked for previews; once per message), session reminders at the lead time
each person chose, and crisis alerts and reports to staff (to those on duty, else every member
of staff; a crisis alert nobody acknowledged in time, when raised again, to every member of
staff). Quiet hours hold everything back but crisis alerts to staff. What is mailed, to a
confirmed address: reminders, cancelled and moved sessions, the daily digest of what someone
missed (counts only), and crisis alerts to the on-call list (again at each raise).

Pushes leave the request that caused them at once: they wait in one queue that a worker
empties, so a slow push service never slows a send. Each cause is handled by one process (a
message by the process that stored it, an alert by the one that announced or raised it again),
and reminders and digests, which every process looks for, are claimed in the database first:
each goes out once.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy.ext.asyncio import AsyncSession

from server.accounts import store as account_store
from server.accounts.service import require_staff
from server.kernel.actors import Actor
from server.kernel.clock import Clock, LoopingCall
from server.kernel.db import SessionFactory
from server.kernel.errors import AppError
from server.meetings import store as meeting_store
from server.meetings.models import MeetingSeries
from server.meetings.occurrences import expand
from server.meetings.service import meeting_recipients, parse_utc
from server.notify import store
from server.notify.digest import Missed, digest_day, missed
from server.notify.email import (
    Mail,
    Mailer,
    MailError,
    change_mail,
    confirm_address_mail,
    crisis_mail,
    digest_mail,
    reminder_mail,
)
from server.notify.models import (
    NotificationSettings,
    PushSubscription,
    SettingsIn,
    SubscriptionIn,
    UnsubscribeIn,
    chosen_settings,
)
from server.notify.push import (
    Gone,
    PushFailed,
    PushPolicy,
    PushSender,
    application_server_key,
    b64url,
)
from server.rooms import store as room_store
from server.rooms.access import RoomAccess
from server.rooms.gates import Draft
from server.rooms.models import Audience

log = logging.getLogger(__name__)

# One push per room per person in this long: a lively conversation is one notification
# (the browser replaces it, by its tag) rather than a buzz per message.
ROOM_PUSH_EVERY = timedelta(minutes=2)
QUEUE_LIMIT = 10_000
# On shutdown, how long the pushes already queued may take to go.
CLOSE_WAIT_S = 2.0
PREVIEW_CHARS = 120

Pusher = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class MailChannel:
    """Email, when the settings name an SMTP server: the mailer, the address links point to,
    the on-call addresses told of crisis alerts, and the key that signs links in mails."""

    mailer: Mailer
    public_url: str
    on_call: tuple[str, ...]
    link_key: bytes

    def link_token(self, purpose: str, user_id: int, value: str = "") -> str:
        signed = hmac.new(self.link_key, f"{purpose}:{user_id}:{value}".encode(), hashlib.sha256)
        return b64url(signed.digest())

    def link(self, path: str, purpose: str, user_id: int, value: str = "") -> str:
        token = self.link_token(purpose, user_id, value)
        return f"{self.public_url.rstrip('/')}{path}?u={user_id}&t={token}"

    def unsubscribe_link(self, user_id: int) -> str:
        return self.link("/api/notifications/unsubscribe", "reminders", user_id)

    def digest_unsubscribe_link(self, user_id: int) -> str:
        # A purpose of its own: the digest's link cannot turn session mail off, nor the other
        # way round.
        return self.link("/api/notifications/unsubscribe-digest", "digest", user_id)

    def app_link(self, route: str) -> str:
        """A screen of the web client, such as `#/console`."""
        return f"{self.public_url.rstrip('/')}/{route}"


@dataclass
class Notifications:
    sessions: SessionFactory
    clock: Clock
    access: RoomAccess
    vapid_key: ec.EllipticCurvePrivateKey
    vapid_subject: str
    policy: PushPolicy
    online_in_room: Callable[[int], Awaitable[list[int]]]
    staff_on_duty: Callable[[], Awaitable[set[int]]]
    reminder_tick_s: float = 30.0
    mail: MailChannel | None = None
    # The hour of each person's own clock their daily digest goes at.
    digest_hour: int = 7
    _queue: asyncio.Queue[Pusher] = field(
        default_factory=lambda: asyncio.Queue(QUEUE_LIMIT), init=False
    )
    _sender: PushSender | None = field(default=None, init=False)
    _worker: asyncio.Task[None] | None = field(default=None, init=False)
    _reminding: LoopingCall | None = field(default=None, init=False)
    _last_room_push: dict[tuple[int, int], datetime] = field(default_factory=dict, init=False)
    # The rooms someone follows, read with each reminder tick (and changed here at once by a
    # follow here): a message in any other room costs no query at all, and a follow made on
    # another process is seen within a tick.
    _followed_rooms: set[int] = field(default_factory=set, init=False)
    # The local day each person's digest was last decided on by this process: the database
    # claim is what makes it once, this only spares a claim per tick for the rest of the day.
    _digest_days: dict[int, date] = field(default_factory=dict, init=False)

    async def start(self) -> None:
        self._sender = PushSender(self.vapid_key, self.vapid_subject, aiohttp.ClientSession())
        self._worker = asyncio.create_task(self._work())
        self._reminding = self.clock.looping_call(self._tick, self.reminder_tick_s, run_now=True)

    async def close(self) -> None:
        """Stop looking for reminders; give the pushes already queued a moment to go (they
        hold database sessions, which must be back before the pool closes), then stop."""
        if self._reminding is not None:
            await self._reminding.stop()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._queue.join(), CLOSE_WAIT_S)
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        if self._sender is not None:
            await self._sender.http.close()

    async def _tick(self) -> None:
        async with self.sessions() as session:
            self._followed_rooms = set(await store.rooms_with_followers(session))
        await self.send_due_reminders()
        await self.send_due_digests()

    async def drain(self) -> None:
        """Wait until every push queued so far has been tried (tests, shutdown)."""
        await self._queue.join()

    # ----- a person's own settings -----

    def public_key(self) -> dict[str, Any]:
        return {"public_key": application_server_key(self.vapid_key)}

    async def subscribe(self, actor: Actor, data: SubscriptionIn) -> dict[str, Any]:
        self.policy.check(data.endpoint)
        async with self.sessions() as session:
            await store.save_subscription(
                session,
                user_id=actor.id,
                endpoint=data.endpoint,
                p256dh=data.keys.p256dh,
                auth=data.keys.auth,
                now=self.clock.now(),
            )
        return await self.settings_of(actor)

    async def unsubscribe(self, actor: Actor, data: UnsubscribeIn) -> dict[str, Any]:
        async with self.sessions() as session:
            await store.delete_subscription(session, endpoint=data.endpoint, user_id=actor.id)
        return await self.settings_of(actor)

    async def settings_of(self, actor: Actor) -> dict[str, Any]:
        async with self.sessions() as session:
            settings = (await store.settings_of(session, [actor.id]))[actor.id]
            devices = await store.subscriptions_of(session, [actor.id])
            rooms = await store.followed_rooms(session, actor.id)
        return settings_json(settings, len(devices), rooms, email_available=self.mail is not None)

    async def change_settings(self, actor: Actor, data: SettingsIn) -> dict[str, Any]:
        async with self.sessions() as session:
            settings = (await store.settings_of(session, [actor.id]))[actor.id]
            new_address = (
                "email" in data.model_fields_set and (data.email or None) != settings.email
            )
            for name in data.model_fields_set - {"email"}:
                setattr(settings, name, getattr(data, name))
            if new_address:
                settings.email, settings.email_confirmed = data.email or None, False
            await store.save_settings(session, settings)
        if new_address and settings.email and self.mail is not None:
            self._ask_to_confirm(actor.id, settings.email)
        return await self.settings_of(actor)

    async def confirm_address(self, user_id: int, token: str) -> bool:
        """The link in the confirmation mail: the address takes mail from now on."""
        async with self.sessions() as session:
            settings = (await store.settings_of(session, [user_id]))[user_id]
            if not self._signed(token, "confirm", user_id, settings.email or ""):
                return False
            settings.email_confirmed = True
            await store.save_settings(session, settings)
        return True

    async def stop_reminder_mail(self, user_id: int, token: str) -> bool:
        """The unsubscribe link (or one-click POST, RFC 8058) of a reminder mail."""
        if not self._signed(token, "reminders", user_id):
            return False
        async with self.sessions() as session:
            settings = (await store.settings_of(session, [user_id]))[user_id]
            settings.email_reminders = False
            await store.save_settings(session, settings)
        return True

    async def stop_digest_mail(self, user_id: int, token: str) -> bool:
        """The digest's unsubscribe link (or one-click POST): digests off, reminders kept."""
        if not self._signed(token, "digest", user_id):
            return False
        async with self.sessions() as session:
            settings = (await store.settings_of(session, [user_id]))[user_id]
            settings.email_digest = False
            await store.save_settings(session, settings)
        return True

    def _signed(self, token: str, purpose: str, user_id: int, value: str = "") -> bool:
        if self.mail is None or not token:
            return False
        expected = self.mail.link_token(purpose, user_id, value)
        return hmac.compare_digest(expected, token)

    def _ask_to_confirm(self, user_id: int, address: str) -> None:
        mail = self.mail
        assert mail is not None  # noqa: S101 - checked by the caller
        link = mail.link("/api/notifications/confirm", "confirm", user_id, address)
        self._enqueue(lambda: self._send_mail(confirm_address_mail(address, confirm_url=link)))

    async def follow(self, actor: Actor, room_id: int, follow: bool) -> dict[str, Any]:
        async with self.sessions() as session:
            await self.access.enter(session, actor, room_id)
            await store.set_follow(session, user_id=actor.id, room_id=room_id, follow=follow)
        if follow:
            self._followed_rooms.add(room_id)
        return await self.settings_of(actor)

    async def channels_of(self, user_id: int) -> dict[str, Any]:
        """Whether a person can be reached away from the app (for staff; never the details:
        how many browsers, and whether mail reaches them, never the address)."""
        async with self.sessions() as session:
            devices = await store.subscriptions_of(session, [user_id])
            settings = (await store.settings_of(session, [user_id]))[user_id]
        return {
            "notification_channels": {
                "push_devices": len(devices),
                "email": self._mail_reaches(settings),
            }
        }

    def _mail_reaches(self, settings: NotificationSettings) -> bool:
        """A confirmed address that takes some mail, on a server that sends it."""
        wanted = settings.email_reminders or settings.email_digest
        confirmed = bool(settings.email) and settings.email_confirmed
        return self.mail is not None and confirmed and wanted

    async def channels_for_staff(self, actor: Actor, user_id: int) -> dict[str, Any]:
        require_staff(actor)
        return await self.channels_of(user_id)

    # ----- what causes a push -----

    async def post_stored(self, draft: Draft, message: dict[str, Any]) -> None:
        """A new message: those it replies to or mentions, then its room's followers, who
        are not in the room hear of it, each once."""
        if draft.action != "send":
            return
        room_id, author_id = draft.room.id or 0, draft.actor.id
        addressed = addressed_in(message, author_id)
        followed = room_id in self._followed_rooms
        if not addressed and not followed:
            return
        news = News(room_id, draft.room.name, author_id, draft.actor.display_name, draft.body)
        self._enqueue(lambda: self._push_news(news, addressed, followed=followed))

    async def post_refused(self, actor: Actor, room_id: int, body: str, error: AppError) -> None:
        return None

    async def post_repeated(self, actor: Actor, message: dict[str, Any]) -> None:
        return None

    async def alert_announced(self, alert: dict[str, Any]) -> None:
        """A crisis alert or a report, announced once: staff away from the console hear."""
        self._enqueue(lambda: self._push_alert(alert))

    async def alert_raised_again(self, alert: dict[str, Any]) -> None:
        """An alert nobody acknowledged in time, raised again (once, on one process): a
        crisis alert now reaches every member of staff, on duty or not, and the on-call list
        once more. A report waits in the console: its first push was enough."""
        if alert.get("kind") == "crisis":
            self._enqueue(lambda: self._push_escalation(alert))

    async def meeting_changed(
        self,
        series: MeetingSeries,
        kind: str,
        text: str,
        recipients: list[int],
        extra: dict[str, Any],
    ) -> None:
        """A session cancelled or moved: its members away from the app hear of it."""
        if kind not in ("meeting_cancelled", "meeting_moved"):
            return
        series_id = series.id or 0
        payload = {
            "title": series.title,
            "body": text,
            "url": f"#/meetings/{series_id}",
            "tag": f"meeting-change-{series_id}",
            "kind": "meeting_change",
        }
        self._enqueue(lambda: self._push_change(series, kind, recipients, payload, extra))

    async def _push_change(
        self,
        series: MeetingSeries,
        kind: str,
        recipients: list[int],
        payload: dict[str, Any],
        extra: dict[str, Any],
    ) -> None:
        async with self.sessions() as session:
            staff = set(await meeting_store.staff_user_ids(session))
            members = [user_id for user_id in recipients if user_id not in staff]
            settings = await store.settings_of(session, members)
        await self._push(members, payload)
        for user_id in members:
            self._mail_change(settings[user_id], series, kind, extra)

    def _mail_change(
        self,
        settings: NotificationSettings,
        series: MeetingSeries,
        kind: str,
        extra: dict[str, Any],
    ) -> None:
        to = self._session_mail_to(settings)
        if to is None:
            return
        mail, address = to
        when = parse_utc(str(extra["starts_at"]), "starts_at")
        local = when.astimezone(ZoneInfo(settings.timezone))
        change = change_mail(
            address,
            title=series.title,
            what="cancelled" if kind == "meeting_cancelled" else "moved",
            when_local=local.strftime("%A %d %B, %H:%M") + f" ({settings.timezone})",
            reason=str(extra.get("reason") or ""),
            meeting_url=mail.app_link(f"#/meetings/{series.id}"),
            unsubscribe_url=mail.unsubscribe_link(settings.user_id),
        )
        self._enqueue(lambda: self._send_mail(change))

    async def send_due_reminders(self) -> None:
        """Remind each person of a session at the lead time they chose, once."""
        now = self.clock.now()
        async with self.sessions() as session:
            pairs = await meeting_store.list_series(session)
            exceptions = await meeting_store.exceptions(session, [s.id for s, _ in pairs if s.id])
            # Staff run the sessions; the reminders are for the members.
            staff = set(await meeting_store.staff_user_ids(session))
            due: list[tuple[str, int, str, datetime, list[int]]] = []
            # Only as far ahead as the longest lead anyone chose: most sessions are not due.
            window_end = now + timedelta(minutes=await store.longest_lead(session))
            for series, room in pairs:
                starts = [
                    occurrence.start
                    for occurrence in expand(series, now, window_end, exceptions[series.id or 0])
                    if not occurrence.cancelled and occurrence.start > now
                ]
                if not starts:
                    continue
                people = await meeting_recipients(session, self.access, room)
                members = [user_id for user_id in people if user_id not in staff]
                for start in starts:
                    key = start.strftime("%Y-%m-%dT%H:%MZ")
                    due.append((series.title, series.id or 0, key, start, members))
            wanted = {user_id for *_, members in due for user_id in members}
            settings = await store.settings_of(session, sorted(wanted))
        for title, series_id, start_text, start, members in due:
            for user_id in members:
                lead = settings[user_id].reminder_minutes
                if lead <= 0 or now < start - timedelta(minutes=lead):
                    continue
                key = f"reminder:{series_id}:{start_text}:{user_id}"
                async with self.sessions() as session:
                    if not await store.claim(session, key, now):
                        continue
                minutes = max(1, math.ceil((start - now).total_seconds() / 60))
                payload = {
                    "title": f"{title} starts in {minutes} minutes",
                    "body": "Tap to open the meeting room.",
                    "url": f"#/meetings/{series_id}",
                    "tag": f"reminder-{series_id}",
                    "kind": "reminder",
                }
                self._enqueue(lambda u=user_id, p=payload: self._push([u], p))  # type: ignore[misc]
                self._mail_reminder(settings[user_id], title, series_id, start, minutes)

    def _mail_reminder(
        self,
        settings: NotificationSettings,
        title: str,
        series_id: int,
        start: datetime,
        minutes: int,
    ) -> None:
        to = self._session_mail_to(settings)
        if to is None:
            return
        mail, address = to
        local = start.astimezone(ZoneInfo(settings.timezone))
        reminder = reminder_mail(
            address,
            title=title,
            starts_local=local.strftime("%H:%M") + f" ({settings.timezone})",
            minutes_before=minutes,
            meeting_url=mail.app_link(f"#/meetings/{series_id}"),
            unsubscribe_url=mail.unsubscribe_link(settings.user_id),
        )
        self._enqueue(lambda: self._send_mail(reminder))

    def _session_mail_to(self, settings: NotificationSettings) -> tuple[MailChannel, str] | None:
        """Where this person's session mail goes: a confirmed address that takes it."""
        wanted = settings.email_confirmed and settings.email_reminders
        if self.mail is None or not settings.email or not wanted:
            return None
        return self.mail, settings.email

    # ----- the daily digest -----

    async def send_due_digests(self) -> None:
        """Everyone who asked for the digest, once their own clock has passed the digest
        hour: what they missed, once a day on any number of processes (the day is claimed in
        the database before anything is counted or sent)."""
        if self.mail is None:
            return
        now = self.clock.now()
        async with self.sessions() as session:
            takers = await store.digest_takers(session)
        for settings in takers:
            day = digest_day(settings, now, self.digest_hour)
            if day is None or self._digest_days.get(settings.user_id) == day:
                continue
            key = f"digest:{settings.user_id}:{day.isoformat()}"
            async with self.sessions() as session:
                claimed = await store.claim(session, key, now)
            # Decided either way (a claim that failed with an error is tried next tick).
            self._digest_days[settings.user_id] = day
            if claimed:  # else another process (or this one before a restart) has it
                await self._send_digest(settings, now)

    async def _send_digest(self, settings: NotificationSettings, now: datetime) -> None:
        """Count, remember how far, and mail when something is unread: with nothing unread
        the day passes without a mail."""
        async with self.sessions() as session:
            actor = await account_store.load_actor(session, settings.user_id)
            if actor is None:
                return  # deactivated: nothing goes to them any more
            found = await missed(session, self.access, actor, settings.digest_through_id, now)
            await store.digested_through(session, settings.user_id, found.through_id)
        if found.anything_unread:
            self._mail_digest(settings, actor.display_name, found)

    def _mail_digest(self, settings: NotificationSettings, name: str, found: Missed) -> None:
        mail = self.mail
        if mail is None or not settings.email:
            return
        zone = ZoneInfo(settings.timezone)
        sessions = [
            (title, start.astimezone(zone).strftime("%a %d %b, %H:%M") + f" ({settings.timezone})")
            for title, start in found.sessions
        ]
        digest = digest_mail(
            settings.email,
            display_name=name,
            rooms=found.rooms,
            sessions=sessions,
            app_url=mail.app_link("#/rooms"),
            unsubscribe_url=mail.digest_unsubscribe_link(settings.user_id),
        )
        self._enqueue(lambda: self._send_mail(digest))

    def _mail_crisis(self, alert: dict[str, Any], room_name: str, raise_count: int = 1) -> None:
        mail = self.mail
        if mail is None:
            return
        raised = self.clock.now().strftime("%H:%M UTC")
        for address in mail.on_call:
            paged = crisis_mail(
                address,
                severity=str(alert.get("severity") or "urgent"),
                category=str(alert.get("category") or "crisis"),
                room_name=room_name,
                console_url=mail.app_link("#/console"),
                raised_at_local=raised,
                raise_count=raise_count,
            )
            self._enqueue(lambda m=paged: self._send_mail(m))  # type: ignore[misc]

    async def _send_mail(self, mail: Mail) -> None:
        if self.mail is None:
            return
        try:
            await self.mail.mailer.send(mail)
        except MailError as error:
            # The reason names the server's answer, never the mail's content.
            log.warning("a notification mail was not sent: %s", error.reason)

    # ----- sending -----

    def _enqueue(self, push: Pusher) -> None:
        try:
            self._queue.put_nowait(push)
        except asyncio.QueueFull:
            log.warning("push queue full: a notification was dropped")

    async def _work(self) -> None:
        while True:
            push = await self._queue.get()
            try:
                await push()
            except Exception:
                log.exception("a push failed")
            finally:
                self._queue.task_done()

    async def _push_news(self, news: News, addressed: dict[int, str], *, followed: bool) -> None:
        told = await self._push_addressed(news, addressed) if addressed else set()
        if followed:
            text = f"{news.author_name}: {news.body}"
            await self._push_room_message(news.room_id, news.author_id, news.room, text, told)

    async def _push_addressed(self, news: News, addressed: dict[int, str]) -> set[int]:
        """Those a message replies to or mentions, away from the room: `Ana replied to you in
        Group A` (with previews, `Ana replied to you: <its start>`). Answers who was told, so
        their room's news does not buzz again for it."""
        here = set(await self.online_in_room(news.room_id))
        away = [user_id for user_id in addressed if user_id not in here]
        wanted = await self._still_allowed(away, news.room_id)
        if not wanted:
            return set()
        async with self.sessions() as session:
            settings = await store.settings_of(session, wanted)
        now = self.clock.now()
        for user_id in wanted:
            # Counts as the room's push: its followers' next one waits as after any other.
            self._last_room_push[(user_id, news.room_id)] = now
            said = ADDRESSED[addressed[user_id]]
            body = (
                f"{news.author_name} {said}: {news.body[:PREVIEW_CHARS]}"
                if settings[user_id].previews
                else f"{news.author_name} {said} in {news.room}"
            )
            payload = {"title": news.room, "body": body, "url": f"#/rooms/{news.room_id}",
                       "tag": f"for-you-{news.room_id}", "kind": addressed[user_id]}  # fmt: skip
            await self._push([user_id], payload)
        return set(wanted)

    async def _push_room_message(
        self, room_id: int, author_id: int, room: str, text: str, told: set[int] | None = None
    ) -> None:
        """The room's followers away from it, but those `told` of this message already."""
        told = told or set()
        async with self.sessions() as session:
            following = [
                u
                for u in await store.followers(session, room_id)
                if u != author_id and u not in told
            ]
        here = set(await self.online_in_room(room_id))
        now = self.clock.now()
        wanted = []
        for user_id in following:
            last = self._last_room_push.get((user_id, room_id))
            if user_id in here or (last is not None and now - last < ROOM_PUSH_EVERY):
                continue
            wanted.append(user_id)
        wanted = await self._still_allowed(wanted, room_id)
        if not wanted:
            return
        async with self.sessions() as session:
            settings = await store.settings_of(session, wanted)
        for user_id in wanted:
            self._last_room_push[(user_id, room_id)] = now
            body = text[:PREVIEW_CHARS] if settings[user_id].previews else f"New message in {room}"
            payload = {"title": room, "body": body, "url": f"#/rooms/{room_id}",
                       "tag": f"room-{room_id}", "kind": "message"}  # fmt: skip
            await self._push([user_id], payload)

    async def _still_allowed(self, user_ids: list[int], room_id: int) -> list[int]:
        """Those who may still enter the room (a ban or a graduation ends a follow)."""
        allowed = []
        async with self.sessions() as session:
            room = await room_store.get_room(session, room_id)
            if room is None:
                return []
            for user_id in user_ids:
                actor = await account_store.load_actor(session, user_id)
                if actor is not None and await self.access.allows(session, actor, room):
                    allowed.append(user_id)
        return allowed

    async def _push_alert(self, alert: dict[str, Any]) -> None:
        crisis = alert.get("kind") == "crisis"
        on_duty = await self.staff_on_duty()
        async with self.sessions() as session:
            staff, staff_devices = await store.staff_and_devices(session)
            told = (on_duty & staff) or staff
            devices = [device for device in staff_devices if device.user_id in told]
            if not crisis:
                devices = await self._awake(session, devices)
        mailed = crisis and self.mail is not None
        if not devices and not mailed:
            return  # each alert (and each raised again) comes here: nobody to tell, no reads
        place = await self._place(alert)
        payload = {
            "title": "Crisis alert: someone may need help now" if crisis else "New report",
            # Who and what stay in the console, behind a sign-in.
            "body": f"Open the moderator console: in {place}.",
            "url": "#/console",
            "tag": f"alert-{alert['id']}",
            "kind": "crisis_alert" if crisis else "report",
        }
        await self._send_to(devices, payload, urgent=crisis)
        if crisis:
            self._mail_crisis(alert, place)

    async def _push_escalation(self, alert: dict[str, Any]) -> None:
        """A crisis alert raised again: every member of staff, through quiet hours."""
        place = await self._place(alert)
        count = int(alert.get("raise_count") or 2)
        payload = {
            "title": "Crisis alert: still not acknowledged",
            "body": f"Raised {count} times. Open the moderator console: in {place}.",
            "url": "#/console",
            # The first push's tag, so this one takes its place on the screen; the service
            # worker sounds again for a crisis alert whose tag is still shown (renotify).
            "tag": f"alert-{alert['id']}",
            "kind": "crisis_alert",
        }
        await self._push(sorted(await self._staff()), payload, urgent=True)
        self._mail_crisis(alert, place, raise_count=count)

    async def _staff(self) -> list[int]:
        async with self.sessions() as session:
            return await meeting_store.staff_user_ids(session)

    async def _place(self, alert: dict[str, Any]) -> str:
        """Where the alert is, as a push or a mail may say it: a private support
        conversation is named after its member, so it goes unnamed."""
        if not alert.get("room_id"):
            return "a private conversation"
        async with self.sessions() as session:
            room = await room_store.get_room(session, alert["room_id"])
        if room is None:
            return "a private conversation"
        private = room.audience == Audience.PERSON
        return "a private support conversation" if private else room.name

    async def _push(
        self, user_ids: list[int], payload: dict[str, Any], *, urgent: bool = False
    ) -> None:
        """To every browser of these people, but those in their quiet hours (unless urgent:
        a crisis alert to staff)."""
        async with self.sessions() as session:
            devices = await self._devices(session, user_ids, urgent=urgent)
        await self._send_to(devices, payload, urgent=urgent)

    async def _devices(
        self, session: AsyncSession, user_ids: list[int], *, urgent: bool
    ) -> list[PushSubscription]:
        """The browsers of these people who are not in their quiet hours (all, if urgent)."""
        devices = await store.subscriptions_of(session, user_ids)
        # Quiet hours do not hold an urgent push back, so they are not read.
        return devices if urgent else await self._awake(session, devices)

    async def _awake(
        self, session: AsyncSession, devices: list[PushSubscription]
    ) -> list[PushSubscription]:
        """The browsers of those not in their quiet hours now."""
        if not devices:
            return []
        now = self.clock.now()
        settings = await store.settings_of(session, sorted({d.user_id for d in devices}))
        return [d for d in devices if not in_quiet_hours(settings[d.user_id], now)]

    async def _send_to(
        self, devices: list[PushSubscription], payload: dict[str, Any], *, urgent: bool
    ) -> None:
        if self._sender is None:
            return  # not started: nothing is sent
        for device in devices:
            try:
                await self._sender.send(
                    device.endpoint, device.p256dh, device.auth, payload, urgent=urgent
                )
            except Gone:
                async with self.sessions() as session:
                    await store.delete_subscription(session, endpoint=device.endpoint, user_id=None)
            except PushFailed as error:
                log.warning("push to a device of user %s failed: %s", device.user_id, error)
            else:
                async with self.sessions() as session:
                    await store.mark_sent(session, device.id or 0, self.clock.now())


# What a push says of a message to the one it replies to or mentions, by the push's `kind`.
ADDRESSED = {"reply": "replied to you", "mention": "mentioned you"}


@dataclass(frozen=True)
class News:
    """A new message, as pushes tell of it."""

    room_id: int
    room: str
    author_id: int
    author_name: str
    body: str


def addressed_in(message: dict[str, Any], author_id: int) -> dict[int, str]:
    """Who a new message is addressed to (rooms/replies.py), never its author: the author of
    the message it replies to (`reply`, unless deleted) and those it mentions (`mention`).
    Someone both replied to and mentioned hears once, of the reply."""
    addressed = {int(user["id"]): "mention" for user in message.get("mentions") or ()}
    reply = message.get("reply_to") or {}
    if reply.get("author") and not reply.get("deleted"):
        addressed[int(reply["author"]["id"])] = "reply"
    addressed.pop(author_id, None)
    return addressed


def in_quiet_hours(settings: NotificationSettings, now: datetime) -> bool:
    if settings.quiet_start is None or settings.quiet_end is None:
        return False
    local = now.astimezone(ZoneInfo(settings.timezone)).time()
    start, end = time.fromisoformat(settings.quiet_start), time.fromisoformat(settings.quiet_end)
    if start <= end:
        return start <= local < end
    return local >= start or local < end  # overnight, such as 22:00 to 07:00


def settings_json(
    settings: NotificationSettings, devices: int, rooms: list[int], *, email_available: bool
) -> dict[str, Any]:
    """`email_available`: whether this server sends email at all (an SMTP server is set)."""
    return {
        **chosen_settings(settings),
        "email_available": email_available,
        "push_devices": devices,
        "followed_room_ids": rooms,
    }
