"""The people directory staff run a program with: list and search people, a person's page,
change a role or a cohort, and issue a one-time password-reset code to hand over."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from server.accounts import store
from server.accounts.models import (
    PasswordReset,
    PeopleQuery,
    PersonChangeIn,
    User,
)
from server.accounts.service import AccountService, require_staff, reset_code_digest
from server.accounts.tokens import code_for_people
from server.kernel.actors import STAFF_ROLES, Actor, Role
from server.kernel.clock import Clock, LoopingCall, iso_utc
from server.kernel.db import SessionFactory
from server.kernel.errors import AppError, forbidden, not_found
from server.realtime.hub import Connection

log = logging.getLogger(__name__)

# What another feature knows of a person, for their page (app.py wires restrictions from
# moderation and attendance from meetings): a few keys to add.
PersonFacts = Callable[[int], Awaitable[dict[str, Any]]]

RESET_CODE_HOURS = 24
# "Last seen" is to the minute: a person in the app is not written down more often.
SEEN_EVERY = timedelta(minutes=1)
# How often what was seen is written: a few seconds late on a person's page is nothing, and
# one transaction for everyone seen meanwhile costs the database little.
SEEN_FLUSH_S = 5.0
# Past this many people remembered, those not seen within the minute are forgotten.
SEEN_KEPT = 10_000
MOVED_TEXT = "You have moved to another group: your group's room has changed."


def person_json(
    user: User, cohort_ids: list[int], last_sign_in: datetime | None, *, with_username: bool
) -> dict[str, Any]:
    # Signing in is being seen too; before the upgrade that added `last_seen_at`, it was all.
    seen = max((t for t in (user.last_seen_at, last_sign_in) if t is not None), default=None)
    person: dict[str, Any] = {
        "id": user.id,
        "display_name": user.display_name,
        "role": user.role,
        "cohort_ids": cohort_ids,
        "status": "active" if user.deactivated_at is None else "deactivated",
        "joined_at": iso_utc(user.created_at),
        "graduated_at": iso_utc(user.graduated_at) if user.graduated_at else None,
        "last_sign_in_at": iso_utc(last_sign_in) if last_sign_in else None,
        "last_seen_at": iso_utc(seen) if seen else None,
    }
    if with_username:
        person["username"] = user.username
    return person


@dataclass
class LastSeen:
    """When each person was last connected or posted: noted in memory on connecting, on
    disconnecting and on each stored send, at most once a minute each (`SEEN_EVERY`), and
    written every SEEN_FLUSH_S in one transaction, off the paths that noted them: a send's
    ack or a connection never waits on it, even on a database that hangs. The write is a
    no-op where another process wrote within the minute, so the figure holds across
    processes. Sightings that fail to be written wait for the next turn."""

    sessions: SessionFactory
    clock: Clock
    every: timedelta = SEEN_EVERY
    flush_s: float = SEEN_FLUSH_S
    _noted: dict[int, datetime] = field(default_factory=dict, init=False)
    _due: dict[int, datetime] = field(default_factory=dict, init=False)
    _flushing: LoopingCall | None = field(default=None, init=False)

    def seen(self, user_id: int) -> None:
        now = self.clock.now()
        last = self._noted.get(user_id)
        if last is not None and now - last < self.every:
            return
        if len(self._noted) >= SEEN_KEPT:
            self._noted = {k: t for k, t in self._noted.items() if now - t < self.every}
        self._noted[user_id] = self._due[user_id] = now

    async def flush(self) -> None:
        due, self._due = self._due, {}
        if not due:
            return
        try:
            async with self.sessions() as session:
                await store.mark_seen(session, sorted(due.items()), self.every)
                await session.commit()
        except BaseException:
            # Kept for the next turn, unless the person was seen again meanwhile.
            self._due = due | self._due
            raise

    async def start(self) -> None:
        self._flushing = self.clock.looping_call(self.flush, self.flush_s)

    async def close(self) -> None:
        if self._flushing is not None:
            await self._flushing.stop()
        try:
            await asyncio.wait_for(self.flush(), SEEN_FLUSH_S)
        except (TimeoutError, SQLAlchemyError, OSError):
            log.warning("the last %d sightings were not stored at shutdown", len(self._due))

    async def connected(self, connection: Connection) -> None:
        self.seen(connection.actor.id)

    async def disconnected(self, connection: Connection) -> None:
        self.seen(connection.actor.id)

    # A post listener (rooms/gates.py; accounts cannot name rooms' types).

    async def post_stored(self, draft: Any, message: dict[str, Any]) -> None:
        self.seen(draft.actor.id)

    async def post_refused(self, *_: Any) -> None:
        return None

    async def post_repeated(self, *_: Any) -> None:
        return None


def admin_rights(actor: Actor | None) -> bool:
    """Staff only; `None` is the operator on the command line, who has an admin's rights."""
    if actor is None:
        return True
    require_staff(actor)
    return actor.is_admin


async def managed_user(session: AsyncSession, user_id: int, *, is_admin: bool) -> User:
    """The account staff are about to change: moderators manage patients and alumni, staff
    accounts need an admin."""
    user = await store.get_user(session, user_id)
    if user is None or user.id is None:
        raise not_found("user")
    if user.role in STAFF_ROLES and not is_admin:
        raise forbidden("Only an admin can change a staff account.")
    return user


