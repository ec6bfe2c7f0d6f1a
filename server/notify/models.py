"""Notification tables (push subscriptions, each person's settings, rooms followed, what was
sent) and the validated inputs of the notification endpoints."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field as InputField
from pydantic import StringConstraints, field_validator, model_validator
from sqlalchemy import Column
from sqlmodel import Field, SQLModel

from server.kernel.db import UTCDateTime
from server.kernel.validation import InputModel

# Lead times a person may choose for session reminders, in minutes; 0: no reminders.
MAX_REMINDER_MINUTES = 24 * 60
DEFAULT_REMINDER_MINUTES = 15
WALL_CLOCK = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
# One @, something on each side, a dot in the domain, no spaces: the mailbox itself is proven
# by the confirmation mail, not by a pattern.
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class PushSubscription(SQLModel, table=True):
    """One browser of one person's that takes Web Push (RFC 8030) messages."""

    __tablename__ = "push_subscription"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    endpoint: str = Field(max_length=1000, unique=True)
    # The browser's keys for encrypting to it (RFC 8291), base64url.
    p256dh: str = Field(max_length=200)
    auth: str = Field(max_length=64)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    last_sent_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class NotificationSettings(SQLModel, table=True):
    """What a person wants to be told away from the app. No row: the defaults."""

    __tablename__ = "notification_settings"

    user_id: int = Field(foreign_key="user.id", primary_key=True)
    # Lock screens show no message text unless the person asks for it.
    previews: bool = False
    reminder_minutes: int = DEFAULT_REMINDER_MINUTES
    # Quiet hours on the person's wall clock ("22:00" to "07:00"); None: none. Crisis alerts to
    # staff come through them.
    quiet_start: str | None = Field(default=None, max_length=5)
    quiet_end: str | None = Field(default=None, max_length=5)
    timezone: str = Field(default="UTC", max_length=64)
    # An address for reminders by email: nothing is sent to it but the confirmation mail
    # until its owner follows that mail's link.
    email: str | None = Field(default=None, max_length=254)
    email_confirmed: bool = False
    email_reminders: bool = True
    # A daily mail of what the person missed (counts per room, never words), at
    # `digest_hour` on their own clock; off until they ask for it.
    email_digest: bool = False
    # The newest message the last digest looked at: the next counts only what came after it
    # (or after the person's read marker, whichever is later). Kept by the server, not shown.
    digest_through_id: int = 0


def chosen_settings(settings: NotificationSettings) -> dict[str, Any]:
    """What the person chose, as JSON: every setting but the server's own bookkeeping. The
    person's settings screen and their export (server/privacy/export_data.py) show these."""
    return {
        "previews": settings.previews,
        "reminder_minutes": settings.reminder_minutes,
        "quiet_start": settings.quiet_start,
        "quiet_end": settings.quiet_end,
        "timezone": settings.timezone,
        "email": settings.email,
        "email_confirmed": settings.email_confirmed,
        "email_reminders": settings.email_reminders,
        "email_digest": settings.email_digest,
    }


class RoomFollow(SQLModel, table=True):
    """A room whose new messages reach the person by push while they are not in it."""

    __tablename__ = "room_follow"

    user_id: int = Field(foreign_key="user.id", primary_key=True)
    room_id: int = Field(foreign_key="room.id", primary_key=True)


class NotificationSent(SQLModel, table=True):
    """A notification that went out (a reminder of one occurrence to one person): the key is
    claimed before sending, so with several processes each goes out once."""

    __tablename__ = "notification_sent"

    key: str = Field(primary_key=True, max_length=120)
    sent_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class SubscriptionKeys(InputModel):
    p256dh: Annotated[str, StringConstraints(min_length=16, max_length=200)]
    auth: Annotated[str, StringConstraints(min_length=8, max_length=64)]


class SubscriptionIn(InputModel):
    """What the browser's PushManager.subscribe() answers, as its toJSON() gives it."""

    endpoint: Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)]
    keys: SubscriptionKeys


class UnsubscribeIn(InputModel):
    endpoint: Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)]


class SettingsIn(InputModel):
    """A change to one's notification settings: the fields given change."""

    previews: bool | None = None
    reminder_minutes: Annotated[int, InputField(ge=0, le=MAX_REMINDER_MINUTES)] | None = None
    quiet_start: str | None = None
    quiet_end: str | None = None
    timezone: Annotated[str, StringConstraints(max_length=64)] | None = None
    # "" removes the address.
    email: Annotated[str, StringConstraints(strip_whitespace=True, max_length=254)] | None = None
    email_reminders: bool | None = None
    email_digest: bool | None = None

    @model_validator(mode="after")
    def _settings_that_always_have_a_value(self) -> SettingsIn:
        always = ("previews", "reminder_minutes", "timezone", "email_reminders", "email_digest")
        for name in always:
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null; leave it out to keep it")
        return self

    @field_validator("email")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        if value and not EMAIL.match(value):
            raise ValueError("not an email address")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(
                    "not a time zone this server knows, such as America/Chicago"
                ) from None
        return value

    @field_validator("quiet_start", "quiet_end")
    @classmethod
    def _wall_clock(cls, value: str | None) -> str | None:
        if value is not None and value != "" and not WALL_CLOCK.match(value):
            raise ValueError("use a 24-hour time such as 22:00")
        return value or None
