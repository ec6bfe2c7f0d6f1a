"""The composition root: the one place that builds and wires every part of the service."""

from __future__ import annotations

import hmac
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import socketio
from aiohttp import web
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from server.accounts.http import ACCOUNTS, PEOPLE, PROFILES, add_account_routes
from server.accounts.passwords import Passwords
from server.accounts.people import LastSeen, PeopleService
from server.accounts.profile import ProfileService
from server.accounts.service import AccountService
from server.accounts.throttle import Allowance, SignInThrottle
from server.accounts.tokens import TokenIssuer, load_or_create_secret
from server.kernel.actors import Actor
from server.kernel.audit import AuditSink
from server.kernel.clock import Clock, SystemClock
from server.kernel.db import (
    Deadlines,
    SessionFactory,
    create_engine,
    create_session_factory,
    ping,
)
from server.kernel.hotpath.writer import hot_writer_for
from server.kernel.http import MAX_BODY_BYTES, request_middleware
from server.kernel.lifetime import closed_after_serving, while_serving
from server.kernel.memory import freeze_startup_objects, give_back_freed_memory
from server.kernel.migrate import current_revision, head_revision, upgrade_to_head
from server.kernel.ratelimit import InProcessRateLimiter, RateLimiter, RedisRateLimiter
from server.kernel.redis import RedisHealth, connect_redis
from server.kernel.throttle import InProcessThrottle, RedisThrottle, Throttle
from server.kernel.validation import InputModel
from server.media.http import VIDEO, add_video_routes
from server.media.janus import JanusConfig
from server.media.service import VideoSessions
from server.media.turn import ice_servers_with_turn
from server.meetings.attendance import AttendanceReports, AttendanceTracker
from server.meetings.calendar import CalendarFeeds
from server.meetings.http import ATTENDANCE, CALENDARS, MEETINGS, add_meeting_routes
from server.meetings.lifecycle import MeetingClock
from server.meetings.service import MeetingService, MeetingWindowGate
from server.moderation.alerts import AlertService
from server.moderation.audit import AuditLog
from server.moderation.crisis.detector import Classifier, CrisisClassifier, load_classifier
from server.moderation.crisis.layers import FirstAlarm, OperatorPhrases
from server.moderation.duty import StaffDesk
from server.moderation.filters import (
    BlockedTermsGate,
    ContactGate,
    CrisisGate,
    CrisisResponder,
    RateLimitGate,
    SlowModeGate,
)
from server.moderation.http import (
    ALERTS,
    AUDIT,
    REPORTS,
    RESTRICTIONS,
    SUPPORT,
    add_moderation_routes,
)
from server.moderation.matching import CrisisDetector, TermBlocker
from server.moderation.reports import ReportService
from server.moderation.restrictions import (
    BanGate,
    MuteGate,
    RestrictionCache,
    RestrictionService,
)
from server.moderation.support import SupportConversations
from server.moderation.webhook import AlertWebhook
from server.notify.digest_http import add_digest_routes
from server.notify.email import MailConfig, Mailer
from server.notify.http import NOTIFICATIONS, add_notification_routes
from server.notify.push import PushPolicy, load_or_create_vapid_key
from server.notify.service import MailChannel, Notifications
from server.ops.http import OPERATIONS, Check, Operations, add_operations_routes
from server.ops.metrics import CountingAudit, Metrics
from server.presence.redis_store import RedisPresenceStore
from server.presence.service import PresenceService
from server.presence.store import InProcessPresenceStore, PresenceStore
from server.privacy.access_audit import AccessAudit
from server.privacy.access_audit_http import ACCESS_AUDIT, add_access_audit_routes
from server.privacy.consent import ConsentBook, load_notice
from server.privacy.consent_http import CONSENT, add_consent_routes
from server.privacy.erasure import Erasures
from server.privacy.erasure_http import ERASURES, add_erasure_routes
from server.privacy.export import PersonalExports
from server.privacy.exports_http import EXPORTS, add_export_routes
from server.privacy.holds import LegalHolds
from server.privacy.retention import Retention, policy_from
from server.privacy.retention_http import LEGAL_HOLDS, RETENTION, add_retention_routes
from server.realtime.backlog import BacklogLimit, SlowClients
from server.realtime.bus import ControlBus
from server.realtime.codec import FastJson
from server.realtime.connections import register_connection_events, socket_closer
from server.realtime.delivery import LocalManager
from server.realtime.frames import SocketServer
from server.realtime.hub import Hub
from server.realtime.notices import Notifier
from server.realtime.redis import RedisControlBus, ResilientRedisManager
from server.realtime.router import (
    Admission,
    EventDeadlines,
    EventGate,
    EventLimit,
    EventRouter,
)
from server.reference.http import add_reference_routes
from server.rooms import store as room_store
from server.rooms.access import RoomAccess
from server.rooms.activity import MayFollow, RoomActivity
from server.rooms.catch_up import OutageCatchUp
from server.rooms.events import register_pin_events, register_room_events
from server.rooms.gates import PostGate, RoomLockGate, StoredSendCounter
from server.rooms.http import MESSAGES, ROOMS, SEARCH, add_room_routes
from server.rooms.kept import kept_rooms
from server.rooms.messages import MessageService
from server.rooms.models import SendIn
from server.rooms.pins import PinService
from server.rooms.search import MessageSearch
from server.rooms.search_indexing import search_indexing_for
from server.rooms.search_store import search_index_for
from server.rooms.service import RoomService
from server.settings import Settings
from server.web.http import add_web_routes


