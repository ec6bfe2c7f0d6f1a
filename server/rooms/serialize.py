"""The contract's JSON shapes of rooms and messages."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from server.kernel.clock import iso_utc
from server.rooms.models import Room
from server.rooms.store import NewMessage


def room_json(room: Room, online_count: int) -> dict[str, Any]:
    return {
        "id": room.id,
        "name": room.name,
        "kind": room.kind,
        "audience": room.audience,
        "cohort_id": room.cohort_id,
        "member_id": room.member_id,
        "topic": room.topic,
        "locked": room.locked,
        "slow_mode_s": room.slow_mode_s,
        "contact_policy": room.contact_policy,
        "online_count": online_count,
    }


class MessageFields(Protocol):
    """A stored message as a model instance or as a page's row (store.PageRow)."""

    @property
    def id(self) -> int | None: ...
    @property
    def room_id(self) -> int: ...
    @property
    def body(self) -> str: ...
    @property
    def client_id(self) -> str: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def edited_at(self) -> datetime | None: ...
    @property
    def deleted(self) -> bool: ...


def message_json(
    message: MessageFields, author: dict[str, Any], reactions: dict[str, int]
) -> dict[str, Any]:
    return {
        "id": message.id,
        "room_id": message.room_id,
        "author": author,
        "body": "" if message.deleted else message.body,
        "client_id": message.client_id,
        "created_at": iso_utc(message.created_at),
        "edited_at": iso_utc(message.edited_at),
        "deleted": message.deleted,
        "reactions": {} if message.deleted else reactions,
    }


def new_message_json(message_id: int, values: NewMessage, author: dict[str, Any]) -> dict[str, Any]:
    """`message_json` of a message just stored (not edited or deleted, no reactions), built
    from the values it was stored with: making a model instance only to read it back took
    three times as long (6.5 against 2 µs)."""
    return {
        "id": message_id,
        "room_id": values["room_id"],
        "author": author,
        "body": values["body"],
        "client_id": values["client_id"],
        "created_at": iso_utc(values["created_at"]),
        "edited_at": None,
        "deleted": False,
        "reactions": {},
    }
