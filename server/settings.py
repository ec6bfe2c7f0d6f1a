"""Every setting peerrooms has, read once from config/peerrooms.toml and PEERROOMS_* variables.

Precedence, highest first: values passed to ``Settings(...)``, environment variables,
the TOML file, the defaults below. ``load_settings`` is the only place that reads the
environment; everything else receives a ``Settings`` instance from the composition root.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

DEFAULT_CONFIG_FILE = Path("config/peerrooms.toml")

# A small, calm default set: reactions in a therapy group should read as support, not as votes.
DEFAULT_REACTIONS = ["👍", "❤️", "🙏", "💪", "🤗", "😢", "😂", "🎉"]


# United States defaults (DOMAIN.md); a deployment elsewhere sets its own in the config file.
DEFAULT_CRISIS_RESOURCES = [
    {"name": "988 Suicide & Crisis Lifeline", "contact": "Call or text 988"},
    {"name": "SAMHSA National Helpline", "contact": "1-800-662-4357 (free, confidential, 24/7)"},
    {"name": "Emergency services", "contact": "Call 911"},
]


# What each kind of crisis is shown first, by the detector's categories (issue #16). An
# entry marked `emergency` goes to the top when the message speaks of danger now.
DEFAULT_CRISIS_RESOURCES_BY_CATEGORY: dict[str, list[dict[str, Any]]] = {
    "suicide": [
        {"name": "988 Suicide & Crisis Lifeline", "contact": "Call or text 988"},
        {"name": "Crisis Text Line", "contact": "Text HOME to 741741"},
        {"name": "Emergency services", "contact": "Call 911", "emergency": True},
    ],
    "self_harm": [
        {"name": "988 Suicide & Crisis Lifeline", "contact": "Call or text 988"},
        {"name": "Crisis Text Line", "contact": "Text HOME to 741741"},
        {"name": "Emergency services", "contact": "Call 911", "emergency": True},
    ],
    "overdose": [
        {
            "name": "Emergency services",
            "contact": "Call 911. Give naloxone (Narcan) if you have it, and stay with them.",
            "emergency": True,
        },
        {"name": "Poison Control", "contact": "1-800-222-1222 (free, 24/7)"},
        {
            "name": "Never Use Alone",
            "contact": (
                "1-800-484-3731: someone stays on the line and sends help if you stop answering"
            ),
        },
    ],
    "medical": [
        {"name": "Emergency services", "contact": "Call 911", "emergency": True},
        {"name": "Poison Control", "contact": "1-800-222-1222 (free, 24/7)"},
    ],
    "relapse": [
        {
            "name": "SAMHSA National Helpline",
            "contact": "1-800-662-4357 (free, confidential, 24/7)",
        },
        {
            "name": "Never Use Alone",
            "contact": "1-800-484-3731. After a break your tolerance is lower: keep naloxone near.",
        },
        {"name": "988 Suicide & Crisis Lifeline", "contact": "Call or text 988"},
        {"name": "Emergency services", "contact": "Call 911", "emergency": True},
    ],
}


class CrisisResource(BaseModel):
    name: str
    contact: str
    # Shown first when the message speaks of danger now (911 for an overdose in progress).
    emergency: bool = False


class CrisisNoticeTexts(BaseModel):
    """What the writer of a crisis message is told, by who the alert reached (alerts.Reach):
    never that someone was told when nobody was. The resources are listed below it."""

    on_duty: str = (
        "You don't have to face this alone. A member of staff on duty has been alerted and will"
        " reach out to you here. If you are in danger right now, call 911."
    )
    staff_online: str = (
        "You don't have to face this alone. Staff who are online now have been alerted and will"
        " reach out to you here. If you are in danger right now, call 911."
    )
    on_call: str = (
        "You don't have to face this alone. No staff are online right now, so we are contacting"
        " the clinician on call. Please don't wait for them if you are in danger: call 911, or"
        " call or text 988."
    )
    nobody: str = (
        "You don't have to face this alone, and you can talk to someone right now: call or text"
        " 988, or call 911 if you are in danger. No staff are online at the moment; they will"
        " see your message when they are next here."
    )

    # Crisis text to a room the writer may not enter, within the hour of an alert already
    # raised for it: no new alert (server/moderation/filters.py), and the writer is told so.
    already_alerted: str = (
        "You don't have to face this alone. Staff were alerted a short while ago and will reach"
        " out. If you are in danger right now, call 911, or call or text 988."
    )

    def for_reach(self, reached: str) -> str:
        return str(getattr(self, reached, self.nobody))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PEERROOMS_", extra="ignore")
    # A class attribute because pydantic-settings builds its sources from the class;
    # load_settings subclasses to point it elsewhere. Plain Settings() reads no file.
    config_file: ClassVar[Path | None] = None

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    database_url: str = "sqlite+aiosqlite:///./data/peerrooms.db"
    database_echo: bool = False
    # Bring the schema up to date on start. Unset: yes for SQLite (the embedded default),
    # no otherwise: run `peerrooms db upgrade` as a release step.
    database_migrate_on_start: bool | None = None
    # PostgreSQL deadlines (kernel/db.py: Deadlines): connecting or taking a pooled
    # connection, one statement, and a send's whole turn on the hot path.
    database_connect_timeout_s: float = Field(default=2.0, gt=0)
    database_statement_timeout_s: float = Field(default=10.0, gt=0)
    # How long a Socket.IO event may take, from its arrival to its answer, before the client
    # is told `unavailable` (realtime/router.py: EventDeadlines); sends, which queue behind a
    # connection's earlier sends, have the shorter one.
    event_deadline_s: float = Field(default=3.0, gt=0)
    send_deadline_s: float = Field(default=0.8, gt=0)
    # Sends under way on one process past which new ones are refused at once with
    # `overloaded` (realtime/router.py: Admission); crisis words are always taken. At the
    # ceilings measured here (800-1,700 sends/s) 100 is 60-125 ms of queue.
    send_max_in_flight: int = Field(default=100, ge=1)
    # Room activity (live unread counts in the room list) this process hands its sockets in
    # a second, at most: a frame costs about as much as a message delivery, and a room's
    # activity reaches everyone who may read it. Past this, busy rooms are told of less
    # often than once a second each (rooms/activity.py).
    room_activity_frames_per_s: float = Field(default=1000.0, gt=0)
    redis_url: str | None = None
    redis_prefix: str = "peerrooms"
    # The longest any Redis call may wait (a hung Redis): past it the call fails, Redis is
    # taken for down, and this process carries on alone until a probe gets an answer.
    redis_command_timeout_s: float = Field(default=0.5, gt=0, le=10)
    presence_ttl_s: int = Field(default=30, ge=2)
    secret_key: SecretStr | None = None
    secret_key_file: Path = Path("./data/secret.key")
    token_ttl_hours: float = Field(default=24.0, gt=0)
    # "Keep me signed in on this device": the renewal cookie lasts this long after the device
    # last used it, and the tokens it renews are short-lived (the page renews them as needed).
    remember_days: float = Field(default=30.0, gt=0, le=365)
    kept_token_ttl_minutes: float = Field(default=60.0, gt=0)
    password_min_length: int = Field(default=10, ge=8)
    # argon2id cost; the defaults are argon2-cffi's (RFC 9106 low-memory profile).
    password_hash_time_cost: int = Field(default=3, ge=1)
    password_hash_memory_kib: int = Field(default=65536, ge=1024)
    password_hash_parallelism: int = Field(default=4, ge=1)
    # Failed sign-ins: this many at once per account (and per address), then one more every
    # so many seconds; answered 429 `rate_limited` with `retry_after_s` meanwhile.
    signin_failures_per_account: int = Field(default=5, ge=1)
    signin_account_refill_s: float = Field(default=60.0, gt=0)
    signin_failures_per_address: int = Field(default=20, ge=1)
    signin_address_refill_s: float = Field(default=6.0, gt=0)
    invite_default_hours: float = Field(default=72.0, gt=0)
    edit_window_minutes: float = Field(default=15.0, ge=0)
    typing_throttle_s: float = Field(default=3.0, ge=0)
    reaction_emojis: list[str] = Field(default_factory=lambda: list(DEFAULT_REACTIONS))
    rate_limit_per_minute: float = Field(default=30.0, gt=0)
    rate_limit_burst: int = Field(default=10, ge=1)
    # Every other state-changing or costly action (join, leave, edit, delete, react, history,
    # reports), per user and kind: this burst, then this many a minute.
    action_rate_per_minute: float = Field(default=60.0, gt=0)
    action_burst: int = Field(default=30, ge=1)
    # The crisis detector: unset, the shipped one (server/moderation/crisis/); or
    # "package.module:factory" for an operator's own, whose factory takes no argument and
    # answers an object with detect(text) (the crisis.detector.Classifier protocol).
    crisis_classifier: str | None = None
    # An operator's own crisis phrases (server/moderation/matching.py's syntax), alarming
    # beside the detector; their exclusions. Unset: none.
    crisis_patterns: list[str] | None = None
    crisis_exclusions: list[str] | None = None
    blocked_terms: list[str] = Field(default_factory=list)
    crisis_resources: list[CrisisResource] = Field(
        default_factory=lambda: [CrisisResource(**r) for r in DEFAULT_CRISIS_RESOURCES]
    )
    # Per crisis category (suicide, self_harm, overdose, medical, relapse); a category not
    # named here is shown `crisis_resources`.
    crisis_resources_by_category: dict[str, list[CrisisResource]] = Field(
        default_factory=lambda: {
            category: [CrisisResource(**r) for r in resources]
            for category, resources in DEFAULT_CRISIS_RESOURCES_BY_CATEGORY.items()
        }
    )
    crisis_notice: CrisisNoticeTexts = Field(default_factory=CrisisNoticeTexts)
    alert_reraise_minutes: float = Field(default=5.0, gt=0)
    alert_check_interval_s: float = Field(default=15.0, gt=0)
    alert_webhook_url: str | None = None
    alert_webhook_attempts: int = Field(default=5, ge=1, le=20)
    alert_webhook_backoff_s: float = Field(default=1.0, ge=0)
    # Names or handles the paging system behind alert_webhook_url knows, in the order to page
    # them about a crisis alert raised while no staff is online; the next is paged when the
    # last has not acknowledged within on_call_page_next_minutes. Needs the webhook.
    on_call: list[str] = Field(default_factory=list)
    on_call_page_next_minutes: float = Field(default=10.0, gt=0)
    meeting_tick_s: float = Field(default=5.0, gt=0)
    # What may wait to be written to one client that is not reading; past either bound it is
    # disconnected (it catches up with `since` when it returns).
    client_backlog_messages: int = Field(default=1000, ge=10)
    client_backlog_bytes: int = Field(default=1_048_576, ge=65_536)
    # On SIGTERM: how long events under way may finish before every connection is closed,
    # and closed by force a second later whatever the clients do.
    shutdown_grace_s: float = Field(default=10.0, ge=0)
    # The event loop of `peerrooms serve`: auto takes uvloop when it is installed.
    event_loop: Literal["auto", "uvloop", "asyncio"] = "auto"
    # The built browser client (`npm run build` in web/), served at `/`.
    web_dir: Path = Path("web/dist")
    # The bearer token a Prometheus scraper shows for /metrics; unset, only a direct request
    # from this machine may read them.
    metrics_token: SecretStr | None = None
    # Video sessions on a Janus WebRTC server (docs/video.md); unset janus_url: none.
    # The server uses the HTTP API (api_secret) and the admin API (admin_secret); the video
    # room plugin's admin_key keeps room creation to the server; browsers connect to
    # janus_ws_url with a token of their own and use these ICE servers (TURN in production).
    janus_url: str | None = None
    janus_admin_url: str | None = None
    janus_api_secret: SecretStr | None = None
    janus_admin_secret: SecretStr | None = None
    janus_admin_key: SecretStr | None = None
    janus_ws_url: str | None = None
    video_ice_servers: list[dict[str, Any]] = Field(default_factory=list)
    video_max_participants: int = Field(default=16, ge=2, le=100)
    # TURN for patients whose network lets no media through to Janus (strict NATs, hospital
    # Wi-Fi): each pass carries a credential for these URLs that expires after turn_ttl_s,
    # signed with coturn's static-auth-secret (server/media/turn.py, docs/video-deploy.md), so
    # no lasting TURN password ever reaches a browser. Unset either: no TURN entry.
    turn_urls: list[str] = Field(default_factory=list)
    turn_secret: SecretStr | None = None
    turn_ttl_s: int = Field(default=6 * 3600, ge=60, le=86400)
    # How often the server asks Janus who is in each open call, for attendance.
    video_presence_poll_s: float = Field(default=15.0, gt=0, le=300)
    # Web Push (docs/notifications.md). The VAPID key is made on first start and kept here:
    # browsers subscribe with its public half, so losing it orphans every subscription.
    vapid_private_key_file: Path = Path("./data/vapid.pem")
    # Who push services may contact about this installation's pushes (RFC 8292).
    vapid_subject: str = "mailto:admin@localhost"
    # The push services the server posts to; a subscription elsewhere is refused, so nobody
    # can make the server post to an address of their choosing. "*.domain": its subdomains.
    push_service_hosts: list[str] = Field(
        default_factory=lambda: [
            "fcm.googleapis.com",
            "updates.push.services.mozilla.com",
            "web.push.apple.com",
            "*.notify.windows.com",
        ]
    )
    # Plain-HTTP endpoints, for a test's push service on loopback only.
    push_allow_http: bool = False
    # How often each process looks for session reminders and daily digests that are due.
    reminder_tick_s: float = Field(default=30.0, gt=0, le=600)
    # Email (docs/notifications.md): unset smtp_host, none. public_url is where the links in
    # mails point (the address people open peerrooms at), needed with smtp_host.
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_security: Literal["none", "starttls", "tls"] = "starttls"
    mail_from: str = "peerrooms <no-reply@localhost>"
    public_url: str | None = None
    # Addresses told by email of each crisis alert (no name, no words: where to look).
    on_call_emails: list[str] = Field(default_factory=list)
    # The hour (0-23) of each person's own clock (their notification `timezone`) at which the
    # daily email digest of what they missed goes to those who asked for it.
    digest_hour: int = Field(default=7, ge=0, le=23)
    # Retention (docs/privacy.md): days each class of record is kept, 0 for ever (the default:
    # a clinic decides what peerrooms deletes). Messages by their room's kind (private support
    # conversations whatever their kind); closed crisis and report alerts and the reports
    # with them; the audit log. A run every interval deletes what is due, in batches.
    retention_group_days: int = Field(default=0, ge=0, le=36500)
    retention_peer_days: int = Field(default=0, ge=0, le=36500)
    retention_meeting_days: int = Field(default=0, ge=0, le=36500)
    retention_support_days: int = Field(default=0, ge=0, le=36500)
    retention_alert_days: int = Field(default=0, ge=0, le=36500)
    retention_audit_days: int = Field(default=0, ge=0, le=36500)
    retention_interval_hours: float = Field(default=24.0, gt=0, le=24 * 31)
    retention_batch_size: int = Field(default=500, ge=1, le=10_000)
    # A person's export (docs/privacy.md): days a made export may be downloaded before it is
    # deleted.
    export_expiry_days: float = Field(default=7.0, gt=0, le=90)
    # Erasure: what becomes of an erased person's messages. "replace": their text becomes
    # "Removed at the member's request." and clients show them removed; "keep": they stay as
    # written, under the pseudonym, for a program that must keep its records.
    erasure_messages: Literal["replace", "keep"] = "replace"
    # The program's consent notice (docs/privacy.md, "Consent"): a UTF-8 text or Markdown file,
    # shown as written. Unset: the default notice shipped in server/privacy/consent_notice.md.
    # Its version is its content's SHA-256: any edit asks everyone to accept it again.
    consent_file: Path | None = None
    log_level: str = "INFO"
    log_format: Literal["plain", "json"] = "plain"

    @field_validator("redis_url", "alert_webhook_url", "janus_url", "smtp_host", mode="before")
    @classmethod
    def _empty_means_unset(cls, value: Any) -> Any:
        return None if value == "" else value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if cls.config_file is not None and cls.config_file.is_file():
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=cls.config_file))
        return tuple(sources)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def migrates_on_start(self) -> bool:
        if self.database_migrate_on_start is None:
            return self.is_sqlite
        return self.database_migrate_on_start


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build the one Settings object of a process.

    The file is ``config_file``, else ``$PEERROOMS_CONFIG``, else config/peerrooms.toml when
    it exists.
    """
    chosen = config_file or Path(os.environ.get("PEERROOMS_CONFIG", DEFAULT_CONFIG_FILE))

    class SettingsFromFile(Settings):
        config_file: ClassVar[Path | None] = chosen

    return SettingsFromFile(**overrides)