@dataclass(frozen=True)
class Sharing:
    """How this process shares live state with the others: in memory when it is alone,
    through Redis when PEERROOMS_REDIS_URL is set."""

    presence_store: PresenceStore
    throttle: Throttle
    rate_limiter: RateLimiter
    bus: ControlBus
    client_manager: socketio.AsyncManager
    redis_clients: tuple[Redis, ...] = ()
    redis_health: RedisHealth | None = None


@dataclass(frozen=True)
class Core:
    """What every feature is built on."""

    settings: Settings
    clock: Clock
    engine: AsyncEngine
    sessions: SessionFactory
    sio: SocketServer
    hub: Hub
    sharing: Sharing
    metrics: Metrics

    @property
    def bus(self) -> ControlBus:
        return self.sharing.bus


CORE = web.AppKey("core", Core)
PRESENCE = web.AppKey("presence", PresenceService)
MEETING_CLOCK = web.AppKey("meeting_clock", MeetingClock)
EVENTS = web.AppKey("events", EventRouter)
ACTIVITY = web.AppKey("activity", RoomActivity)
LAST_SEEN = web.AppKey("last_seen", LastSeen)

# After the close packets of a shutdown: how long clients have to take them before their
# connections are aborted.
CLOSE_FLUSH_S = 1.0


