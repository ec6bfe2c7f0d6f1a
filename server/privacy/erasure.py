"""Erasure: a person asks (or staff ask for them) to be erased; an admin approves or declines;
nothing is erased before. Approved, in one transaction: the account is deactivated under a
pseudonym and every sign-in ends, their messages' text is replaced (or kept, by the
`erasure_messages` setting) and shown as removed, and what reaches them (email, pushes,
follows, the calendar feed) is removed; the program's records (the moderation audit,
attendance, check-ins, alerts) stay, under the pseudonym. A legal hold on the person refuses
it; what was said in a room under a hold stays as it is (docs/privacy.md: "Erasure")."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from server.accounts import store as account_store
from server.accounts.models import User
from server.accounts.people import admin_rights, managed_user
from server.accounts.service import AccountService, require_admin
from server.kernel.actors import Actor
from server.kernel.audit import AuditSink
from server.kernel.clock import Clock, iso_utc
from server.kernel.db import SessionFactory
from server.kernel.errors import AppError, forbidden, not_found
from server.moderation import store as moderation_store
from server.moderation.serialize import PublicUsers, public_users
from server.privacy import erasure_store as store
from server.privacy import exports_store
from server.privacy.exports_models import (
    ErasureDecisionIn,
    ErasureQuery,
    ErasureRequest,
    ErasureRequestIn,
    ErasureStatus,
)
from server.privacy.holds import holds_covering
from server.realtime.hub import Hub

ERASED_TEXT = "Removed at the member's request."
REQUESTED = "erasure_requested"
APPROVED = "erasure_approved"
DECLINED = "erasure_declined"
DONE = "erasure_done"

# Tells every process to read a room again (its name changed): the rooms' shared cache.
ForgetRoom = Callable[[int], Awaitable[None]]


def request_json(request: ErasureRequest, users: PublicUsers) -> dict[str, Any]:
    return {
        "id": request.id,
        "user": users.get(request.user_id),
        "requested_by": users.get(request.requested_by) if request.requested_by else None,
        "reason": request.reason,
        "status": request.status,
        "created_at": iso_utc(request.created_at),
        "decided_by": users.get(request.decided_by) if request.decided_by else None,
        "decided_at": iso_utc(request.decided_at),
        "note": request.note,
    }


@dataclass(frozen=True)
class Erased:
    """What an erasure did, for live clients and the audit log."""

    user_id: int
    ended_sessions: list[str]
    removed: list[store.Removed]
    kept_under_holds: int
    renamed_rooms: list[int]


@dataclass
class Erasures:
    sessions: SessionFactory
    clock: Clock
    audit: AuditSink
    hub: Hub
    accounts: AccountService
    forget_room: ForgetRoom
    # The `erasure_messages` setting: "replace" (the default) or "keep".
    replace_messages: bool = True

    # ----- asking -----

    async def request_own(self, actor: Actor, data: ErasureRequestIn) -> dict[str, Any]:
        return await self._request(actor, actor.id, data.reason)

    async def request_for(
        self, actor: Actor, user_id: int, data: ErasureRequestIn
    ) -> dict[str, Any]:
        """Staff, on the person's behalf: moderators for patients and alumni, admins for
        anyone."""
        is_admin = admin_rights(actor)
        async with self.sessions() as session:
            await managed_user(session, user_id, is_admin=is_admin)
        return await self._request(actor, user_id, data.reason)

    async def _request(self, actor: Actor, user_id: int, reason: str) -> dict[str, Any]:
        async with self.sessions() as session:
            if await store.was_erased(session, user_id):
                raise AppError("conflict", "This person has been erased already.")
            if await store.pending_request_of(session, user_id) is not None:
                raise AppError("conflict", "An erasure request for this person is waiting already.")
            request = ErasureRequest(
                user_id=user_id, requested_by=actor.id, reason=reason, created_at=self.clock.now()
            )
            session.add(request)
            await session.commit()
            answer = await self._json(session, [request])
        await self._record(actor, REQUESTED, request)
        return answer[0]

    # ----- reading -----

    async def mine(self, actor: Actor) -> list[dict[str, Any]]:
        async with self.sessions() as session:
            found = await store.requests(session, status="all", user_id=actor.id)
            return await self._json(session, found)

    async def list_requests(self, actor: Actor, query: ErasureQuery) -> list[dict[str, Any]]:
        require_admin(actor)
        async with self.sessions() as session:
            found = await store.requests(session, status=query.status, user_id=query.user_id)
            return await self._json(session, found)

    # ----- deciding -----

    async def decline(
        self, actor: Actor, request_id: int, data: ErasureDecisionIn
    ) -> dict[str, Any]:
        require_admin(actor)
        async with self.sessions() as session:
            request = await self._pending(session, request_id)
            if not await store.decide(
                session,
                request_id,
                ErasureStatus.DECLINED,
                by=actor.id,
                note=data.note,
                now=self.clock.now(),
            ):
                raise decided_already()
            await session.commit()
        await self._record(actor, DECLINED, request)
        return await self._answer(request_id)

    async def approve(
        self, actor: Actor, request_id: int, data: ErasureDecisionIn
    ) -> dict[str, Any]:
        """Erase the person now; `conflict` (naming the hold's reason) under a legal hold."""
        require_admin(actor)
        async with self.sessions() as session:
            request = await self._pending(session, request_id)
            if request.user_id == actor.id:
                raise forbidden("Another admin must approve the erasure of your own account.")
            await refuse_under_hold(session, request.user_id)
            await refuse_while_in_crisis(session, request.user_id)
        await self._record(actor, APPROVED, request)
        erased = await self._erase(actor, request, data.note)
        await self._tell_everyone(erased)
        await self._record(actor, DONE, request, done_text(erased, self.replace_messages))
        return await self._answer(request_id)

    async def _erase(self, actor: Actor, request: ErasureRequest, note: str) -> Erased:
        """The whole erasure in one transaction: it happens entirely or not at all."""
        user_id, now = request.user_id, self.clock.now()
        async with self.sessions() as session:
            decided = await store.decide(
                session, request.id or 0, ErasureStatus.ERASED, by=actor.id, note=note, now=now
            )
            if not decided:
                raise decided_already()
            await refuse_under_hold(session, user_id)
            user = await session.get(User, user_id)
            if user is None:
                raise not_found("user")
            names = await store.new_pseudonym(session)
            await store.pseudonymise(session, user, names, now)
            ended = await account_store.end_sessions(session, user_id, now)
            await store.forget_sign_in_details(session, user_id)
            held = await store.rooms_under_hold(session)
            removed: list[store.Removed] = []
            if self.replace_messages:
                removed = await store.replace_messages(session, user_id, ERASED_TEXT, held=held)
                await store.replace_words_elsewhere(session, user_id, ERASED_TEXT, held=held)
            kept = await store.messages_shown_in(session, user_id, held)
            await store.remove_personal_settings(session, user_id, now)
            await exports_store.forget_exports_of(session, user_id)
            renamed = await store.rename_support_rooms(session, user_id, names[0])
            await session.commit()
        return Erased(user_id, ended, removed, kept, renamed)

    async def _tell_everyone(self, erased: Erased) -> None:
        """After the commit: the person's sockets close on every process, and every room
        they wrote in shows their messages removed at once."""
        close_sockets = self.accounts.close_sockets
        if erased.ended_sessions and close_sockets is not None:
            await close_sockets(erased.user_id, erased.ended_sessions)
        for listener in self.accounts.deactivation_listeners:
            await listener(erased.user_id)
        for room_id in erased.renamed_rooms:
            await self.forget_room(room_id)
        await self._announce_removed(erased.removed)
        if self.replace_messages:
            # A send already under way when the sign-ins ended may have landed since.
            await self._announce_removed(await self._replace_late_messages(erased.user_id))

    async def _replace_late_messages(self, user_id: int) -> list[store.Removed]:
        async with self.sessions() as session:
            held = await store.rooms_under_hold(session)
            late = await store.replace_messages(session, user_id, ERASED_TEXT, held=held)
            await session.commit()
        return late

    async def _announce_removed(self, removed: list[store.Removed]) -> None:
        # The event a deletion sends: every client shows the message removed.
        for message in removed:
            await self.hub.to_room(
                message.room_id, "message_deleted", {"id": message.id, "room_id": message.room_id}
            )

    # ----- guards -----

    async def refuse_reactivation(self, user_id: int) -> None:
        """An erased account stays deactivated (AccountService's reactivation guard)."""
        async with self.sessions() as session:
            if await store.was_erased(session, user_id):
                raise AppError(
                    "conflict", "This account was erased at the member's request; it stays closed."
                )

    # ----- helpers -----

    async def _pending(self, session: AsyncSession, request_id: int) -> ErasureRequest:
        request = await session.get(ErasureRequest, request_id)
        if request is None:
            raise not_found("erasure request")
        if request.status != ErasureStatus.PENDING:
            raise decided_already()
        return request

    async def _answer(self, request_id: int) -> dict[str, Any]:
        async with self.sessions() as session:
            request = await session.get(ErasureRequest, request_id)
            assert request is not None  # noqa: S101 - requests are never deleted
            return (await self._json(session, [request]))[0]

    async def _json(
        self, session: AsyncSession, found: list[ErasureRequest]
    ) -> list[dict[str, Any]]:
        users = await public_users(
            session,
            [id_ for r in found for id_ in (r.user_id, r.requested_by, r.decided_by)],
        )
        return [request_json(request, users) for request in found]

    async def _record(
        self, actor: Actor, action: str, request: ErasureRequest, detail: str = ""
    ) -> None:
        # Never the person's alias or words: the entry names them by id (the log shows
        # their pseudonym once they are erased).
        text = f"request {request.id}" + (f": {detail}" if detail else "")
        await self.audit.record(
            actor_id=actor.id, action=action, target_user_id=request.user_id, reason=text
        )


async def refuse_under_hold(session: AsyncSession, user_id: int) -> None:
    holds = await holds_covering(session, user_id=user_id)
    if holds:
        raise AppError(
            "conflict",
            f"A legal hold keeps this person's records: {holds[0].reason}",
            hold_id=holds[0].id,
        )


async def refuse_while_in_crisis(session: AsyncSession, user_id: int) -> None:
    """Not while a crisis alert about the person is open: the words staff must read, and the
    account they may need to reach the person through, would be gone before anyone looked."""
    alert = await moderation_store.open_crisis_alert_of(session, user_id)
    if alert is not None:
        raise AppError(
            "conflict",
            "A crisis alert about this person is still open: acknowledge it in the console first.",
            alert_id=alert.id,
        )


def decided_already() -> AppError:
    return AppError("conflict", "This erasure request has been decided already.")


def done_text(erased: Erased, replaced: bool) -> str:
    words = (
        f"{len(erased.removed)} messages replaced"
        if replaced
        else "messages kept (erasure_messages = keep)"
    )
    held = f", {erased.kept_under_holds} kept under legal holds on rooms"
    return words + (held if erased.kept_under_holds and replaced else "")
