"""Every database read and write of the accounts feature."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import lru_cache

from sqlalchemy import Integer, bindparam, delete, func, or_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from server.accounts.models import (
    Cohort,
    CohortMembership,
    Invite,
    PasswordReset,
    PeopleQuery,
    User,
    UserSession,
)
from server.kernel.actors import Actor
from server.kernel.hotpath.statements import HotStatement


async def get_user(session: AsyncSession, user_id: int) -> User | None:
    return await session.get(User, user_id)


async def get_users(session: AsyncSession, user_ids: Sequence[int]) -> list[User]:
    if not user_ids:
        return []
    result = await session.execute(select(User).where(col(User.id).in_(user_ids)))
    return list(result.scalars())


# How many people's public fields one statement reads; ids past a short list's end are NULL,
# which matches no one.
PUBLIC_USERS_AT_ONCE = 8
_PUBLIC_USERS = HotStatement(
    select(col(User.id), col(User.display_name), col(User.role)).where(
        col(User.id).in_([bindparam(f"id{n}", type_=Integer) for n in range(PUBLIC_USERS_AT_ONCE)])
    )
)


async def public_user_rows(
    session: AsyncSession, user_ids: Sequence[int]
) -> list[tuple[int, str, str]]:
    """Each person's id, display name and role, on the driver (`PUBLIC_USERS_AT_ONCE` a
    statement): every alert, report and list of them names people, and an ORM read of the
    users was a tenth of a crisis alert's CPU on SQLite (docs/performance.md)."""
    # What the session holds unwritten is written first, as an ORM read would.
    await session.flush()
    found: list[tuple[int, str, str]] = []
    for start in range(0, len(user_ids), PUBLIC_USERS_AT_ONCE):
        chunk = list(user_ids[start : start + PUBLIC_USERS_AT_ONCE])
        padded = chunk + [None] * (PUBLIC_USERS_AT_ONCE - len(chunk))
        params = {f"id{n}": user_id for n, user_id in enumerate(padded)}
        found.extend(
            (int(user_id), display_name, role)
            for user_id, display_name, role in await _PUBLIC_USERS.rows(session, params)
        )
    return found


async def get_user_by_username(session: AsyncSession, username: str) -> User | None:
    result = await session.execute(select(User).where(User.username == username))
    return result.scalars().first()


async def cohort_ids_of(session: AsyncSession, user_id: int) -> list[int]:
    result = await session.execute(
        select(CohortMembership.cohort_id)
        .where(CohortMembership.user_id == user_id)
        .order_by(col(CohortMembership.cohort_id))
    )
    return list(result.scalars())


async def add_user(session: AsyncSession, user: User, cohort_id: int | None) -> User:
    """A new account, and its membership of `cohort_id` joined as the account is made."""
    session.add(user)
    await session.flush()
    if cohort_id is not None and user.id is not None:
        session.add(
            CohortMembership(user_id=user.id, cohort_id=cohort_id, joined_at=user.created_at)
        )
        await session.flush()
    return user


async def joined_cohort_at(session: AsyncSession, user_id: int, cohort_id: int) -> datetime | None:
    """When the person joined the cohort; None when not a member, or a member from before
    joining times were recorded."""
    result = await session.execute(
        select(CohortMembership.joined_at).where(
            CohortMembership.user_id == user_id, CohortMembership.cohort_id == cohort_id
        )
    )
    return result.scalars().first()


async def get_cohort(session: AsyncSession, cohort_id: int) -> Cohort | None:
    return await session.get(Cohort, cohort_id)


async def get_cohort_by_name(session: AsyncSession, name: str) -> Cohort | None:
    result = await session.execute(select(Cohort).where(Cohort.name == name))
    return result.scalars().first()


async def list_cohorts(session: AsyncSession) -> list[Cohort]:
    result = await session.execute(select(Cohort).order_by(col(Cohort.id)))
    return list(result.scalars())


async def list_invites(
    session: AsyncSession, *, roles: Sequence[str], usable_at: datetime | None
) -> list[Invite]:
    """Invites for these roles, newest first; with `usable_at`, only those still usable then."""
    statement = select(Invite).where(col(Invite.role).in_(roles))
    if usable_at is not None:
        statement = statement.where(
            col(Invite.revoked_at).is_(None),
            col(Invite.expires_at) > usable_at,
            col(Invite.uses) < col(Invite.max_uses),
        )
    result = await session.execute(statement.order_by(col(Invite.id).desc()).limit(500))
    return list(result.scalars())


async def get_invite(session: AsyncSession, code: str) -> Invite | None:
    result = await session.execute(select(Invite).where(Invite.code == code))
    return result.scalars().first()