def create_app(
    settings: Settings, *, clock: Clock | None = None, owns_process: bool = False
) -> web.Application:
    """The whole service. `owns_process`: this app is its process's one server (`peerrooms
    serve`), so it may tune the process's garbage collector and give freed memory back to
    the system; tests and tools build several apps in one process and leave it alone."""
    app = web.Application(middlewares=[request_middleware], client_max_size=MAX_BODY_BYTES)
    core = _build_core(settings, clock or SystemClock())
    core.sio.attach(app)
    app[CORE] = core

    notifier = Notifier(core.hub)
    audit_log = AuditLog(core.sessions, core.clock)
    audit = CountingAudit(audit_log, core.metrics)
    restrictions = RestrictionCache(core.bus, core.clock)
    room_settings = kept_rooms(core.bus)
    access = RoomAccess(core.clock, room_settings, gates=[BanGate(restrictions)])
    accounts = _build_accounts(core, notifier)
    consent = ConsentBook(core.sessions, core.clock, load_notice(settings.consent_file))
    accounts.consent = consent
    presence = PresenceService(
        core.sharing.presence_store,
        core.hub,
        core.bus,
        describe_users=accounts.public_users,
        clock=core.clock,
    )
    safety = _build_safety(core, audit, access, presence, notifier, restrictions)
    meetings = MeetingService(core.sessions, core.clock, access, notifier, audit)
    # A meeting room's history may open with its current session (rooms/visibility.py).
    access.history.session_opened = meetings.session_opened
    presence.listeners.append(AttendanceTracker(core.sessions, core.clock, access.rooms))
    rooms = RoomService(
        sessions=core.sessions,
        clock=core.clock,
        hub=core.hub,
        bus=core.bus,
        presence=presence,
        access=access,
        audit=audit,
        throttle=core.sharing.throttle,
        typing_interval_s=settings.typing_throttle_s,
        reaction_emojis=tuple(settings.reaction_emojis),
    )
    messages = MessageService(
        sessions=core.sessions,
        clock=core.clock,
        hub=core.hub,
        access=access,
        audit=audit,
        edit_window=timedelta(minutes=settings.edit_window_minutes),
        reaction_emojis=tuple(settings.reaction_emojis),
        gates_before_turn=[safety.crisis_gate, safety.rate_limit_gate],
        gates=_send_pipeline(safety, MeetingWindowGate(meetings)),
        listeners=[
            safety.crisis,
            safety.contact_gate,
            StoredSendCounter(core.metrics.messages_stored.inc),
        ],
        writer=hot_writer_for(
            core.engine,
            room_store.ROOM_TURN,
            deadlines=database_deadlines(core.settings),
        ),
    )
    accounts.access_listeners.append(rooms.access_changed)
    # Live unread counts outside the rooms one is in (rooms/activity.py).
    activity = RoomActivity(
        core.sessions,
        core.clock,
        core.hub,
        access,
        may_follow=consent_given(consent),
        frames_per_s=core.settings.room_activity_frames_per_s,
    )
    app[ACTIVITY] = activity
    messages.listeners.append(activity)
    rooms.access_changed_here.append(activity.access_changed_here)
    accounts.close_sockets = socket_closer(core.sharing.bus, core.hub, core.sio)
    accounts.audit = audit
    manager = core.sharing.client_manager
    if isinstance(manager, ResilientRedisManager):
        manager.after_outage.append(
            OutageCatchUp(core.hub, messages, manager.deliver_here, rooms.recheck_room_here)
        )

    # "Last seen" on a person's page (accounts/people.py).
    last_seen = LastSeen(core.sessions, core.clock)
    app[LAST_SEEN] = last_seen
    messages.listeners.append(last_seen)
    register_connection_events(
        core.sio,
        core.hub,
        accounts.actor_for_token,
        on_connected=[
            safety.alerts.desk.connected,
            safety.alerts.send_open_alerts,
            activity.connected,
            last_seen.connected,
        ],
        on_disconnected=[
            presence.exit_all,
            safety.alerts.desk.disconnected,
            last_seen.disconnected,
        ],
    )
    router = EventRouter(
        core.sio,
        core.hub,
        EventDeadlines(any_s=settings.event_deadline_s, in_order_s=settings.send_deadline_s),
        observe=core.metrics.observe_event,
        limit=action_limit(core),
        gate=consent_gate(consent, safety.crisis.classifier),
        admission=Admission(
            settings.send_max_in_flight, urgent=in_crisis_words(safety.crisis.classifier)
        ),
    )
    register_room_events(router, rooms, messages)
    register_pin_events(router, PinService(core.sessions, core.clock, core.hub, access, audit))
    app[EVENTS] = router

    notifications = _build_notifications(core, access, presence, safety.alerts)
    app[NOTIFICATIONS] = notifications
    messages.listeners.append(notifications)
    safety.alerts.announce_listeners.append(notifications.alert_announced)
    safety.alerts.reraise_listeners.append(notifications.alert_raised_again)
    meetings.change_listeners.append(notifications.meeting_changed)

    app[PRESENCE] = presence
    app[ACCOUNTS] = accounts
    app[PROFILES] = ProfileService(
        accounts,
        core.hub,
        core.sharing.rate_limiter,
        rooms.room_ids_open_to,
        # Live connections speak with the person's name: they take up a new one as they
        # take up a graduation.
        listeners=[rooms.access_changed],
    )
    app[PEOPLE] = PeopleService(
        accounts,
        facts=[safety.restrictions.on_person, meetings.attended_by, notifications.channels_of],
    )
    app[ROOMS] = rooms
    app[MESSAGES] = messages
    app[SEARCH] = MessageSearch(
        core.sessions,
        access,
        search_index_for(core.engine.dialect.name),
        search_indexing_for(messages.writer, core.clock),
    )
    app[RESTRICTIONS] = safety.restrictions
    app[REPORTS] = safety.reports
    app[ALERTS] = safety.alerts
    app[SUPPORT] = SupportConversations(core.sessions, core.clock, notifier, audit)
    app[AUDIT] = audit_log
    app[MEETINGS] = meetings
    app[ATTENDANCE] = AttendanceReports(core.sessions, core.clock, meetings)
    app[CALENDARS] = CalendarFeeds(core.sessions, core.clock, meetings)
    app[MEETING_CLOCK] = MeetingClock(
        core.sessions, core.clock, notifier, access, settings.meeting_tick_s
    )
    video = _build_video(core, meetings, notifier, audit)
    if video is not None:
        app[VIDEO] = video
        app[MEETING_CLOCK].on_transition.append(video.transition)
        safety.restrictions.on_removal.append(video.person_removed)
        accounts.access_listeners.append(video.access_changed)
        accounts.deactivation_listeners.append(video.account_deactivated)
    app[OPERATIONS] = _build_operations(core, safety.alerts, video)
    app[RETENTION] = Retention(core.sessions, core.clock, audit, policy_from(settings))
    app[LEGAL_HOLDS] = LegalHolds(core.sessions, core.clock, audit)
    app[CONSENT] = consent
    app[ACCESS_AUDIT] = AccessAudit(core.sessions, core.clock)
    # Staff reads of people's records are recorded as their answers go out (a signal, not a
    # middleware: a middleware's frame stays for as long as a websocket is open).
    app.on_response_prepare.append(app[ACCESS_AUDIT].on_response)
    app[EXPORTS] = PersonalExports(
        core.sessions,
        core.clock,
        audit,
        timedelta(days=settings.export_expiry_days),
        access_audit=app[ACCESS_AUDIT],
    )
    app[ERASURES] = Erasures(
        core.sessions,
        core.clock,
        audit,
        core.hub,
        accounts,
        forget_room=access.rooms.changed,
        replace_messages=settings.erasure_messages == "replace",
    )
    accounts.reactivation_guards.append(app[ERASURES].refuse_reactivation)
    add_account_routes(app)
    add_room_routes(app)
    add_moderation_routes(app)
    add_meeting_routes(app)
    add_video_routes(app)
    add_notification_routes(app)
    add_digest_routes(app)
    add_operations_routes(app)
    add_retention_routes(app)
    add_consent_routes(app)
    add_access_audit_routes(app)
    add_export_routes(app)
    add_erasure_routes(app)
    add_reference_routes(app)
    # Browsers in a video call talk to the media server's WebSocket too.
    media = (settings.janus_ws_url,) if video is not None and settings.janus_ws_url else ()
    add_web_routes(app, settings.web_dir, connect_sources=media)
    _run_while_serving(app, messages)
    if owns_process:
        app.on_startup.append(freeze_startup_objects)
        app.cleanup_ctx.append(give_back_freed_memory(core.clock))
    app.on_shutdown.append(_close_sockets)
    return app


