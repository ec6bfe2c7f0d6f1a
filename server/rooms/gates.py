"""The send pipeline's gate interface: each rule that may refuse or reshape a post is a gate.

Rooms know only this interface; moderation and meetings supply gates, and the composition
root puts them in order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from server.accounts.models import Actor
from server.kernel.errors import AppError
from server.rooms.models import Room


@dataclass
class Draft:
    """A post on its way to storage. Gates may refuse it (raise AppError) or change `body`."""

    actor: Actor
    room: Room
    body: str
    action: Literal["send", "edit"]
    now: datetime


class PostGate(Protocol):
    async def check(self, draft: Draft) -> None: ...


class RoomLockGate:
    """A locked room takes no new posts or edits, except from moderators and admins."""

    async def check(self, draft: Draft) -> None:
        if draft.room.locked and not draft.actor.is_staff:
            raise AppError("room_locked", "This room is locked by a moderator; posting is paused.")
