"""A person's profile: the alias others know them by, their pronouns and a short line.

- **One alias, no look-alikes.** A new alias passes the check registration makes
  (accounts/names.py) against everyone else's, so nobody can take a name that looks like
  another person's; a member's may not say staff, nor may their pronouns.
- **Few alias changes.** ALIAS_CHANGES at once, then one every ALIAS_REFILL (three a day): a
  group must not have to keep guessing who is who. Refused names cost from a bucket of their
  own, at registration's pace, since each refusal tells that someone here goes by that name.
- **Staff see who was who.** Each alias change is audited (`display_name_changed`) with the
  old and the new alias: the audit shows people by their current alias.
- **Said at once.** A change is announced (`member_changed`) to the sockets in the rooms the
  person may enter and to their own. Messages carry their author's id, so clients put the new
  alias on what they show, old messages too; and the person's live connections, on every
  process, speak with the new one from then on (the listeners, wired in app.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from server.accounts import store
from server.accounts.models import ProfilePatch, User, profile_json
from server.accounts.names import looks_like_staff
from server.accounts.service import AccountService
from server.accounts.throttle import Allowance
from server.kernel.actors import STAFF_ROLES, Actor
from server.kernel.errors import AppError, invalid, rate_limited, unauthorized
from server.kernel.ratelimit import RateLimiter
from server.realtime.hub import Hub, room_channel, user_channel

ALIAS_CHANGES = 3
ALIAS_REFILL = timedelta(hours=8)
ALIAS_ALLOWANCE = Allowance(ALIAS_CHANGES, ALIAS_REFILL.total_seconds())
TOO_MANY_CHANGES = (
    "display_name: you have changed your alias often lately; wait before changing it again."
)
TOO_MANY_REFUSED = "display_name: too many names were already in use; wait before trying another."

# The ids of the rooms a person may enter (bans aside: what they wrote there is still read).
RoomsOpenTo = Callable[[Actor], Awaitable[list[int]]]
# Told of the person as they are after a change to their profile.
ProfileListener = Callable[[Actor], Awaitable[None]]


@dataclass(frozen=True)
class Bucket:
    key: str
    allowance: Allowance


def member_changed(user: User) -> dict[str, Any]:
    """The `member_changed` payload."""
    return {
        "user_id": user.id,
        "display_name": user.display_name,
        "pronouns": user.pronouns,
        "line": user.line,
    }


@dataclass
class ProfileService:
    accounts: AccountService
    hub: Hub
    limiter: RateLimiter
    rooms_open_to: RoomsOpenTo
    listeners: list[ProfileListener] = field(default_factory=list)

    async def profile(self, actor: Actor) -> dict[str, Any]:
        async with self.accounts.sessions() as session:
            return profile_json(await self._user(session, actor))

    async def change(self, actor: Actor, data: ProfilePatch) -> dict[str, Any]:
        accounts = self.accounts
        async with accounts.sessions() as session:
            user = await self._user(session, actor)
            changes = {
                name: value
                for name, value in data.changes().items()
                if getattr(user, name) != value
            }
            if not changes:
                return profile_json(user)
            pronouns = changes.get("pronouns")
            if pronouns and user.role not in STAFF_ROLES and looks_like_staff(pronouns):
                raise invalid("pronouns: only staff may use words that say they are staff.")
            old_name, new_name = user.display_name, changes.get("display_name")
            if new_name is not None:
                await self._check_alias(session, user, new_name)
            for name, value in changes.items():
                setattr(user, name, value)
            session.add(user)
            await session.commit()
        if new_name is not None:
            await accounts.record(
                actor, "display_name_changed", user.id, f"{old_name} -> {new_name}"
            )
        await self._announce(user)
        return profile_json(user)

    async def _user(self, session: Any, actor: Actor) -> User:
        user = await store.get_user(session, actor.id)
        if user is None or user.id is None:
            raise unauthorized("The account of this token no longer exists.")
        return user

    async def _check_alias(self, session: Any, user: User, name: str) -> None:
        """A name no one else goes by, within the person's allowance of changes."""
        guesses = Bucket(f"profile:alias-refused:{user.id}", self.accounts.throttle.per_account)
        await self._take(guesses, cost=0, refusal=TOO_MANY_REFUSED)
        try:
            await self.accounts.check_display_name(session, name, user.role, besides=user.id)
        except AppError as refused:
            if refused.code == "conflict":
                await self._take(guesses, cost=1, refusal=TOO_MANY_REFUSED)
            raise
        changes = Bucket(f"profile:alias:{user.id}", ALIAS_ALLOWANCE)
        await self._take(changes, cost=1, refusal=TOO_MANY_CHANGES)

    async def _take(self, bucket: Bucket, *, cost: int, refusal: str) -> None:
        allowance, now = bucket.allowance, self.accounts.clock.now()
        wait = await self.limiter.take(bucket.key, allowance.per_second, allowance.burst, now, cost)
        if wait > 0:
            raise rate_limited(refusal, wait)

    async def _announce(self, user: User) -> None:
        assert user.id is not None  # noqa: S101 - a stored user
        person = await self.accounts.load_actor(user.id)
        if person is None:
            return  # deactivated meanwhile: nobody sees them in a room any more
        for listener in self.listeners:
            await listener(person)
        rooms = await self.rooms_open_to(person)
        channels = [room_channel(room_id) for room_id in rooms] + [user_channel(user.id)]
        await self.hub.to_channels(channels, "member_changed", member_changed(user), skipped=[])
