"""Who may enter which room: the one audience rule that HTTP and Socket.IO both ask."""

from __future__ import annotations

from server.kernel.actors import Actor, Role
from server.kernel.errors import forbidden
from server.rooms.models import Audience, Room, room_with

ARCHIVED_TEXT = "This room is archived: it is closed, and its history is kept for staff."


def may_enter(actor: Actor, room: Room) -> bool:
    if actor.is_staff:
        return True
    if room.archived_at is not None:
        return False
    if room.audience == Audience.EVERYONE:
        return actor.role in (Role.PATIENT, Role.ALUMNI)
    if room.audience == Audience.ALUMNI:
        return actor.role == Role.ALUMNI
    if room.audience == Audience.COHORT:
        return actor.role == Role.PATIENT and room.cohort_id in actor.cohort_ids
    if room.audience == Audience.PERSON:
        return room.member_id is not None and room.member_id == actor.id
    return False


def require_entry(actor: Actor, room: Room) -> None:
    if may_enter(actor, room):
        return
    # Only its own audience learn that the room was archived.
    if room.archived_at is not None and may_enter(actor, room_with(room, archived_at=None)):
        raise forbidden(ARCHIVED_TEXT)
    raise forbidden("This room is not open to you.")


# ----- the audience channels (rooms/activity.py) -----
#
# Every socket of a person who may follow rooms is in the channels of the audiences they belong
# to, so that what concerns every room of an audience goes to one channel, not to each person.
# They say `may_enter`'s rule over again, per audience: `test_room_activity.py` holds the two
# against each other for every role and audience.

STAFF_AUDIENCE = "audience:staff"
EVERYONE_AUDIENCE = "audience:everyone"
ALUMNI_AUDIENCE = "audience:alumni"


def cohort_audience(cohort_id: int) -> str:
    return f"audience:cohort:{cohort_id}"


def person_audience(user_id: int) -> str:
    # Not the person's own user channel: an older process (during an upgrade) would give
    # that one what was meant only for some of its sockets (realtime/delivery.py).
    return f"audience:person:{user_id}"


def audience_channels(actor: Actor) -> frozenset[str]:
    """The channels of the audiences of every room the actor may enter."""
    if actor.is_staff:
        return frozenset({STAFF_AUDIENCE})
    channels = {person_audience(actor.id)}
    if actor.role in (Role.PATIENT, Role.ALUMNI):
        channels.add(EVERYONE_AUDIENCE)
    if actor.role == Role.ALUMNI:
        channels.add(ALUMNI_AUDIENCE)
    if actor.role == Role.PATIENT:
        channels.update(cohort_audience(cohort_id) for cohort_id in actor.cohort_ids)
    return frozenset(channels)


def room_channels(room: Room) -> list[str]:
    """The channels of those who may enter the room: its audience's, and staff's."""
    channels = [STAFF_AUDIENCE]
    if room.archived_at is not None:
        return channels
    if room.audience == Audience.EVERYONE:
        channels.append(EVERYONE_AUDIENCE)
    elif room.audience == Audience.ALUMNI:
        channels.append(ALUMNI_AUDIENCE)
    elif room.audience == Audience.COHORT and room.cohort_id is not None:
        channels.append(cohort_audience(room.cohort_id))
    elif room.audience == Audience.PERSON and room.member_id is not None:
        channels.append(person_audience(room.member_id))
    return channels
