"""A desktop's notification server for Chromium, so a test can click a notification as a person
does.

Chromium on Linux shows a web page's notifications through the desktop: the freedesktop.org
Desktop Notifications service (`org.freedesktop.Notifications`) on the D-Bus session bus. Here
the bus is one of the test's own (`dbus-daemon`, a file of this machine's Chromium's
dependencies, listening on a unix socket in a temporary folder) and this module owns that name
on it, through the `dbus-fast` library: it records what the browser shows (`Notify`), and
`click` emits `ActionInvoked(id, "default")`, which is what a desktop says when a notification
is clicked. The browser then dispatches a trusted `notificationclick` to the page's service
worker, with the window interaction only a real click grants (`clients.openWindow`,
`WindowClient.focus`), which an event a script made never has.

Chromium takes a click on a notification only for a profile of its own: a persistent context
(`launch_persistent_context`), not one of Playwright's off-the-record contexts, whose clicks it
hands to a profile that never showed them.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from dbus_fast import NameFlag, RequestNameReply, Variant
from dbus_fast.aio import MessageBus
from dbus_fast.annotations import DBusSignature, DBusStr, DBusUInt32
from dbus_fast.service import ServiceInterface, dbus_method, dbus_signal

DBUS_DAEMON = Path("/usr/bin/dbus-daemon")
NAME = "org.freedesktop.Notifications"
PATH = "/org/freedesktop/Notifications"
# What this server says it can do: `actions` so the browser gives each notification its
# default action (the click).
CAPABILITIES = ["actions", "body", "persistence"]
# How a notification closed, as NotificationClosed tells it: by a CloseNotification call.
CLOSED_BY_CALL = 3
START_S = 10.0

# A bus that owns nothing and starts nothing: no service files, so a name nobody holds (the
# accessibility bus, a keyring) is refused at once instead of started.
CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""

# The D-Bus types of the interface's arguments beyond dbus-fast's ready-made ones
# (`typing.Annotated`, the library's way of giving a Python type and a D-Bus signature at once).
Strings = Annotated[list[str], DBusSignature("as")]
Hints = Annotated[dict[str, Variant], DBusSignature("a{sv}")]
Int32 = Annotated[int, DBusSignature("i")]
ServerInformation = Annotated[tuple[str, str, str, str], DBusSignature("ssss")]
# A method that answers with nothing. (dbus-fast 5.2 reads a plain `-> None`, a string under
# `from __future__ import annotations`, as the signature None, and refuses it.)
NoReply = Annotated[None, DBusSignature("")]


@dataclass
class Shown:
    """One notification as the desktop was asked to show it."""

    id: int
    summary: str
    body: str
    actions: list[str]


class DesktopNotifications(ServiceInterface):
    """The server's interface, as exported on the test's bus; `address` is that bus's."""

    def __init__(self, address: str) -> None:
        super().__init__(NAME)
        self.address = address
        self.shown: list[Shown] = []
        self.closed: set[int] = set()
        self.changed = asyncio.Event()
        self._next_id = 0

    def on_screen(self) -> list[Shown]:
        """What shows now: the latest of each id not closed."""
        latest = {each.id: each for each in self.shown}
        return [each for each in latest.values() if each.id not in self.closed]

    async def showing(self, summary: str, timeout_s: float = 10.0) -> Shown:
        """The notification titled `summary` once the browser has shown it."""

        async def wait() -> Shown:
            while True:
                found = [each for each in self.on_screen() if each.summary == summary]
                if found:
                    return found[-1]
                self.changed.clear()
                await self.changed.wait()

        return await asyncio.wait_for(wait(), timeout_s)

    async def click(self, shown: Shown) -> None:
        """Click it, as a person at the desktop does: its default action."""
        assert "default" in shown.actions, shown
        self.action_invoked(shown.id, "default")
        # dbus-fast writes the signal from the event loop: give it its turn.
        await asyncio.sleep(0)

    async def gone(self, shown: Shown, timeout_s: float = 10.0) -> None:
        """Wait until the browser closed it."""

        async def wait() -> None:
            while shown.id not in self.closed:
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(wait(), timeout_s)

    # ----- org.freedesktop.Notifications -----

    @dbus_method(name="GetCapabilities")
    def _capabilities(self) -> Strings:
        return CAPABILITIES

    @dbus_method(name="GetServerInformation")
    def _server_information(self) -> ServerInformation:
        return ("peerrooms-tests", "peerrooms", "1", "1.2")  # name, vendor, version, spec

    @dbus_method(name="Notify")
    def _notify(
        self,
        app_name: DBusStr,
        replaces_id: DBusUInt32,
        app_icon: DBusStr,
        summary: DBusStr,
        body: DBusStr,
        actions: Strings,
        hints: Hints,
        expire_timeout: Int32,
    ) -> DBusUInt32:
        if replaces_id:
            shown_id = replaces_id
        else:
            self._next_id += 1
            shown_id = self._next_id
        self.closed.discard(shown_id)
        self.shown.append(Shown(shown_id, summary, body, list(actions)))
        self.changed.set()
        return shown_id

    @dbus_method(name="CloseNotification")
    def _close(self, id: DBusUInt32) -> NoReply:
        self.closed.add(id)
        self.changed.set()
        self.notification_closed(id, CLOSED_BY_CALL)

    @dbus_signal(name="ActionInvoked")
    def action_invoked(
        self, id: int, action_key: str
    ) -> Annotated[tuple[int, str], DBusSignature("us")]:
        return (id, action_key)

    @dbus_signal(name="NotificationClosed")
    def notification_closed(
        self, id: int, reason: int
    ) -> Annotated[tuple[int, int], DBusSignature("uu")]:
        return (id, reason)


@contextlib.asynccontextmanager
async def running_desktop() -> AsyncIterator[DesktopNotifications]:
    """A session bus of this test's own with the notification server on it; give the browser
    `DBUS_SESSION_BUS_ADDRESS=<address>` (and start it after this, as a desktop would be)."""
    # A short path: a socket's name must fit in 108 bytes, which a test's tmp_path may not.
    with tempfile.TemporaryDirectory(prefix="bus-", dir="/tmp") as folder:
        socket = Path(folder) / "bus"
        config = Path(folder) / "bus.conf"
        config.write_text(CONFIG.format(socket=socket), encoding="utf-8")
        daemon = await asyncio.create_subprocess_exec(
            str(DBUS_DAEMON),
            f"--config-file={config}",
            "--nofork",
            "--print-address=1",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            assert daemon.stdout is not None
            address = (await asyncio.wait_for(daemon.stdout.readline(), START_S)).decode().strip()
            bus = await asyncio.wait_for(MessageBus(bus_address=address).connect(), START_S)
            try:
                desktop = DesktopNotifications(address)
                bus.export(PATH, desktop)
                owned = await asyncio.wait_for(
                    bus.request_name(NAME, NameFlag.DO_NOT_QUEUE), START_S
                )
                if owned is not RequestNameReply.PRIMARY_OWNER:
                    raise RuntimeError(f"{NAME} is someone else's on this bus: {owned}")
                yield desktop
            finally:
                bus.disconnect()
                # dbus-fast 5.2 leaves this one method without annotations (it returns None).
                await bus.wait_for_disconnect()  # type: ignore[no-untyped-call]
        finally:
            daemon.terminate()
            await daemon.wait()
