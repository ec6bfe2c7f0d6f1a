"""The program's consent notice: what it says, its version, and who has accepted which version
(docs/privacy.md, "Consent").

A person who has not accepted the current version may sign in, read it and accept it, and
manage their own account; everything else that uses their data (rooms, messages, the console)
answers `consent_required` until they do: over HTTP through accounts' `current_actor`, over
Socket.IO through the event router's gate, both wired in app.py."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from server.accounts.service import require_admin
from server.kernel.actors import Actor
from server.kernel.clock import Clock, iso_utc
from server.kernel.db import SessionFactory
from server.kernel.errors import AppError
from server.moderation.serialize import public_users
from server.privacy import consent_store as store
from server.privacy.consent_models import (
    AcceptancesQuery,
    ConsentAcceptance,
    ConsentIn,
    ConsentSource,
)

REGISTRATION: ConsentSource = "registration"
SIGN_IN: ConsentSource = "sign-in"

# A notice is read on a phone before anything else: a few pages, not a book.
MAX_NOTICE_BYTES = 64 * 1024
# Hex digits of the text's SHA-256 kept as its version: plenty to tell versions apart.
VERSION_DIGITS = 16


@dataclass(frozen=True)
class ConsentNotice:
    text: str
    version: str


def notice_version(text: str) -> str:
    """The version of a notice: its content's SHA-256 (so an edit cannot keep the version of
    what people accepted before it)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:VERSION_DIGITS]


def shipped_notice_text() -> str:
    return files("server.privacy").joinpath("consent_notice.md").read_text(encoding="utf-8")


def load_notice(path: Path | None) -> ConsentNotice:
    """The notice in `path` (the `consent_file` setting), or the shipped default. A notice
    that cannot be read stops the server from starting: nobody may be asked to accept
    something the server cannot show."""
    if path is None:
        text = shipped_notice_text()
    else:
        try:
            raw = path.read_bytes()
        except OSError as error:
            raise ValueError(f"consent_file {path}: cannot be read ({error})") from None
        if len(raw) > MAX_NOTICE_BYTES:
            raise ValueError(f"consent_file {path}: larger than {MAX_NOTICE_BYTES} bytes")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError(f"consent_file {path}: not UTF-8 text") from None
    if not text.strip():
        raise ValueError(f"consent_file {path}: the notice is empty")
    return ConsentNotice(text, notice_version(text))


def consent_required(version: str) -> AppError:
    return AppError(
        "consent_required",
        "Read and accept the program's notice (what is kept, who reads it) to go on.",
        version=version,
    )


def acceptance_json(
    acceptance: ConsentAcceptance, users: dict[int, dict[str, Any]], current: str
) -> dict[str, Any]:
    return {
        "id": acceptance.id,
        "user": users.get(acceptance.user_id),
        "version": acceptance.version,
        "accepted_at": iso_utc(acceptance.accepted_at),
        "source": acceptance.source,
        "current": acceptance.version == current,
    }


@dataclass
class ConsentBook:
    """The notice in force and the acceptances of it: what accounts asks (accounts.service's
    ConsentGate) and what the consent routes answer."""

    sessions: SessionFactory
    clock: Clock
    notice: ConsentNotice
    # People known to have accepted the current notice. An acceptance is never taken back
    # and the notice changes only with a restart, so a yes, once read, holds for this
    # process's life; a no is asked of the database each time (another process may have
    # taken the acceptance since).
    _accepted: set[int] = field(default_factory=set, init=False, repr=False)

    @property
    def version(self) -> str:
        return self.notice.version

    def notice_json(self) -> dict[str, Any]:
        return {"version": self.notice.version, "text": self.notice.text}

    async def start(self) -> None:
        """Everyone who has accepted the notice in force, read once as serving starts: after a
        restart each reconnecting person's connect would otherwise read their own, one
        statement each in a reconnect storm."""
        async with self.sessions() as session:
            self._accepted.update(await store.accepters_of(session, self.notice.version))

    async def close(self) -> None:
        """Nothing to let go: a Startable's other half."""

    # ----- what accounts asks -----

    def check_offered(self, version: str, field_name: str = "consent_version") -> None:
        """`conflict` unless `version` is the notice in force: the person read another one."""
        if version != self.notice.version:
            raise AppError(
                "conflict",
                f"{field_name}: the notice has changed since it was shown; read it again"
                " and accept it.",
            )

    def record_registration(self, session: AsyncSession, user_id: int, version: str) -> None:
        """A new account's acceptance of the version `check_offered` let through, in the
        transaction that creates the account."""
        store.add_acceptance(session, user_id, version, REGISTRATION, self.clock.now())

    async def version_due(self, user_id: int) -> str | None:
        """The version this person must accept before going on; None when they have."""
        if user_id in self._accepted:
            return None
        async with self.sessions() as session:
            found = await store.acceptance_of(session, user_id, self.notice.version)
        if found is None:
            return self.notice.version
        self._accepted.add(user_id)
        return None

    async def require(self, actor: Actor) -> None:
        """`consent_required` while the person has not accepted the notice in force."""
        due = await self.version_due(actor.id)
        if due is not None:
            raise consent_required(due)

    # ----- the routes -----

    async def accept(self, actor: Actor, data: ConsentIn) -> dict[str, Any]:
        """The person accepts the notice in force (again: the same answer, nothing added)."""
        self.check_offered(data.version, "version")
        async with self.sessions() as session:
            found = await store.acceptance_of(session, actor.id, data.version)
            if found is None:
                found = store.add_acceptance(
                    session, actor.id, data.version, SIGN_IN, self.clock.now()
                )
                try:
                    await session.commit()
                except IntegrityError:
                    # Accepted at the same moment in another tab: that acceptance stands.
                    await session.rollback()
                    found = await store.acceptance_of(session, actor.id, data.version)
            assert found is not None  # noqa: S101 - stored above, or by the other tab
            users = await public_users(session, [actor.id])
        self._accepted.add(actor.id)
        return acceptance_json(found, users, self.notice.version)

    async def acceptances(self, actor: Actor, query: AcceptancesQuery) -> dict[str, Any]:
        """Admins: acceptances newest first, a page (`next_before` pages back)."""
        require_admin(actor)
        async with self.sessions() as session:
            found = await store.acceptances(session, query)
            page = found[: query.limit]
            users = await public_users(session, [each.user_id for each in page])
        more = len(found) > query.limit and page
        return {
            "acceptances": [acceptance_json(each, users, self.notice.version) for each in page],
            "next_before": page[-1].id if more else None,
        }
