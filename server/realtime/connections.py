"""Connect and disconnect: who a socket belongs to, and what its going away means."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import socketio

from server.kernel.actors import Actor
from server.kernel.errors import AppError
from server.realtime.hub import Connection, Hub

log = logging.getLogger(__name__)

Authenticate = Callable[[object], Awaitable[Actor]]
ConnectListener = Callable[[Connection], Awaitable[None]]
# Realtime knows no feature: what a connection's arrival or departure means to presence,
# alerts and the rest is handed in by the composition root.
DisconnectListener = Callable[[Connection], Awaitable[None]]


class Refusal(socketio.exceptions.ConnectionRefusedError):  # type: ignore[misc]
    """A refused connection whose CONNECT_ERROR payload is the contract's error object.

    The fields sit at the top level (what the contract shows) and again under `data`, where
    socket.io-client exposes extra refusal details as `err.data`.
    """

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(error["message"])
        self.error_args = {**error, "data": error}


def register_connection_events(
    sio: socketio.AsyncServer,
    hub: Hub,
    authenticate: Authenticate,
    *,
    on_connected: list[ConnectListener],
    on_disconnected: list[DisconnectListener],
) -> None:
    async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        token = auth.get("token") if isinstance(auth, dict) else None
        try:
            actor = await authenticate(token)
        except AppError as error:
            raise Refusal(error.as_error()) from None
        connection = await hub.register(sid, actor)
        for listener in on_connected:
            await listener(connection)

    async def disconnect(sid: str, *_reason: Any) -> None:
        connection = hub.unregister(sid)
        if connection is None:
            return
        for listener in on_disconnected:
            await listener(connection)

    sio.on("connect", connect)
    sio.on("disconnect", disconnect)