async def consume_invite_use(session: AsyncSession, invite_id: int, now: datetime) -> bool:
    """Count one use of an invite, atomically, if it still has one and has not expired."""
    result = await session.execute(
        update(Invite)
        .where(
            col(Invite.id) == invite_id,
            col(Invite.uses) < col(Invite.max_uses),
            col(Invite.expires_at) > now,
        )
        .values(uses=col(Invite.uses) + 1)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def _actor_rows(*, signed_in: bool) -> HotStatement:
    """An active account's actor fields, one row per cohort it belongs to (one row with no
    cohort for none); with `signed_in`, only while the sign-in `session_id` of theirs has not
    ended. One statement on the driver: every connect asks it, and in a reconnect storm its
    three ORM reads were a twentieth of the restarted server's CPU (docs/performance.md)."""
    statement = select(  # type: ignore[call-overload]
        col(User.id),
        col(User.display_name),
        col(User.role),
        col(User.pronouns),
        col(User.line),
        col(CohortMembership.cohort_id),
    ).outerjoin(CohortMembership, col(CohortMembership.user_id) == col(User.id))
    if signed_in:
        statement = statement.join(
            UserSession,
            (col(UserSession.user_id) == col(User.id))
            & (col(UserSession.id) == bindparam("session_id"))
            & col(UserSession.ended_at).is_(None),
        )
    return HotStatement(
        statement.where(
            User.id == bindparam("user_id"), col(User.deactivated_at).is_(None)
        ).order_by(col(CohortMembership.cohort_id))
    )


@lru_cache(maxsize=4096)
def shared_cohort_set(cohort_ids: tuple[int, ...]) -> frozenset[int]:
    """One frozenset per set of cohorts, shared by every actor in them: each connection keeps
    its actor, and a frozenset costs 216 bytes however few it holds."""
    return frozenset(cohort_ids)


_ACTOR = _actor_rows(signed_in=False)
_SIGNED_IN_ACTOR = _actor_rows(signed_in=True)


async def load_actor(
    session: AsyncSession, user_id: int, session_id: str | None = None
) -> Actor | None:
    """The actor of an account that is active; with `session_id`, only while that sign-in of
    theirs has not ended."""
    if session_id is None:
        rows = await _ACTOR.rows(session, {"user_id": user_id})
    else:
        rows = await _SIGNED_IN_ACTOR.rows(session, {"user_id": user_id, "session_id": session_id})
    if not rows:
        return None
    found_id, display_name, role, pronouns, line, _ = rows[0]
    return Actor(
        found_id,
        display_name,
        role,
        shared_cohort_set(tuple(row[5] for row in rows if row[5] is not None)),
        session_id,
        pronouns=pronouns,
        line=line,
    )


async def open_sessions(session: AsyncSession, user_id: int) -> list[UserSession]:
    result = await session.execute(
        select(UserSession)
        .where(col(UserSession.user_id) == user_id, col(UserSession.ended_at).is_(None))
        .order_by(col(UserSession.created_at))
    )
    return list(result.scalars())


async def end_sessions(
    session: AsyncSession,
    user_id: int,
    now: datetime,
    *,
    only: str | None = None,
    keep: str | None = None,
) -> list[str]:
    """End a user's open sessions (`only` that one; all but `keep`); answers the ids ended."""
    ended = [
        each.id
        for each in await open_sessions(session, user_id)
        if (only is None or each.id == only) and each.id != keep
    ]
    if ended:
        await session.execute(
            update(UserSession).where(col(UserSession.id).in_(ended)).values(ended_at=now)
        )
    return ended


async def rotate_refresh(
    session: AsyncSession,
    session_id: str,
    *,
    presented: str,
    replacement: str,
    now: datetime,
    until: datetime,
) -> bool:
    """Replace a sign-in's renewal secret, only if `presented` is still the current one (two
    tabs renewing at once: one wins, the other finds it replaced). Answers whether it was."""
    result = await session.execute(
        update(UserSession)
        .where(
            col(UserSession.id) == session_id,
            col(UserSession.refresh_digest) == presented,
            col(UserSession.ended_at).is_(None),
        )
        .values(
            refresh_digest=replacement,
            refresh_previous_digest=presented,
            refresh_rotated_at=now,
            remembered_until=until,
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def display_names(session: AsyncSession, *, besides: int | None = None) -> list[str]:
    """Every account's display name (a community is hundreds of people, not millions);
    `besides`: but this user's."""
    statement = select(User.display_name)
    if besides is not None:
        statement = statement.where(col(User.id) != besides)
    result = await session.execute(statement)
    return list(result.scalars())


# ----- the people list (staff) -----


def _like(text: str) -> str:
    """A LIKE pattern matching `text` anywhere, its own wildcards taken literally."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def find_users(
    session: AsyncSession, query: PeopleQuery, *, search_usernames: bool
) -> list[User]:
    """One page of users matching the filters, by id (one more than the limit, so the caller
    knows whether another page follows)."""
    statement = select(User).where(col(User.id) > query.after)
    if query.role is not None:
        statement = statement.where(User.role == query.role)
    if query.status == "active":
        statement = statement.where(col(User.deactivated_at).is_(None))
    elif query.status == "deactivated":
        statement = statement.where(col(User.deactivated_at).is_not(None))
    if query.cohort_id is not None:
        members = select(CohortMembership.user_id).where(
            CohortMembership.cohort_id == query.cohort_id
        )
        statement = statement.where(col(User.id).in_(members))
    if query.q:
        pattern = _like(query.q)
        matches = [func.lower(User.display_name).like(pattern, escape="\\")]
        if search_usernames:
            matches.append(func.lower(User.username).like(pattern, escape="\\"))
        statement = statement.where(or_(*matches))
    statement = statement.order_by(col(User.id)).limit(query.limit + 1)
    return list((await session.execute(statement)).scalars())


async def cohorts_of_users(session: AsyncSession, user_ids: Sequence[int]) -> dict[int, list[int]]:
    if not user_ids:
        return {}
    result = await session.execute(
        select(CohortMembership.user_id, CohortMembership.cohort_id)
        .where(col(CohortMembership.user_id).in_(user_ids))
        .order_by(col(CohortMembership.cohort_id))
    )
    cohorts: dict[int, list[int]] = {user_id: [] for user_id in user_ids}
    for user_id, cohort_id in result.all():
        cohorts[user_id].append(cohort_id)
    return cohorts


async def last_sign_ins(session: AsyncSession, user_ids: Sequence[int]) -> dict[int, datetime]:
    if not user_ids:
        return {}
    result = await session.execute(
        select(UserSession.user_id, func.max(UserSession.created_at))
        .where(col(UserSession.user_id).in_(user_ids))
        .group_by(col(UserSession.user_id))
    )
    return {int(user_id): latest for user_id, latest in result.all()}


# Last seen, for many people in one statement run once per person (executemany): no row is
# written where the person was seen since `stale`, so processes seeing the same person write
# it once.
_USERS = User.__table__  # type: ignore[attr-defined]
_MARK_SEEN = (
    update(_USERS)
    .where(
        _USERS.c.id == bindparam("seen_id"),
        or_(_USERS.c.last_seen_at.is_(None), _USERS.c.last_seen_at < bindparam("stale")),
    )
    .values(last_seen_at=bindparam("seen_at"))
)


async def mark_seen(
    session: AsyncSession, sightings: Sequence[tuple[int, datetime]], every: timedelta
) -> None:
    """Records when each person was seen, unless they were seen less than `every` before.
    One statement for them all: one at a time, a reconnect storm's 2,000 sightings held
    SQLite's write lock for seconds (docs/performance.md)."""
    if sightings:
        await session.execute(
            _MARK_SEEN,
            [
                {"seen_id": user_id, "seen_at": moment, "stale": moment - every}
                for user_id, moment in sightings
            ],
        )


async def set_only_cohort(
    session: AsyncSession, user_id: int, cohort_id: int, now: datetime
) -> None:
    """Makes `cohort_id` the person's one cohort, joined `now` unless they belong to it
    already (then their joining time stays: they have read that history)."""
    await session.execute(
        delete(CohortMembership).where(
            col(CohortMembership.user_id) == user_id, col(CohortMembership.cohort_id) != cohort_id
        )
    )
    if await session.get(CohortMembership, (user_id, cohort_id)) is None:
        session.add(CohortMembership(user_id=user_id, cohort_id=cohort_id, joined_at=now))
    await session.flush()


# ----- password resets -----


async def reset_by_code_hash(session: AsyncSession, code_hash: str) -> PasswordReset | None:
    result = await session.execute(
        select(PasswordReset).where(PasswordReset.code_hash == code_hash)
    )
    return result.scalars().first()


async def use_reset(session: AsyncSession, reset_id: int, now: datetime) -> bool:
    """Mark a reset used, once: False when another request used it first."""
    result = await session.execute(
        update(PasswordReset)
        .where(col(PasswordReset.id) == reset_id, col(PasswordReset.used_at).is_(None))
        .values(used_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def retire_resets(session: AsyncSession, user_id: int, now: datetime) -> None:
    """A new code replaces the person's earlier unused ones."""
    await session.execute(
        update(PasswordReset)
        .where(col(PasswordReset.user_id) == user_id, col(PasswordReset.used_at).is_(None))
        .values(used_at=now)
    )
