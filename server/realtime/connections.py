"""Connect and disconnect: who a socket belongs to, and what its going away means."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import socketio

from server.accounts.models import Actor
from server.kernel.errors import AppError
from server.presence.service import PresenceService
from server.realtime.hub import Hub

log = logging.getLogger(__name__)

Authenticate = Callable[[object], Awaitable[Actor]]
ConnectListener = Callable[[Actor], Awaitable[None]]


def register_connection_events(
    sio: socketio.AsyncServer,
    hub: Hub,
    presence: PresenceService,
    authenticate: Authenticate,
    on_connected: list[ConnectListener],
) -> None:
    async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        token = auth.get("token") if isinstance(auth, dict) else None
        try:
            actor = await authenticate(token)
        except AppError as error:
            raise socketio.exceptions.ConnectionRefusedError(error.as_error()) from None
        await hub.register(sid, actor)
        for listener in on_connected:
            await listener(actor)

    async def disconnect(sid: str, *_reason: Any) -> None:
        connection = hub.unregister(sid)
        if connection is not None:
            await presence.exit_all(connection)

    sio.on("connect", connect)
    sio.on("disconnect", disconnect)
