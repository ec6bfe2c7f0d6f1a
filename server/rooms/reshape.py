"""Changing what a room is after it was made (its kind, who it is for) without letting anyone
read what was said in it before they could.

- **Kind.** `group` and `peer` may become each other (a group room stays for one cohort). A
  `meeting` room stays one and no room becomes one: meeting series need a meeting room, and in
  one members post only during their sessions (meetings' MeetingWindowGate). The kind's
  default history visibility applies at creation only: a new kind keeps the room's.
- **Audience.** A room nobody wrote in yet may be for anyone. Once it has history, a change is
  refused (`conflict`) if someone, now or later, could then read a message they could not
  read before. The room's history visibility (rooms/visibility.py) is what may prevent that:
  - `since_joined`: people read from when they joined the audience, so whoever joins the new
    one later reads nothing said before; those of the new audience today must read no
    earlier than they could before (a cohort's patients joined it long ago).
  - `since_session`: everyone reads from the opening of the room's current session (before
    any, from now); there must be nothing newer for a newcomer to read.
  - `all`: whoever ever joins reads everything, so only a narrower audience (`everyone` to
    `alumni` or one cohort) is allowed.
  A private support conversation (audience `person`) stays with its one person.

Staff read every room's history whatever it is for, and are not counted.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from server.accounts import store as account_store
from server.kernel.actors import Actor
from server.kernel.errors import AppError
from server.rooms import store
from server.rooms.models import Audience, Room, room_with
from server.rooms.policy import may_enter
from server.rooms.visibility import HistoryWindow, Visibility

CHANGEABLE_KINDS = frozenset({"group", "peer"})


def conflict(message: str) -> AppError:
    return AppError("conflict", message)


def check_kind(before: Room, after: Room) -> None:
    if after.kind == before.kind:
        return
    if before.kind not in CHANGEABLE_KINDS or after.kind not in CHANGEABLE_KINDS:
        raise conflict(
            "kind: only group and peer rooms change kind; a meeting room stays one (its"
            " sessions need it). Create a new room instead."
        )


def narrower(after: Room, before: Room) -> bool:
    """Whether everyone the room will be for was already in its audience, by the rule."""
    if (after.audience, after.cohort_id) == (before.audience, before.cohort_id):
        return True
    return before.audience == Audience.EVERYONE and after.audience in (
        Audience.ALUMNI,
        Audience.COHORT,
    )


async def check_audience(
    session: AsyncSession, history: HistoryWindow, before: Room, after: Room
) -> None:
    """Refuses a new audience that would show someone history they could not read before."""
    if (after.audience, after.cohort_id) == (before.audience, before.cohort_id):
        return
    if before.audience == Audience.PERSON:
        raise conflict("audience: a private support conversation stays with its one person.")
    room_id = before.id or 0
    newest = (await store.last_message_ids(session, [room_id])).get(room_id)
    if newest is None:
        return  # nothing said yet: nothing to show anyone
    # Compared as open rooms (archiving aside), and with the visibility the room will have,
    # as if that had been changed first: a visibility alone is staff's to choose.
    before = room_with(before, archived_at=None, history_visibility=after.history_visibility)
    after = room_with(after, archived_at=None)
    refusal = conflict(
        "audience: people of the new audience could read what was said here before they"
        " could; with this room's history visibility, create a new room instead."
    )
    if not narrower(after, before):
        if after.history_visibility == Visibility.ALL:
            raise refusal
        if after.history_visibility == Visibility.SINCE_SESSION:
            if await history.hidden_from_someone(session, after) < newest:
                raise refusal
    for user_id in await store.audience_user_ids(session, after):
        person = await person_of(session, user_id)
        if person is None:
            continue
        could = (
            await history.hidden_through(session, person, before)
            if may_enter(person, before)
            else newest
        )
        if await history.hidden_through(session, person, after) < could:
            raise refusal


async def person_of(session: AsyncSession, user_id: int) -> Actor | None:
    """The person as the room's policy sees them, deactivated or not: an account brought
    back reads what its audience reads."""
    user = await account_store.get_user(session, user_id)
    if user is None or user.id is None:
        return None
    cohort_ids = frozenset(await account_store.cohort_ids_of(session, user.id))
    return Actor(user.id, user.display_name, user.role, cohort_ids)
