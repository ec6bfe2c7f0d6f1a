"""The send pipeline's seams. Rooms know only these interfaces; moderation and meetings supply
the implementations, and the composition root puts them in order.

- An `AccessGate` decides whether someone may be in a room at all right now (a ban).
- A `PostGate` may refuse or reshape a post (`send` or `edit`) before it is stored.
- A `PostListener` hears about posts once stored, and about refused ones.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from server.kernel.actors import Actor
from server.kernel.errors import AppError
from server.kernel.hotpath.statements import HotStatement
from server.kernel.hotpath.writer import Rows
from server.rooms.models import Room


@dataclass(frozen=True)
class StoredWithPost:
    """A row that belongs to the post's own transaction (a crisis alert): stored with the
    message or not at all, so nothing after the commit can lose it. `params` are given the
    message's id; the rows it answers are in `Draft.stored[name]` for the listeners."""

    name: str
    statement: HotStatement
    params: Callable[[int], Mapping[str, Any]]


async def nothing_to_hold() -> None:
    return None


@dataclass
class Draft:
    """A post on its way to storage. Gates may refuse it or change `body`."""

    actor: Actor
    room: Room
    body: str
    action: Literal["send", "edit"]
    now: datetime
    # What gates read through. An edit is stored in this session too. A send is not: it
    # commits on the hot path's own connection while its room's turn is held
    # (kernel/hotpath/writer.py), and this is a session of the request's own, made only if
    # a gate reads (kernel/db.py: session_on_first_use); what a gate reads here was
    # committed before it read (see `hold_turn`).
    reads: AsyncSession
    # Set by the crisis gate, which runs first. Nobody in crisis is silenced: see `refuse`.
    crisis: bool = False
    # What gates found, for the listeners (for example the crisis match).
    findings: dict[str, Any] = field(default_factory=dict)
    # Refusals that a crisis post went through regardless.
    overridden: list[str] = field(default_factory=list)
    # Rows that gates ask to be stored in the post's transaction, and once it committed,
    # what each answered (by name).
    stored_with: list[StoredWithPost] = field(default_factory=list)
    stored: dict[str, Rows] = field(default_factory=dict)
    # A gate that reads what the room's turn protects (the author's latest post) calls this
    # first: from then on no other process's send to the room commits until this one has
    # (kernel/hotpath/writer.py: `Turn.hold`). Within a process the turn always holds.
    hold_turn: Callable[[], Awaitable[None]] = nothing_to_hold

    def refuse(self, error: AppError) -> None:
        """Refuse the post, unless it speaks of crisis; then note the refusal and let it pass."""
        if self.crisis:
            self.overridden.append(error.code)
            return
        raise error


class AccessGate(Protocol):
    async def check_access(
        self, session: AsyncSession, actor: Actor, room: Room, now: datetime
    ) -> None: ...

    async def kept_out(self, session: AsyncSession, room: Room, now: datetime) -> set[int]:
        """The people `check_access` refuses in this room now, of any audience: what goes to
        the room's whole audience at once (rooms/activity.py) skips them."""
        ...


class PostGate(Protocol):
    async def check(self, draft: Draft) -> None: ...


class PostListener(Protocol):
    async def post_stored(self, draft: Draft, message: dict[str, Any]) -> None: ...

    async def post_refused(self, actor: Actor, room_id: int, body: str, error: AppError) -> None:
        """A post that never reached storage (refused before or by the gates)."""
        ...

    async def post_repeated(self, actor: Actor, message: dict[str, Any]) -> None:
        """A send repeated with a client_id already stored, answered with that message: what
        the first send's listeners did not finish (it failed after the commit) may be done
        now, once."""
        ...


class RoomLockGate:
    """A locked room takes no new posts or edits, except from moderators and admins; an
    archived one takes none at all. Only staff may enter an archived room (rooms/policy.py),
    so a member's crisis words there were refused before this, and raised an alert then."""

    async def check(self, draft: Draft) -> None:
        if draft.room.archived_at is not None:
            raise AppError("room_locked", "This room is archived: it takes no new messages.")
        if draft.room.locked and not draft.actor.is_staff:
            draft.refuse(
                AppError("room_locked", "This room is locked by a moderator; posting is paused.")
            )


@dataclass
class StoredSendCounter:
    """A post listener that counts the sends stored (not edits); `count` is the metrics'
    counter, wired in server/app.py, so rooms need not know the metrics."""

    count: Callable[[], None]

    async def post_stored(self, draft: Draft, message: dict[str, Any]) -> None:
        if draft.action == "send":
            self.count()

    async def post_refused(self, *_: Any) -> None:
        return None

    async def post_repeated(self, *_: Any) -> None:
        return None