@dataclass(frozen=True)
class Safety:
    """Moderation: the services behind its endpoints, and what it adds to the send pipeline."""

    restrictions: RestrictionService
    reports: ReportService
    alerts: AlertService
    crisis_gate: CrisisGate
    mute_gate: MuteGate
    flood_gates: list[PostGate]
    rate_limit_gate: PostGate
    content_gates: list[PostGate]
    # Listens for stored posts too, to record a masking once.
    contact_gate: ContactGate
    crisis: CrisisResponder


def _send_pipeline(safety: Safety, meeting_window: PostGate) -> list[PostGate]:
    """The gates a send passes in its room's turn; the crisis gate and the rate limit come
    before the turn, crisis first: every later gate lets a crisis post through."""
    return [
        safety.mute_gate,
        RoomLockGate(),
        meeting_window,
        *safety.flood_gates,
        *safety.content_gates,
    ]


def _build_safety(
    core: Core,
    audit: AuditSink,
    access: RoomAccess,
    presence: PresenceService,
    notifier: Notifier,
    restriction_cache: RestrictionCache,
) -> Safety:
    settings = core.settings
    webhook = (
        AlertWebhook(
            settings.alert_webhook_url,
            attempts=settings.alert_webhook_attempts,
            backoff_s=settings.alert_webhook_backoff_s,
        )
        if settings.alert_webhook_url
        else None
    )
    alerts = AlertService(
        sessions=core.sessions,
        clock=core.clock,
        hub=core.hub,
        audit=audit,
        desk=StaffDesk(core.sessions, core.clock, presence.store, audit, core.bus),
        raise_again_after=timedelta(minutes=settings.alert_reraise_minutes),
        check_interval_s=settings.alert_check_interval_s,
        webhook=webhook,
        on_call=settings.on_call,
        page_next_after=timedelta(minutes=settings.on_call_page_next_minutes),
    )
    reports = ReportService(
        core.sessions, core.clock, access, alerts, audit, limit=action_limit(core)
    )
    alerts.report_alert_listeners.append(reports.resolve_with_its_alert)
    contact_gate = ContactGate(audit)
    classifier = crisis_classifier(settings)
    return Safety(
        restrictions=RestrictionService(
            core.sessions, core.clock, access, presence, notifier, audit, restriction_cache
        ),
        mute_gate=MuteGate(restriction_cache),
        reports=reports,
        alerts=alerts,
        crisis_gate=CrisisGate(classifier),
        flood_gates=[SlowModeGate()],
        rate_limit_gate=RateLimitGate(
            core.sharing.rate_limiter,
            settings.rate_limit_per_minute,
            settings.rate_limit_burst,
        ),
        content_gates=[
            BlockedTermsGate(TermBlocker(settings.blocked_terms), audit),
            contact_gate,
        ],
        contact_gate=contact_gate,
        crisis=CrisisResponder(
            classifier,
            alerts,
            notifier,
            audit,
            settings.crisis_resources,
            settings.crisis_resources_by_category,
            settings.crisis_notice,
            outside_alerts=core.sharing.throttle,
            clock=core.clock,
        ),
    )


