"""Messages a Redis outage kept from this process's sockets, delivered once it is over.

While this process's Redis subscription is down, messages sent through other processes are
stored but never reach the sockets here live (pub/sub keeps nothing for a subscriber that was
away). When the subscription is back, every room with a socket here is given the messages
stored since shortly before it was lost; the Socket.IO manager delivers each message to a room
at most once, so the ones that did arrive are not repeated (realtime/redis.py). A message
that some socket's person may not read (rooms/visibility.py: from before they joined) goes
to the others' sockets one by one instead.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from server.realtime.hub import Hub, room_channel
from server.rooms.messages import MessageService

log = logging.getLogger(__name__)

# Messages published just before the subscription was seen to fail may have been lost too.
MARGIN = timedelta(seconds=5)
# Per room; more than this many missed in one room is left to the clients' history paging.
LIMIT_PER_ROOM = 200

DeliverHere = Callable[[str, str, Any], Awaitable[None]]


@dataclass
class OutageCatchUp:
    hub: Hub
    messages: MessageService
    deliver_here: DeliverHere
    # Takes out of a room this process's connections no longer allowed in it: a ban made
    # elsewhere during the outage may not have reached this process yet.
    recheck_room: Callable[[int], Awaitable[None]]

    async def __call__(self, lost_at: datetime) -> None:
        try:
            for room_id in self.hub.local_room_ids():
                await self.recheck_room(room_id)
                missed = await self.messages.stored_since(room_id, lost_at - MARGIN, LIMIT_PER_ROOM)
                if missed:
                    await self._deliver(room_id, missed)
        except Exception:
            log.exception("delivering the messages missed during a Redis outage failed")

    async def _deliver(self, room_id: int, missed: list[dict[str, Any]]) -> None:
        connections = self.hub.connections_in(room_id)
        bounds = await self.messages.hidden_through_each(room_id, [c.actor for c in connections])
        for payload in missed:
            message_id = int(payload["id"])
            if all(bound < message_id for bound in bounds):
                await self.deliver_here(room_channel(room_id), "message", payload)
                continue
            for connection, bound in zip(connections, bounds, strict=True):
                if bound < message_id:
                    await self.deliver_here(connection.sid, "message", payload)
