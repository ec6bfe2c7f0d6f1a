"""Connect and disconnect: who a socket belongs to, and what its going away means."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import socketio

from server.kernel.actors import Actor
from server.kernel.errors import AppError
from server.realtime.bus import ControlBus
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


SESSIONS_ENDED = "realtime.sessions_ended"
CloseSockets = Callable[[int, list[str]], Awaitable[None]]


def socket_closer(bus: ControlBus, hub: Hub, sio: socketio.AsyncServer) -> CloseSockets:
    """What closes the sockets of ended sign-ins (sign-out, a session ended, a password
    changed, an account deactivated) on every process: a socket is checked only when it
    connects, so an ended session's sockets are closed, not left to listen."""

    async def close_here(payload: dict[str, Any]) -> None:
        ended = set(payload["session_ids"])
        for connection in hub.connections_of(int(payload["user_id"])):
            if connection.actor.session_id in ended:
                await sio.disconnect(connection.sid)

    bus.subscribe(SESSIONS_ENDED, close_here)

    async def close(user_id: int, session_ids: list[str]) -> None:
        await bus.publish(SESSIONS_ENDED, {"user_id": user_id, "session_ids": session_ids})

    return close


def refuse_reserved(sid: str, event: str) -> dict[str, Any]:
    log.warning("socket %s sent the reserved event %r; refused", sid, event)
    return {
        "ok": False,
        "error": AppError("invalid", f"`{event}` is reserved; clients may not send it.").as_error(),
    }


def register_connection_events(
    sio: socketio.AsyncServer,
    hub: Hub,
    authenticate: Authenticate,
    *,
    on_connected: list[ConnectListener],
    on_disconnected: list[DisconnectListener],
) -> None:
    def sent_as_an_event(sid: str) -> bool:
        """python-socketio hands an ordinary event a client names `connect` or `disconnect`
        to the same handler as the real one. The real ones run while the socket is still
        connecting or already leaving; a socket fully connected at that moment sent the
        event itself, to replace its record (and so lose its rooms) or to seem gone."""
        return bool(sio.manager.is_connected(sid, "/"))

    async def connect(sid: str, environ: Any, auth: Any = None) -> dict[str, Any] | None:
        if sent_as_an_event(sid):
            return refuse_reserved(sid, "connect")
        token = auth.get("token") if isinstance(auth, dict) else None
        try:
            actor = await authenticate(token)
        except AppError as error:
            raise Refusal(error.as_error()) from None
        connection = await hub.register(sid, actor)
        for listener in on_connected:
            await listener(connection)
        return None

    async def disconnect(sid: str, *_reason: Any) -> dict[str, Any] | None:
        if sent_as_an_event(sid):
            return refuse_reserved(sid, "disconnect")
        connection = hub.unregister(sid)
        if connection is None:
            return None
        for listener in on_disconnected:
            await listener(connection)
        return None

    sio.on("connect", connect)
    sio.on("disconnect", disconnect)