def in_crisis_words(classifier: Classifier) -> Callable[[str, InputModel], bool]:
    """Whether an event is a message the crisis detector takes for an alarm: it passes every
    limit (it is stored, its writer shown resources and staff alerted)."""

    def urgent(_event: str, data: InputModel) -> bool:
        if not isinstance(data, SendIn):
            return False
        detection = classifier.detect(data.body)
        return detection is not None and detection.alarm

    return urgent


def consent_gate(consent: ConsentBook, classifier: Classifier) -> EventGate:
    """Events wait for the consent notice in force to be accepted, but for a message in crisis
    words. Nobody in crisis is held at a notice."""
    urgent = in_crisis_words(classifier)

    async def gate(actor: Actor, event: str, data: InputModel) -> None:
        # The detector only for those the notice would hold (or whose check failed): run
        # first, it ran on every send beside the crisis gate's own run, 5 % of the server's
        # CPU at 500 messages a second.
        try:
            await consent.require(actor)
        except Exception:
            if urgent(event, data):
                return
            raise

    return gate


def consent_given(consent: ConsentBook) -> MayFollow:
    """Whether a person has accepted the consent notice in force (remembered per process)."""

    async def given(user_id: int) -> bool:
        return await consent.version_due(user_id) is None

    return given


def action_limit(core: Core) -> EventLimit:
    settings = core.settings
    return EventLimit(
        core.sharing.rate_limiter,
        core.clock,
        settings.action_rate_per_minute,
        settings.action_burst,
    )


