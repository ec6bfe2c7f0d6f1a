"""Account tables and the validated inputs of the accounts endpoints."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, StringConstraints, field_validator
from pydantic import Field as InputField
from sqlalchemy import Column
from sqlmodel import Field, SQLModel

from server.kernel.actors import with_profile
from server.kernel.db import UTCDateTime
from server.kernel.validation import InputModel, PositiveId, SinceCursor

DISPLAY_NAME_MAX = 40
PRONOUNS_MAX = 30
# A short line about oneself ("back after a week away"), not a place for a conversation.
LINE_MAX = 80


class User(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(index=True, unique=True, max_length=32)
    display_name: str = Field(max_length=40)
    role: str = Field(max_length=16)
    password_hash: str
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    graduated_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    # Deactivated by staff: cannot sign in, and every session ended.
    deactivated_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    # The last time the person was connected or posted, to the minute (accounts/people.py:
    # LastSeen); null until then.
    last_seen_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    # What the person chose to add beside their alias where a room lists who is there
    # (accounts/profile.py); null when they have said nothing.
    pronouns: str | None = Field(default=None, max_length=PRONOUNS_MAX)
    line: str | None = Field(default=None, max_length=LINE_MAX)


class UserSession(SQLModel, table=True):
    """One sign-in: its token names it, and it ends at sign-out, when its owner ends it, at a
    password change (the others), or when staff deactivate the account."""

    __tablename__ = "user_session"

    id: str = Field(primary_key=True, max_length=32)
    user_id: int = Field(foreign_key="user.id", index=True)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    user_agent: str = Field(default="", max_length=200)
    address: str = Field(default="", max_length=64)
    ended_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    # "Keep me signed in": the SHA-256 of the secret in this device's HttpOnly cookie, the one
    # it replaced (a second tab may still present it for a moment), when it was replaced, and
    # how long the cookie may renew the sign-in. All null for a sign-in kept in the tab only.
    refresh_digest: str | None = Field(default=None, max_length=64)
    refresh_previous_digest: str | None = Field(default=None, max_length=64)
    refresh_rotated_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    remembered_until: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class Cohort(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=80)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    # Archived: its program has ended; no new invites for it, left out of lists by default.
    archived_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class CohortMembership(SQLModel, table=True):
    user_id: int = Field(foreign_key="user.id", primary_key=True)
    cohort_id: int = Field(foreign_key="cohort.id", primary_key=True, index=True)
    # When the person joined the cohort: a room of the cohort that shows history only since
    # joining shows them what was said from then on. Null for memberships older than the
    # record (their people have read that history already): no limit.
    joined_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class Invite(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True, index=True, max_length=64)
    role: str = Field(max_length=16)
    cohort_id: int | None = Field(default=None, foreign_key="cohort.id")
    max_uses: int
    uses: int = 0
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    created_by: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    # Revoked by staff: refused from then on, however many uses are left.
    revoked_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class PasswordReset(SQLModel, table=True):
    """A one-time code staff issued so a person can choose a new password (handed over in
    person: peerrooms sends no email). Only the code's SHA-256 is kept."""

    __tablename__ = "password_reset"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    code_hash: str = Field(unique=True, max_length=64)
    created_by: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    used_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


# ----- inputs -----

USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]{2,31}$")


def _printable(value: str) -> str:
    if not value.isprintable():
        raise ValueError("use printable characters only")
    return value


def _printable_or_joined(value: str) -> str:
    # Emoji sequences (🏳️‍🌈) hold zero-width joiners, which are not "printable"; the other
    # invisible characters (direction overrides among them) could disguise text.
    if not all(character.isprintable() or character == "\u200d" for character in value):
        raise ValueError("use printable characters only")
    return value


# An alias: what others in the rooms see (unique as accounts/names.py has it).
DisplayName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=DISPLAY_NAME_MAX),
    AfterValidator(_printable),
]


class RegisterIn(InputModel):
    invite_code: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)
    ]
    username: Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True)]
    display_name: DisplayName
    password: Annotated[str, StringConstraints(max_length=256)]
    # The version of the program's consent notice (GET /api/consent) the person read and
    # accepts: registering is accepting it.
    consent_version: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)
    ]

    @field_validator("username")
    @classmethod
    def _username_shape(cls, value: str) -> str:
        if not USERNAME_PATTERN.fullmatch(value):
            raise ValueError(
                "use 3 to 32 letters, digits, '.', '_' or '-', starting with a letter or digit"
            )
        return value


