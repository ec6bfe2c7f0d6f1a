"""Private support conversations: from a crisis alert, a member of staff opens a room of the
writer and staff only (rooms' audience `person`), and the writer is told someone is there.
Talking in front of the group is not the place to follow up a crisis."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from server.accounts.service import require_staff
from server.kernel.actors import Actor
from server.kernel.audit import AuditSink
from server.kernel.clock import Clock
from server.kernel.db import SessionFactory
from server.kernel.errors import not_found
from server.moderation.models import Alert
from server.moderation.serialize import alert_json, alert_user_ids, public_users
from server.realtime.notices import Notifier
from server.rooms import store as room_store
from server.rooms.models import Audience, Room
from server.rooms.serialize import room_json

SUPPORT_KIND = "support"
SUPPORT_TOPIC = "A private conversation: only you and staff can read it."


@dataclass
class SupportConversations:
    sessions: SessionFactory
    clock: Clock
    notifier: Notifier
    audit: AuditSink

    async def open_from_alert(self, actor: Actor, alert_id: int) -> dict[str, Any]:
        """The writer's support conversation (one per person, made the first time), linked
        to the alert; the writer is told who is there."""
        require_staff(actor)
        async with self.sessions() as session:
            alert = await session.get(Alert, alert_id)
            if alert is None:
                raise not_found("alert")
            writer_id = alert.user_id
            room = await room_store.support_room_of(session, writer_id)
            if room is None:
                writer = (await public_users(session, [writer_id])).get(writer_id) or {}
                room = Room(
                    name=f"Private support: {writer.get('display_name', 'member')}",
                    kind=SUPPORT_KIND,
                    audience=Audience.PERSON,
                    member_id=writer_id,
                    topic=SUPPORT_TOPIC,
                    # Staff may need to give a number to call, and hear one.
                    contact_policy="allow",
                    created_by=actor.id,
                    created_at=self.clock.now(),
                )
                session.add(room)
                await session.flush()
            alert.support_room_id = room.id
            session.add(alert)
            await session.commit()
            room_id = room.id or 0
            answer = {
                "room": room_json(room, 0),
                "alert": alert_json(alert, await public_users(session, alert_user_ids(alert))),
            }
        await self.audit.record(
            actor_id=actor.id,
            action="support_opened",
            room_id=room_id,
            target_user_id=writer_id,
            message_id=alert.message_id,
        )
        await self.notifier.tell(
            writer_id,
            "support_opened",
            f"{actor.display_name}, from staff, has opened a private conversation with you."
            " Only you and staff can read it.",
            room_id=room_id,
            by=actor.public(),
        )
        return answer