def crisis_classifier(settings: Settings) -> Classifier:
    """The shipped detector, or the operator's (`crisis_classifier`), with the operator's own
    phrases (`crisis_patterns`) beside it when there are any."""
    chosen = (
        load_classifier(settings.crisis_classifier)
        if settings.crisis_classifier
        else CrisisClassifier()
    )
    if not settings.crisis_patterns:
        return chosen
    phrases = CrisisDetector(settings.crisis_patterns, settings.crisis_exclusions or [])
    return FirstAlarm([chosen, OperatorPhrases(phrases)])


def _build_core(settings: Settings, clock: Clock) -> Core:
    engine = create_engine(
        settings.database_url, echo=settings.database_echo, deadlines=database_deadlines(settings)
    )
    sharing = _build_sharing(settings, clock)
    metrics = Metrics()
    sio = SocketServer(
        async_mode="aiohttp",
        client_manager=sharing.client_manager,
        logger=False,
        engineio_logger=False,
        json=FastJson,
        on_malformed=metrics.malformed_frames.inc,
        slow_clients=SlowClients(
            BacklogLimit(settings.client_backlog_messages, settings.client_backlog_bytes),
            on_cut_off=metrics.slow_clients_cut_off.inc,
        ),
    )
    return Core(
        settings=settings,
        clock=clock,
        engine=engine,
        sessions=create_session_factory(engine),
        sio=sio,
        hub=Hub(sio, count_deliveries=metrics.deliveries.inc),
        sharing=sharing,
        metrics=metrics,
    )


def database_deadlines(settings: Settings) -> Deadlines:
    return Deadlines(
        connect_s=settings.database_connect_timeout_s,
        statement_s=settings.database_statement_timeout_s,
    )


def _build_sharing(settings: Settings, clock: Clock) -> Sharing:
    if settings.redis_url is None:
        return Sharing(
            InProcessPresenceStore(),
            InProcessThrottle(),
            InProcessRateLimiter(),
            ControlBus(),
            LocalManager(),
        )
    prefix = settings.redis_prefix
    timeout_s = settings.redis_command_timeout_s
    commands = connect_redis(settings.redis_url, timeout_s)
    listener = connect_redis(settings.redis_url, timeout_s, for_subscribing=True)
    health = RedisHealth(probe=commands.ping)
    return Sharing(
        presence_store=RedisPresenceStore(
            commands, prefix, uuid.uuid4().hex, settings.presence_ttl_s, health
        ),
        throttle=RedisThrottle(commands, prefix, health),
        rate_limiter=RedisRateLimiter(commands, prefix, health),
        bus=RedisControlBus(commands, listener, f"{prefix}:bus", health),
        client_manager=ResilientRedisManager(
            channel=f"{prefix}:socketio",
            health=health,
            publisher=commands,
            listener=listener,
            clock=clock,
        ),
        redis_clients=(commands, listener),
        redis_health=health,
    )


def installation_secret(settings: Settings) -> str:
    return (
        settings.secret_key.get_secret_value()
        if settings.secret_key is not None
        else load_or_create_secret(settings.secret_key_file)
    )


