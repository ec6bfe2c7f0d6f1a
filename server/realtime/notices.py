"""`notice` events: one-user messages from the service (muted, kicked, graduated, ...)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from server.realtime.hub import Hub


@dataclass
class Notifier:
    hub: Hub

    async def tell(
        self, user_id: int, kind: str, text: str, *, room_id: int | None = None, **extra: Any
    ) -> None:
        payload: dict[str, Any] = {"kind": kind, "text": text, **extra}
        if room_id is not None:
            payload["room_id"] = room_id
        await self.hub.to_user(user_id, "notice", payload)