@dataclass
class PeopleService:
    """Every method takes the staff member acting, or None for the operator on the command
    line (audited without an actor, as the command line's invites are)."""

    accounts: AccountService
    facts: list[PersonFacts] = field(default_factory=list)

    async def people(self, actor: Actor | None, query: PeopleQuery) -> dict[str, Any]:
        """A page of people matching the filters; admins also see and search login names."""
        is_admin = admin_rights(actor)
        async with self.accounts.sessions() as session:
            found = await store.find_users(session, query, search_usernames=is_admin)
            page = found[: query.limit]
            ids = [user.id for user in page if user.id is not None]
            cohorts = await store.cohorts_of_users(session, ids)
            signed_in = await store.last_sign_ins(session, ids)
        users = [
            person_json(
                user,
                cohorts.get(user.id, []) if user.id is not None else [],
                signed_in.get(user.id) if user.id is not None else None,
                with_username=is_admin,
            )
            for user in page
        ]
        more = len(found) > query.limit
        return {"users": users, "next_after": page[-1].id if more and page else None}

    async def person(self, actor: Actor | None, user_id: int) -> dict[str, Any]:
        page = await self._person(user_id, with_username=admin_rights(actor))
        for facts in self.facts:
            page |= await facts(user_id)
        return page

    async def _person(self, user_id: int, *, with_username: bool) -> dict[str, Any]:
        async with self.accounts.sessions() as session:
            user = await store.get_user(session, user_id)
            if user is None:
                raise not_found("user")
            cohort_ids = await store.cohort_ids_of(session, user_id)
            signed_in = (await store.last_sign_ins(session, [user_id])).get(user_id)
        return person_json(user, cohort_ids, signed_in, with_username=with_username)

    async def change(
        self, actor: Actor | None, user_id: int, data: PersonChangeIn
    ) -> dict[str, Any]:
        """A new role (admins only; the person is signed out everywhere, to sign in again
        with it) and/or a new cohort (patients and alumni: their only cohort from now on;
        live connections leave the rooms it closes at once)."""
        is_admin = admin_rights(actor)
        if data.role is not None and not is_admin:
            raise forbidden("Only an admin can change a role.")
        if actor is not None and user_id == actor.id and data.role is not None:
            raise forbidden("You cannot change your own role.")
        accounts = self.accounts
        async with accounts.sessions() as session:
            user = await managed_user(session, user_id, is_admin=is_admin)
            notes: list[str] = []
            moving = data.cohort_id is not None and await store.cohort_ids_of(session, user_id) != [
                data.cohort_id
            ]
            if moving and data.cohort_id is not None:
                cohort = await store.get_cohort(session, data.cohort_id)
                if cohort is None:
                    raise not_found("cohort (cohort_id)")
                new_role = data.role or user.role
                if new_role not in (Role.PATIENT, Role.ALUMNI):
                    raise AppError("conflict", "Only patients and alumni belong to a cohort.")
                await store.set_only_cohort(session, user_id, data.cohort_id, accounts.clock.now())
                notes.append(f"cohort: {cohort.name}")
            old_role = user.role
            if data.role is not None and data.role != old_role:
                user.role = data.role
                if data.role == Role.ALUMNI.value and user.graduated_at is None:
                    user.graduated_at = accounts.clock.now()
                notes.append(f"role: {old_role} -> {data.role}")
            session.add(user)
            await session.commit()
            cohort_ids = await store.cohort_ids_of(session, user_id)
        if data.role is not None and data.role != old_role:
            await accounts.end_every_session(user_id)
        if moving and data.cohort_id is not None:
            moved = Actor(user_id, user.display_name, user.role, frozenset(cohort_ids))
            for listener in accounts.access_listeners:
                await listener(moved)
            await accounts.notifier.tell(
                user_id, "cohort_changed", MOVED_TEXT, cohort_id=data.cohort_id
            )
        if notes:
            await accounts.record(actor, "person_changed", user_id, "; ".join(notes))
        return await self._person(user_id, with_username=is_admin)

    async def issue_password_reset(self, actor: Actor | None, user_id: int) -> dict[str, Any]:
        """A one-time code, valid for a day, that lets the person choose a new password
        (redeemed with `AccountService.reset_password`). It replaces their earlier codes;
        it does not end their sign-ins until it is used."""
        is_admin = admin_rights(actor)
        accounts = self.accounts
        now = accounts.clock.now()
        code = code_for_people(16)
        async with accounts.sessions() as session:
            await managed_user(session, user_id, is_admin=is_admin)  # exists, and may be reset
            await store.retire_resets(session, user_id, now)
            reset = PasswordReset(
                user_id=user_id,
                code_hash=reset_code_digest(code),
                created_by=actor.id if actor else None,
                created_at=now,
                expires_at=now + timedelta(hours=RESET_CODE_HOURS),
            )
            session.add(reset)
            await session.commit()
        await accounts.record(actor, "password_reset_issued", user_id)
        return {
            "code": code,
            "expires_at": iso_utc(reset.expires_at),
            "path": f"/#/reset?code={quote(code)}",
        }