def _build_accounts(core: Core, notifier: Notifier) -> AccountService:
    settings = core.settings
    secret = installation_secret(settings)
    return AccountService(
        sessions=core.sessions,
        passwords=Passwords(
            time_cost=settings.password_hash_time_cost,
            memory_kib=settings.password_hash_memory_kib,
            parallelism=settings.password_hash_parallelism,
        ),
        tokens=TokenIssuer(secret, timedelta(hours=settings.token_ttl_hours)),
        kept_tokens=TokenIssuer(secret, timedelta(minutes=settings.kept_token_ttl_minutes)),
        remember_for=timedelta(days=settings.remember_days),
        clock=core.clock,
        password_min_length=settings.password_min_length,
        invite_default_hours=settings.invite_default_hours,
        notifier=notifier,
        throttle=SignInThrottle(
            core.sharing.rate_limiter,
            core.clock,
            per_account=Allowance(
                settings.signin_failures_per_account, settings.signin_account_refill_s
            ),
            per_address=Allowance(
                settings.signin_failures_per_address, settings.signin_address_refill_s
            ),
        ),
    )


def _build_notifications(
    core: Core, access: RoomAccess, presence: PresenceService, alerts: AlertService
) -> Notifications:
    """Web Push (docs/notifications.md); the VAPID key is made on first start."""
    settings = core.settings
    return Notifications(
        core.sessions,
        core.clock,
        access,
        load_or_create_vapid_key(settings.vapid_private_key_file),
        settings.vapid_subject,
        PushPolicy(tuple(settings.push_service_hosts), settings.push_allow_http),
        presence.online_user_ids,
        alerts.desk.on_duty,
        reminder_tick_s=settings.reminder_tick_s,
        mail=_build_mail(settings),
        digest_hour=settings.digest_hour,
    )


def _build_mail(settings: Settings) -> MailChannel | None:
    """Email, when the settings name an SMTP server (docs/notifications.md)."""
    if settings.smtp_host is None:
        return None
    if settings.public_url is None:
        raise ValueError("smtp_host needs public_url: the address links in mails point to")
    password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
    config = MailConfig(
        settings.smtp_host,
        settings.smtp_port,
        settings.smtp_username,
        password,
        settings.smtp_security,
        settings.mail_from,
    )
    # Links in mails are signed with a key of their own, derived from the installation's.
    link_key = hmac.new(installation_secret(settings).encode(), b"mail-links", "sha256").digest()
    return MailChannel(
        Mailer(config), settings.public_url, tuple(settings.on_call_emails), link_key
    )


def _build_video(
    core: Core, meetings: MeetingService, notifier: Notifier, audit: AuditSink
) -> VideoSessions | None:
    """Video sessions on Janus, when the settings name one (docs/video.md)."""
    settings = core.settings
    secrets_given = (
        settings.janus_api_secret,
        settings.janus_admin_secret,
        settings.janus_admin_key,
    )
    if settings.janus_url is None:
        return None
    if settings.janus_admin_url is None or settings.janus_ws_url is None or None in secrets_given:
        raise ValueError(
            "janus_url needs janus_admin_url, janus_ws_url, janus_api_secret,"
            " janus_admin_secret and janus_admin_key (docs/video.md)"
        )
    api_secret, admin_secret, admin_key = (s.get_secret_value() for s in secrets_given if s)
    config = JanusConfig(
        settings.janus_url, settings.janus_admin_url, api_secret, admin_secret, admin_key
    )

    def ice_servers(user_id: int, now: datetime) -> list[dict[str, Any]]:
        # A TURN credential of the person's own, expiring after turn_ttl_s, on each pass.
        return ice_servers_with_turn(
            settings.video_ice_servers,
            settings.turn_urls,
            settings.turn_secret,
            user_id=user_id,
            now=now,
            ttl_s=settings.turn_ttl_s,
        )

    return VideoSessions(
        meetings,
        core.sessions,
        core.clock,
        core.hub,
        notifier,
        audit,
        config,
        settings.janus_ws_url,
        ice_servers,
        settings.video_max_participants,
        poll_s=settings.video_presence_poll_s,
    )


