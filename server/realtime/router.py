"""Socket.IO event handling shared by every feature: parse the payload, run the handler,
answer through the ack in the contract's shape, and never let one bad event hurt others."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import socketio

from server.kernel.errors import AppError, unauthorized
from server.kernel.validation import InputModel, parse_input
from server.realtime.hub import Connection, Hub

log = logging.getLogger(__name__)

InputT = TypeVar("InputT", bound=InputModel)
Ack = dict[str, Any]
EventHandler = Callable[[Connection, InputT], Awaitable[Ack]]

INTERNAL_ERROR: Ack = {
    "ok": False,
    "error": {"code": "internal", "message": "Something went wrong on our side; try again."},
}


class EventRouter:
    def __init__(
        self,
        sio: socketio.AsyncServer,
        hub: Hub,
        observe: Callable[[str, float], None] | None = None,
    ) -> None:
        self.sio = sio
        self.hub = hub
        self._observe = observe

    def on(self, event: str, model: type[InputT], handler: EventHandler[InputT]) -> None:
        async def receive(sid: str, *args: Any) -> Ack:
            started = time.perf_counter()
            try:
                connection = self.hub.connection(sid)
                if connection is None:
                    raise unauthorized()
                data = parse_input(model, args[0] if args else None)
                return {"ok": True, **await handler(connection, data)}
            except AppError as error:
                return {"ok": False, "error": error.as_error()}
            except Exception:
                log.exception("event %s failed", event)
                return INTERNAL_ERROR
            finally:
                if self._observe is not None:
                    self._observe(event, time.perf_counter() - started)

        self.sio.on(event, receive)
