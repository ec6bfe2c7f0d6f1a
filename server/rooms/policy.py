"""Who may enter which room: the one audience rule that HTTP and Socket.IO both ask."""

from __future__ import annotations

from server.kernel.actors import Actor, Role
from server.kernel.errors import forbidden
from server.rooms.models import Audience, Room


def may_enter(actor: Actor, room: Room) -> bool:
    if actor.is_staff:
        return True
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
    if not may_enter(actor, room):
        raise forbidden("This room is not open to you.")
