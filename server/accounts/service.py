"""Account decisions: who may register, sign in, invite, create cohorts and graduate whom."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol
from urllib.parse import quote

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from server.accounts import store
from server.accounts.models import (
    Cohort,
    CohortIn,
    CohortPatch,
    CohortsQuery,
    Invite,
    InviteIn,
    InvitesQuery,
    LoginIn,
    PasswordChangeIn,
    PasswordResetIn,
    RegisterIn,
    User,
    UserSession,
    own_user,
    public_user,
    public_user_of,
)
from server.accounts.names import looks_like_staff, skeleton
from server.accounts.passwords import Passwords
from server.accounts.remember import (
    SignedIn,
    cookie_value,
    digest_of,
    is_current,
    new_secret,
    parse_cookie,
    renewable,
    was_just_replaced,
)
from server.accounts.throttle import SignInThrottle
from server.accounts.tokens import TokenIssuer, code_for_people
from server.kernel.actors import STAFF_ROLES, Actor, Role
from server.kernel.audit import AuditSink
from server.kernel.clock import Clock, iso_utc
from server.kernel.db import SessionFactory
from server.kernel.errors import AppError, forbidden, invalid, not_found, unauthorized
from server.realtime.notices import Notifier

CloseSockets = Callable[[int, list[str]], Awaitable[None]]


@dataclass(frozen=True)
class Client:
    """Where a sign-in comes from, kept with the session so its owner can recognise it."""

    address: str | None = None
    user_agent: str = ""


NO_CLIENT = Client()
NOT_KEPT = "This device no longer keeps you signed in: sign in again."
EVERY_COHORT = CohortsQuery()


def session_json(sign_in: UserSession, *, current: bool) -> dict[str, Any]:
    return {
        "id": sign_in.id,
        "created_at": iso_utc(sign_in.created_at),
        "user_agent": sign_in.user_agent,
        "address": sign_in.address,
        "current": current,
        # Kept signed in on its device ("keep me signed in"), not only while its tab is open.
        "remembered": sign_in.remembered_until is not None,
    }


class ConsentGate(Protocol):
    """What accounts asks of the program's consent notice (server/privacy/consent.py, wired
    in app.py): registering accepts it, and a sign-in says when a newer one waits."""

    def check_offered(self, version: str, field_name: str = ...) -> None: ...

    def record_registration(self, session: AsyncSession, user_id: int, version: str) -> None: ...

    async def version_due(self, user_id: int) -> str | None: ...

    async def require(self, actor: Actor) -> None: ...


# Called after what a person may enter changed (graduation, a move to another cohort), so
# their live connections can be brought in line.
AccessListener = Callable[[Actor], Awaitable[None]]

GRADUATED_TEXT = (
    "Congratulations on graduating! Your group room is now closed to you, "
    "and the alumni rooms are open."
)


def reset_code_digest(code: str) -> str:
    """Reset codes are 128 random bits: their SHA-256 is all the database keeps."""
    return hashlib.sha256(code.encode()).hexdigest()


def require_staff(actor: Actor) -> None:
    if not actor.is_staff:
        raise forbidden("Only moderators and admins can do this.")


def require_admin(actor: Actor | None) -> None:
    """Admins only; `None` is the operator on the command line, who has an admin's rights."""
    if actor is not None and not actor.is_admin:
        raise forbidden("Only an admin can do this.")


def cohort_json(cohort: Cohort) -> dict[str, Any]:
    return {"id": cohort.id, "name": cohort.name, "archived": cohort.archived_at is not None}


def invite_json(invite: Invite) -> dict[str, Any]:
    return {
        "id": invite.id,
        "code": invite.code,
        "role": invite.role,
        "cohort_id": invite.cohort_id,
        "max_uses": invite.max_uses,
        "uses": invite.uses,
        "expires_at": iso_utc(invite.expires_at),
        "created_at": iso_utc(invite.created_at),
        "revoked": invite.revoked_at is not None,
        # The registration page with the code filled in, on this server.
        "path": f"/#/register?code={quote(invite.code)}",
    }


def invite_note(invite: Invite) -> str:
    """What the audit keeps of a new invite: never its code, which registers whoever holds it."""
    cohort = f", cohort {invite.cohort_id}" if invite.cohort_id is not None else ""
    uses = f"{invite.max_uses} use{'s' if invite.max_uses != 1 else ''}"
    return f"invite {invite.id} ({invite.role}{cohort}, {uses}, until {iso_utc(invite.expires_at)})"


