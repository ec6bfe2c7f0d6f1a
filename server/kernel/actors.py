"""Who is acting: the roles of the people peerrooms serves, and the actor a request or a
socket event is checked as. Every layer names them, so they live below the features."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Role(StrEnum):
    PATIENT = "patient"
    ALUMNI = "alumni"
    MODERATOR = "moderator"
    ADMIN = "admin"


STAFF_ROLES = frozenset({Role.MODERATOR, Role.ADMIN})


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is asking, as the policy needs to know them: loaded fresh for each request."""

    id: int
    display_name: str
    role: str
    cohort_ids: frozenset[int]
    # The sign-in (accounts' UserSession) the request or socket came with; None when the
    # actor was loaded by id (a notice's recipient, the meeting clock).
    session_id: str | None = None
    # What the person added beside their alias (accounts/profile.py), for `member`.
    pronouns: str | None = None
    line: str | None = None

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "display_name": self.display_name, "role": self.role}

    def member(self) -> dict[str, Any]:
        """As a room's list of who is there shows them."""
        return with_profile(self.public(), self.pronouns, self.line)


def with_profile(public: dict[str, Any], pronouns: str | None, line: str | None) -> dict[str, Any]:
    """A public user with the pronouns and line they chose, each only once they have set it:
    for everyone else the shape is the public one, as it always was."""
    chosen = {key: value for key, value in (("pronouns", pronouns), ("line", line)) if value}
    return public | chosen
