"""The audit seam: features record what staff did without knowing where it is kept."""

from __future__ import annotations

from typing import Protocol


class AuditSink(Protocol):
    async def record(
        self,
        *,
        actor_id: int | None,
        action: str,
        room_id: int | None = None,
        target_user_id: int | None = None,
        message_id: int | None = None,
        reason: str = "",
    ) -> None: ...