class LoginIn(InputModel):
    username: Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, max_length=64)]
    password: Annotated[str, StringConstraints(max_length=256)]
    # Keep me signed in on this device: the answer also sets the renewal cookie.
    remember: bool = False


class PasswordChangeIn(InputModel):
    current_password: Annotated[str, StringConstraints(max_length=256)]
    new_password: Annotated[str, StringConstraints(max_length=256)]


class ProfilePatch(InputModel):
    """What a person changes of how others see them. A field left out stays as it is;
    pronouns or a line given as null or "" are taken away; the alias can only be replaced."""

    display_name: DisplayName | None = None
    pronouns: (
        Annotated[
            str,
            StringConstraints(strip_whitespace=True, max_length=PRONOUNS_MAX),
            AfterValidator(_printable_or_joined),
        ]
        | None
    ) = None
    line: (
        Annotated[
            str,
            StringConstraints(strip_whitespace=True, max_length=LINE_MAX),
            AfterValidator(_printable_or_joined),
        ]
        | None
    ) = None

    @field_validator("display_name", mode="before")
    @classmethod
    def _alias_given(cls, value: object) -> object:
        if value is None:
            raise ValueError("everyone goes by an alias here; give a new one to change it")
        return value

    def changes(self) -> dict[str, str | None]:
        """The fields given, an empty pronouns or line as null."""
        return {name: getattr(self, name) or None for name in sorted(self.model_fields_set)}


class PasswordResetIn(InputModel):
    code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    new_password: Annotated[str, StringConstraints(max_length=256)]


RoleName = Literal["patient", "alumni", "moderator", "admin"]
PersonStatus = Literal["active", "deactivated", "all"]


class PeopleQuery(InputModel):
    """The filters of the people list (query parameters)."""

    role: RoleName | None = None
    cohort_id: PositiveId | None = None
    status: PersonStatus = "all"
    q: Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)] = ""
    limit: Annotated[int, InputField(ge=1, le=200)] = 50
    after: SinceCursor = 0


class InvitesQuery(InputModel):
    """`usable` (the default): not revoked, not expired, not used up; `all`: every invite."""

    status: Literal["usable", "all"] = "usable"


class PersonChangeIn(InputModel):
    """What staff change about a person: the role (admins only), the cohort (the person's
    only cohort from now on; patients and alumni)."""

    role: RoleName | None = None
    cohort_id: PositiveId | None = None


CohortName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]


class CohortIn(InputModel):
    name: CohortName


class CohortPatch(InputModel):
    name: CohortName | None = None
    archived: bool | None = None


class CohortsQuery(InputModel):
    """`all` (the default, as the contract has it): every cohort; `active`: those not
    archived."""

    status: Literal["active", "all"] = "all"


class InviteIn(InputModel):
    role: RoleName
    cohort_id: PositiveId | None = None
    max_uses: Annotated[int, InputField(ge=1, le=500)] = 1
    expires_in_hours: Annotated[float, InputField(gt=0, le=24 * 90)] | None = None


def public_user(user: User) -> dict[str, Any]:
    """A user as other people see it: the alias and role, never the login name."""
    return public_user_of(user.id, user.display_name, user.role)


def public_user_of(user_id: int | None, display_name: str, role: str) -> dict[str, Any]:
    """`public_user` from its columns (a page's rows carry them)."""
    return {"id": user_id, "display_name": display_name, "role": role}


def member_user(user: User) -> dict[str, Any]:
    """A user as a room's list of who is there shows them (`Actor.member`)."""
    return with_profile(public_user(user), user.pronouns, user.line)


def profile_json(user: User) -> dict[str, Any]:
    """How the person appears to others, every field present: their own profile."""
    return {
        "id": user.id,
        "display_name": user.display_name,
        "pronouns": user.pronouns,
        "line": user.line,
    }


def own_user(user: User, cohort_ids: list[int]) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role,
        "cohort_ids": cohort_ids,
    }