def _run_while_serving(app: web.Application, messages: MessageService) -> None:
    """Each resource in a cleanup context of its own, started in this order and closed in
    the reverse (kernel/lifetime.py): the database first, the loops that use it last."""
    core = app[CORE]
    app.cleanup_ctx.append(lambda _app: _schema_checked_database(core))
    for client in core.sharing.redis_clients:
        app.cleanup_ctx.append(closed_after_serving(client.aclose))
    if core.sharing.redis_health is not None:
        app.cleanup_ctx.append(while_serving(core.sharing.redis_health))
    if isinstance(core.sharing.client_manager, ResilientRedisManager):
        app.cleanup_ctx.append(while_serving(core.sharing.client_manager))
    app.cleanup_ctx.extend(
        [
            closed_after_serving(messages.writer.close),
            while_serving(app[SEARCH].indexing),
            while_serving(core.bus),
            while_serving(app[CONSENT]),
            while_serving(app[PRESENCE]),
            while_serving(app[ACTIVITY]),
            while_serving(app[LAST_SEEN]),
            while_serving(app[ALERTS]),
            while_serving(app[MEETING_CLOCK]),
            while_serving(app[NOTIFICATIONS]),
            while_serving(app[RETENTION]),
            while_serving(app[EXPORTS]),
        ]
    )
    if VIDEO in app:
        # Before the meeting clock, which tells it of ended occurrences, and closed after.
        app.cleanup_ctx.insert(len(app.cleanup_ctx) - 1, while_serving(app[VIDEO]))


@asynccontextmanager
async def _schema_checked_database(core: Core) -> AsyncIterator[None]:
    """Serving starts on a database at this peerrooms' schema; the pool closes last."""
    try:
        await bring_schema_up_to_date(core)
        yield
    finally:
        await core.engine.dispose()


async def _close_sockets(app: web.Application) -> None:
    """On SIGTERM (after the listening socket closed): finish and ack the events under way,
    refuse new ones, then close every socket so clients reconnect to another process."""
    core = app[CORE]
    await app[EVENTS].drain(core.settings.shutdown_grace_s)
    await core.hub.disconnect_all(CLOSE_FLUSH_S)
    await app[CORE].sio.shutdown()


async def bring_schema_up_to_date(core: Core) -> None:
    if core.settings.migrates_on_start:
        await upgrade_to_head(core.engine)
        return
    current, head = await current_revision(core.engine), head_revision()
    if current != head:
        raise RuntimeError(
            f"The database schema is at revision {current}, this peerrooms needs {head}:"
            " run `peerrooms db upgrade` first."
        )


def _build_operations(core: Core, alerts: AlertService, video: VideoSessions | None) -> Operations:
    checks: dict[str, Check] = {"database": lambda: ping(core.engine)}
    reported: dict[str, Check] = {"media": video.ping} if video is not None else {}
    if core.sharing.redis_clients:
        checks["redis"] = core.sharing.redis_clients[0].ping

    async def refresh() -> None:
        metrics = core.metrics
        metrics.connected_sockets.set(core.hub.connection_count())
        metrics.room_memberships.set(core.hub.membership_count())
        metrics.open_alerts.set(await alerts.open_count())
        health = core.sharing.redis_health
        metrics.redis_errors.set(health.errors if health else 0)
        manager = core.sharing.client_manager
        if isinstance(manager, ResilientRedisManager):
            metrics.pubsub_received.set(manager.stats.received)
            metrics.pubsub_delivered.set(manager.stats.delivered)
            metrics.pubsub_channels.set(manager.channels)

    token = core.settings.metrics_token
    return Operations(
        core.metrics,
        checks,
        refresh,
        token.get_secret_value() if token is not None else None,
        reported,
    )