def invitable_roles(actor: Actor) -> tuple[str, ...]:
    """Moderators invite (and see and revoke the invites of) patients and alumni; admins any."""
    if actor.is_admin:
        return tuple(role.value for role in Role)
    return (Role.PATIENT.value, Role.ALUMNI.value)


@dataclass
class AccountService:
    sessions: SessionFactory
    passwords: Passwords
    tokens: TokenIssuer
    # Tokens of sign-ins kept on their device: short-lived, as the cookie renews them.
    kept_tokens: TokenIssuer
    clock: Clock
    password_min_length: int
    invite_default_hours: float
    notifier: Notifier
    throttle: SignInThrottle
    # Closes the sockets of these ended sessions of a user, on every process (app.py wires
    # it to the control bus).
    close_sockets: CloseSockets | None = None
    audit: AuditSink | None = None
    access_listeners: list[AccessListener] = field(default_factory=list)
    # Told the id of each account deactivated, after its sessions ended.
    deactivation_listeners: list[Callable[[int], Awaitable[None]]] = field(default_factory=list)
    # Asked before an account is reactivated, and may refuse (an erased account stays closed).
    reactivation_guards: list[Callable[[int], Awaitable[None]]] = field(default_factory=list)
    # How long "keep me signed in" lasts after the device last renewed its sign-in.
    remember_for: timedelta = timedelta(days=30)
    # The consent notice: None only where no server runs (tools that build the service).
    consent: ConsentGate | None = None

    # ----- identity -----

    async def actor_for_token(self, token: object) -> Actor:
        user_id, session_id = self.tokens.claims_from(token, self.clock.now())
        async with self.sessions() as session:
            actor = await store.load_actor(session, user_id, session_id)
        if actor is None:
            raise unauthorized("This sign-in has ended: sign in again.")
        return actor

    async def load_actor(self, user_id: int) -> Actor | None:
        async with self.sessions() as session:
            return await store.load_actor(session, user_id)

    async def public_users(self, user_ids: Sequence[int]) -> list[dict[str, Any]]:
        async with self.sessions() as session:
            rows = await store.public_user_rows(session, user_ids)
        return [public_user_of(user_id, name, role) for user_id, name, role in rows]

    async def me(self, actor: Actor) -> dict[str, Any]:
        async with self.sessions() as session:
            user = await store.get_user(session, actor.id)
            if user is None:
                raise unauthorized("The account of this token no longer exists.")
            return own_user(user, await store.cohort_ids_of(session, actor.id))

    async def register(self, data: RegisterIn, client: Client = NO_CLIENT) -> dict[str, Any]:
        address = client.address
        if self.consent is not None:
            self.consent.check_offered(data.consent_version)
        self._check_password(data.password, data.username)
        await self.throttle.check(address=address, invite=data.invite_code)
        # The invite and the names first: hashing a password costs 64 MiB and a worker thread,
        # and must not be had for the price of a made-up invite code or a taken name.
        async with self.sessions() as session:
            try:
                invite = await self._usable_invite(session, data.invite_code)
            except AppError:
                await self.throttle.failed(address=address)
                raise
            try:
                await self._check_new_names(session, data, invite.role)
            except AppError as refused:
                if refused.code == "conflict":
                    await self.throttle.failed(address=address, invite=data.invite_code)
                raise
        password_hash = await self.passwords.hash(data.password)
        now = self.clock.now()
        async with self.sessions() as session:
            # Again: the invite may have been used up, or a name taken, while hashing.
            invite = await self._usable_invite(session, data.invite_code)
            assert invite.id is not None  # noqa: S101 - _usable_invite refuses one without
            await self._check_new_names(session, data, invite.role)
            if not await store.consume_invite_use(session, invite.id, now):
                raise forbidden("invite_code: this invite has just been used up or expired.")
            user = User(
                username=data.username,
                display_name=data.display_name,
                role=invite.role,
                password_hash=password_hash,
                created_at=now,
            )
            try:
                await store.add_user(session, user, invite.cohort_id)
                if self.consent is not None and user.id is not None:
                    self.consent.record_registration(session, user.id, data.consent_version)
                await session.commit()
            except IntegrityError:
                await session.rollback()
                raise AppError(
                    "conflict", "username: this username is taken; choose another."
                ) from None
            return (await self._signed_in(session, user, client)).answer

    async def _check_new_names(self, session: Any, data: RegisterIn, role: str) -> None:
        if await store.get_user_by_username(session, data.username) is not None:
            raise AppError("conflict", "username: this username is taken; choose another.")
        await self.check_display_name(session, data.display_name, role)

    async def check_display_name(
        self, session: Any, name: str, role: str, *, besides: int | None = None
    ) -> None:
        """Refuse a name that looks like someone else's (`besides`: the person renaming,
        whose own name it may look like), or like staff for a member."""
        if role not in STAFF_ROLES and looks_like_staff(name):
            raise invalid("display_name: only staff may use a name that says they are staff.")
        wanted = skeleton(name)
        if not wanted:
            raise invalid("display_name: use at least one letter or digit.")
        for other in await store.display_names(session, besides=besides):
            if skeleton(other) == wanted:
                raise AppError(
                    "conflict",
                    "display_name: someone here already goes by a name that looks like this;"
                    " choose another.",
                )

    async def _usable_invite(self, session: Any, code: str) -> Invite:
        now = self.clock.now()
        invite = await store.get_invite(session, code)
        if invite is None or invite.id is None:
            raise AppError("not_found", "invite_code: no invite has this code.")
        if invite.revoked_at is not None:
            raise forbidden("invite_code: this invite has been revoked; ask for a new one.")
        if invite.expires_at <= now:
            raise forbidden("invite_code: this invite has expired; ask for a new one.")
        if invite.uses >= invite.max_uses:
            raise forbidden("invite_code: this invite has been used up; ask for a new one.")
        return invite

    async def login(self, data: LoginIn, client: Client = NO_CLIENT) -> SignedIn:
        await self.throttle.check(account=data.username, address=client.address)
        async with self.sessions() as session:
            user = await store.get_user_by_username(session, data.username)
            stored_hash = user.password_hash if user is not None else None
            if not await self.passwords.verify(stored_hash, data.password) or user is None:
                await self.throttle.failed(account=data.username, address=client.address)
                raise unauthorized("The username or password is wrong.")
            if user.deactivated_at is not None:
                raise forbidden("This account has been deactivated; ask staff to reactivate it.")
            return await self._signed_in(session, user, client, remember=data.remember)

    async def _signed_in(
        self, session: Any, user: User, client: Client, *, remember: bool = False
    ) -> SignedIn:
        assert user.id is not None  # noqa: S101 - set by the database on insert
        now = self.clock.now()
        sign_in = UserSession(
            id=secrets.token_urlsafe(18),
            user_id=user.id,
            created_at=now,
            user_agent=client.user_agent[:200],
            address=(client.address or "")[:64],
        )
        refresh = None
        if remember:
            secret, sign_in.refresh_digest = new_secret()
            sign_in.remembered_until = now + self.remember_for
            refresh = cookie_value(sign_in.id, secret)
        session.add(sign_in)
        await session.commit()
        return SignedIn(await self._answer(session, user, sign_in.id, kept=remember), refresh)

    async def _answer(
        self, session: Any, user: User, session_id: str, *, kept: bool
    ) -> dict[str, Any]:
        assert user.id is not None  # noqa: S101 - a stored user
        issuer = self.kept_tokens if kept else self.tokens
        token = issuer.issue(user.id, session_id, self.clock.now())
        return {
            "token": token,
            "user": own_user(user, await store.cohort_ids_of(session, user.id)),
            "consent_required": await self.consent_due(user.id),
        }

    async def consent_due(self, user_id: int) -> dict[str, str] | None:
        """`{"version"}` of the consent notice the person must accept before going on; None
        when they have accepted the one in force."""
        due = await self.consent.version_due(user_id) if self.consent is not None else None
        return {"version": due} if due is not None else None

    async def require_consent(self, actor: Actor) -> None:
        """`consent_required` while the person has not accepted the notice in force."""
        if self.consent is not None:
            await self.consent.require(actor)

    async def renew(self, cookie: str | None) -> SignedIn:
        """A new token for a sign-in kept on this device, from its renewal cookie; the cookie's
        secret is replaced. An earlier secret presented again ends the sign-in: the cookie
        was copied, and whoever holds the other copy must not stay signed in either."""
        parsed = parse_cookie(cookie)
        if parsed is None:
            raise unauthorized(NOT_KEPT)
        session_id, secret = parsed
        presented, now = digest_of(secret), self.clock.now()
        async with self.sessions() as session:
            sign_in = await session.get(UserSession, session_id)
            if sign_in is None or not renewable(sign_in, now):
                raise unauthorized(NOT_KEPT)
            user_id = sign_in.user_id
            refresh = None
            if is_current(sign_in, presented):
                fresh, fresh_digest = new_secret()
                replaced = await store.rotate_refresh(
                    session,
                    session_id,
                    presented=presented,
                    replacement=fresh_digest,
                    now=now,
                    until=now + self.remember_for,
                )
                await session.commit()
                # Not replaced: another tab renewed a moment ago, and its cookie stands.
                refresh = cookie_value(session_id, fresh) if replaced else None
            elif not was_just_replaced(sign_in, presented, now):
                await session.rollback()
                await self._end(user_id, only=session_id)
                await self.record(None, "kept_sign_in_reused", user_id)
                raise unauthorized(NOT_KEPT)
            user = await store.get_user(session, user_id)
            if user is None or user.deactivated_at is not None:
                raise unauthorized(NOT_KEPT)
            answer = await self._answer(session, user, session_id, kept=True)
            return SignedIn(answer, refresh)

    # ----- sessions -----

    async def sign_out(self, actor: Actor) -> None:
        """End the sign-in this request came with; its sockets close on every process."""
        if actor.session_id is not None:
            await self._end(actor.id, only=actor.session_id)

    async def list_sessions(self, actor: Actor) -> list[dict[str, Any]]:
        async with self.sessions() as session:
            open_ones = await store.open_sessions(session, actor.id)
        return [session_json(each, current=each.id == actor.session_id) for each in open_ones]

    async def end_session(self, actor: Actor, session_id: str) -> None:
        if not await self._end(actor.id, only=session_id):
            raise not_found("session")

    async def change_password(self, actor: Actor, data: PasswordChangeIn) -> None:
        """A new password; every other sign-in ends (this one goes on)."""
        # The account's own sign-in bucket: a wrong current password is a failed sign-in.
        username = await self._username(actor)
        await self.throttle.check(account=username)
        async with self.sessions() as session:
            user = await store.get_user(session, actor.id)
            if user is None:
                raise unauthorized()
            if not await self.passwords.verify(user.password_hash, data.current_password):
                await self.throttle.failed(account=username)
                raise forbidden("current_password: that is not your current password.")
            self._check_password(data.new_password, user.username)
            user.password_hash = await self.passwords.hash(data.new_password)
            session.add(user)
            await session.commit()
        await self._end(actor.id, keep=actor.session_id)
        await self.record(actor, "password_changed", actor.id)

    async def reset_password(
        self, data: PasswordResetIn, client: Client = NO_CLIENT
    ) -> dict[str, Any]:
        """Redeem a reset code staff handed over: a new password, every sign-in of the account
        ends, and this one begins. A wrong code costs from the address's sign-in bucket."""
        await self.throttle.check(address=client.address)
        now = self.clock.now()
        async with self.sessions() as session:
            reset = await store.reset_by_code_hash(session, reset_code_digest(data.code))
            user = await store.get_user(session, reset.user_id) if reset else None
            if reset is None or reset.id is None or user is None or user.id is None:
                await self.throttle.failed(address=client.address)
                raise unauthorized("This reset code is not valid: ask staff for a new one.")
            if reset.used_at is not None or reset.expires_at <= now:
                raise unauthorized("This reset code has been used or has expired.")
            if user.deactivated_at is not None:
                raise forbidden("This account has been deactivated; ask staff to reactivate it.")
            self._check_password(data.new_password, user.username)
            if not await store.use_reset(session, reset.id, now):
                raise unauthorized("This reset code has been used or has expired.")
            user.password_hash = await self.passwords.hash(data.new_password)
            session.add(user)
            ended = await store.end_sessions(session, user.id, now)
            await session.commit()
            if ended and self.close_sockets is not None:
                await self.close_sockets(user.id, ended)
            await self.record(None, "password_reset_used", user.id)
            return (await self._signed_in(session, user, client)).answer

    async def end_every_session(self, user_id: int) -> None:
        """Sign a person out everywhere (their sockets close on every process)."""
        await self._end(user_id)

    async def record(
        self, actor: Actor | None, action: str, target_user_id: int | None, reason: str = ""
    ) -> None:
        if self.audit is not None:
            await self.audit.record(
                actor_id=actor.id if actor else None,
                action=action,
                target_user_id=target_user_id,
                reason=reason,
            )

    async def _username(self, actor: Actor) -> str:
        async with self.sessions() as session:
            user = await store.get_user(session, actor.id)
        if user is None:
            raise unauthorized()
        return user.username

    async def set_active(self, actor: Actor, user_id: int, active: bool) -> dict[str, Any]:
        """Staff deactivate an account (it cannot sign in, every session ends, its sockets
        close on every process) or reactivate it. Moderators manage patients and alumni;
        staff accounts are for admins; nobody deactivates themselves."""
        require_staff(actor)
        if user_id == actor.id:
            raise forbidden("You cannot deactivate your own account.")
        if active:
            for guard in self.reactivation_guards:
                await guard(user_id)
        async with self.sessions() as session:
            user = await store.get_user(session, user_id)
            if user is None or user.id is None:
                raise not_found("user")
            if user.role in (Role.MODERATOR, Role.ADMIN) and not actor.is_admin:
                raise forbidden("Only an admin can deactivate or reactivate staff.")
            user.deactivated_at = None if active else self.clock.now()
            session.add(user)
            await session.commit()
        if not active:
            await self._end(user_id)
            for listener in self.deactivation_listeners:
                await listener(user_id)
        action = "account_reactivated" if active else "account_deactivated"
        await self.record(actor, action, user_id)
        return public_user(user) | {"deactivated": not active}

    async def _end(self, user_id: int, *, only: str | None = None, keep: str | None = None) -> bool:
        async with self.sessions() as session:
            ended = await store.end_sessions(
                session, user_id, self.clock.now(), only=only, keep=keep
            )
            await session.commit()
        if ended and self.close_sockets is not None:
            await self.close_sockets(user_id, ended)
        return bool(ended)

    def _check_password(self, password: str, username: str) -> None:
        if len(password) < self.password_min_length:
            raise invalid(f"password: use at least {self.password_min_length} characters.")
        if password.strip() == "" or len(set(password)) < 4:
            raise invalid("password: too easy to guess; mix more different characters.")
        if username and username in password.lower():
            raise invalid("password: must not contain the username.")

    # ----- cohorts and invites -----

    async def create_cohort(self, actor: Actor, data: CohortIn) -> dict[str, Any]:
        require_staff(actor)
        async with self.sessions() as session:
            if await store.get_cohort_by_name(session, data.name) is not None:
                raise AppError("conflict", "name: a cohort with this name exists.")
            cohort = Cohort(name=data.name, created_at=self.clock.now())
            session.add(cohort)
            try:
                await session.commit()
            except IntegrityError:
                raise AppError("conflict", "name: a cohort with this name exists.") from None
        await self.record(actor, "cohort_created", None, f"cohort {cohort.id}: {cohort.name}")
        return cohort_json(cohort)

    async def list_cohorts(
        self, actor: Actor, query: CohortsQuery = EVERY_COHORT
    ) -> list[dict[str, Any]]:
        require_staff(actor)
        async with self.sessions() as session:
            cohorts = await store.list_cohorts(session)
        active_only = query.status == "active"
        return [cohort_json(c) for c in cohorts if not (active_only and c.archived_at)]

    async def update_cohort(
        self, actor: Actor, cohort_id: int, data: CohortPatch
    ) -> dict[str, Any]:
        """Rename or archive (and bring back) a cohort. Archiving keeps its people and rooms
        as they are; it refuses new invites for it and leaves it out of active lists."""
        require_staff(actor)
        notes = []
        async with self.sessions() as session:
            cohort = await store.get_cohort(session, cohort_id)
            if cohort is None:
                raise not_found("cohort")
            if data.name is not None and data.name != cohort.name:
                if await store.get_cohort_by_name(session, data.name) is not None:
                    raise AppError("conflict", "name: a cohort with this name exists.")
                notes.append(f"renamed: {cohort.name} -> {data.name}")
                cohort.name = data.name
            if data.archived is not None and data.archived != (cohort.archived_at is not None):
                cohort.archived_at = self.clock.now() if data.archived else None
                notes.append("archived" if data.archived else "brought back")
            session.add(cohort)
            try:
                await session.commit()
            except IntegrityError:
                raise AppError("conflict", "name: a cohort with this name exists.") from None
        if notes:
            await self.record(
                actor, "cohort_changed", None, f"cohort {cohort_id}: " + "; ".join(notes)
            )
        return cohort_json(cohort)

    async def create_invite(self, actor: Actor | None, data: InviteIn) -> dict[str, Any]:
        """An invite; `actor` None means the operator on the command line."""
        if actor is not None:
            require_staff(actor)
            if data.role not in invitable_roles(actor):
                raise forbidden("Only admins can invite moderators and admins.")
        now = self.clock.now()
        hours = data.expires_in_hours or self.invite_default_hours
        async with self.sessions() as session:
            if data.cohort_id is not None:
                cohort = await store.get_cohort(session, data.cohort_id)
                if cohort is None:
                    raise not_found("cohort (cohort_id)")
                if cohort.archived_at is not None:
                    raise AppError("conflict", "cohort_id: this cohort is archived.")
            invite = Invite(
                code=code_for_people(12),
                role=data.role,
                cohort_id=data.cohort_id,
                max_uses=data.max_uses,
                expires_at=now + timedelta(hours=hours),
                created_by=actor.id if actor else None,
                created_at=now,
            )
            session.add(invite)
            await session.commit()
        await self.record(actor, "invite_created", None, invite_note(invite))
        return invite_json(invite)

    async def list_invites(self, actor: Actor, query: InvitesQuery) -> list[dict[str, Any]]:
        require_staff(actor)
        usable_at = self.clock.now() if query.status == "usable" else None
        async with self.sessions() as session:
            found = await store.list_invites(
                session, roles=invitable_roles(actor), usable_at=usable_at
            )
        return [invite_json(invite) for invite in found]

    async def revoke_invite(self, actor: Actor, invite_id: int) -> None:
        """Nobody can register with it from now on; those who did keep their accounts."""
        require_staff(actor)
        async with self.sessions() as session:
            invite = await session.get(Invite, invite_id)
            if invite is None or invite.role not in invitable_roles(actor):
                raise not_found("invite")
            if invite.revoked_at is not None:
                raise AppError("conflict", "This invite has already been revoked.")
            invite.revoked_at = self.clock.now()
            session.add(invite)
            await session.commit()
        await self.record(actor, "invite_revoked", None, f"invite {invite_id} ({invite.role})")

    # ----- graduation -----

    async def graduate(self, actor: Actor, user_id: int) -> dict[str, Any]:
        require_staff(actor)
        async with self.sessions() as session:
            user = await store.get_user(session, user_id)
            if user is None or user.id is None:
                raise not_found("user")
            if user.role == Role.ALUMNI:
                raise AppError("conflict", "This person has already graduated.")
            if user.role != Role.PATIENT:
                raise AppError("conflict", "Only patients graduate; this person is staff.")
            user.role = Role.ALUMNI
            user.graduated_at = self.clock.now()
            session.add(user)
            await session.commit()
            cohort_ids = await store.cohort_ids_of(session, user.id)
        # The same action and words as a role changed to alumni on the person's page: the
        # console finds every graduation under one filter, whichever way it was done.
        await self.record(actor, "person_changed", user.id, "role: patient -> alumni (graduated)")
        graduate = Actor(user.id, user.display_name, user.role, frozenset(cohort_ids))
        for listener in self.access_listeners:
            await listener(graduate)
        await self.notifier.tell(user.id, "graduated", GRADUATED_TEXT)
        # The caller is staff, not the graduate: the login name stays private.
        return public_user(user)

    # ----- operator tasks (command line, demo) -----

    async def ensure_user(
        self,
        *,
        username: str,
        password: str,
        role: Role,
        display_name: str,
        cohort_id: int | None = None,
    ) -> tuple[User, bool]:
        """The user with this username, created when missing; True when it was created."""
        async with self.sessions() as session:
            existing = await store.get_user_by_username(session, username)
            if existing is not None:
                return existing, False
            self._check_password(password, username)
            user = User(
                username=username,
                display_name=display_name,
                role=role,
                password_hash=await self.passwords.hash(password),
                created_at=self.clock.now(),
            )
            await store.add_user(session, user, cohort_id)
            await session.commit()
            return user, True

    async def all_cohorts(self) -> list[Cohort]:
        async with self.sessions() as session:
            return await store.list_cohorts(session)

    async def user_id_of(self, username: str) -> int:
        async with self.sessions() as session:
            user = await store.get_user_by_username(session, username)
        if user is None or user.id is None:
            raise not_found(f"user named {username!r}")
        return user.id

    async def cohort_named(self, name: str) -> Cohort:
        async with self.sessions() as session:
            cohort = await store.get_cohort_by_name(session, name)
        if cohort is None:
            raise not_found(f"cohort named {name!r}")
        return cohort

    async def ensure_cohort(self, name: str) -> Cohort:
        async with self.sessions() as session:
            cohort = await store.get_cohort_by_name(session, name)
            if cohort is None:
                cohort = Cohort(name=name, created_at=self.clock.now())
                session.add(cohort)
                await session.commit()
            return cohort
