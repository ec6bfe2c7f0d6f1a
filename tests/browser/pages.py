"""What the browser tests share: where things are, one person's browser tab and the names the
web client promises (docs/web-client.md), a network link a test can cut, axe-core checks,
screenshots, and a live meeting."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from playwright.async_api import (
    BrowserContext,
    ConsoleMessage,
    Dialog,
    Locator,
    Page,
    ViewportSize,
    expect,
)

from tests.support import (
    PASSWORD,
    Api,
    Community,
    FakeClock,
    Person,
    create_room,
)

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
WEB_DIST = ROOT / "web" / "dist"
AXE_SCRIPT = ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"
# Ignored by git (/artifacts/ in .gitignore); the docs copies are made only on request.
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
DOCS_SCREENSHOTS = ROOT / "docs" / "screenshots"
UPDATE_DOCS_SCREENSHOTS = os.environ.get("PEERROOMS_UPDATE_DOCS_SCREENSHOTS") == "1"

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE: ViewportSize = {"width": 390, "height": 844}
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
TIMEZONE = "America/Chicago"

# The registration form's box that accepts the program's consent notice (web/src/views/auth.ts).
ACCEPT_NOTICE = "I have read and accept this notice"

# How long an auto-waiting assertion waits: a screen reacting to an event. Only a failure
# waits this long; it is this long because CI's two cores also run the other workers' tests.
WAIT_MS = 20_000
# Reconnecting after the network comes back: socket.io-client backs off up to 5 s a try.
RECONNECT_MS = 25_000

expect.set_options(timeout=WAIT_MS)


@dataclass
class Tab:
    """One person's browser: its own context (cookies, sessionStorage) and page, with what the
    page did that no test asked for (JavaScript dialogs, uncaught errors, policy violations)."""

    context: BrowserContext
    page: Page
    accept_dialogs: bool = False
    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)

    def watch(self) -> None:
        self.page.on("dialog", self._dialog)
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("console", self._console)

    async def _dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        if self.accept_dialogs:
            await dialog.accept()
        else:
            await dialog.dismiss()

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            self.violations.append(message.text)

    # ----- landmarks and controls every screen has -----

    @property
    def nav(self) -> Locator:
        return self.page.get_by_role("navigation", name="Main")

    @property
    def connection(self) -> Locator:
        return self.page.get_by_role("status", name="Connection")

    def heading(self, name: str) -> Locator:
        return self.page.get_by_role("heading", name=name, exact=True)

    def alert(self, text: str | re.Pattern[str]) -> Locator:
        return self.page.get_by_role("alert").filter(has_text=text)

    # ----- sign in -----

    async def sign_in(self, person: Person, password: str = PASSWORD) -> None:
        await self.page.goto("/#/signin")
        await self.fill_sign_in(person.username, password)
        await expect(self.heading("Rooms")).to_be_visible()
        await expect(self.connection).to_have_text("Connected")

    async def fill_sign_in(self, username: str, password: str) -> None:
        await expect(self.heading("Sign in")).to_be_visible()
        await self.page.get_by_role("textbox", name="Username").fill(username)
        # A password field has no ARIA role; its label names it.
        await self.page.get_by_label("Password", exact=True).fill(password)
        await self.page.get_by_role("button", name="Sign in", exact=True).click()

    # ----- registering -----

    async def fill_registration(self, username: str, display_name: str, password: str) -> None:
        """Fill in the registration form's names and password (not its code, nor the notice)."""
        await self.page.get_by_role("textbox", name="Username").fill(username)
        await self.page.get_by_role("textbox", name="Display name").fill(display_name)
        await self.page.get_by_label("Password", exact=True).fill(password)

    # ----- the consent notice -----

    async def accept_notice(self) -> None:
        """Tick the registration form's "I have read and accept this notice" (enabled once the
        notice has loaded, so this waits for it)."""
        await self.page.get_by_role("checkbox", name=ACCEPT_NOTICE).check()

    # ----- rooms -----

    @property
    def room_list(self) -> Locator:
        return self.page.get_by_role("list", name="Rooms", exact=True)

    def room_item(self, name: str) -> Locator:
        return self.room_list.get_by_role("listitem").filter(
            has=self.page.get_by_role("link", name=name, exact=True)
        )

    async def open_room(self, room_id: int, name: str) -> None:
        """Go straight to a room (the address a bookmark or a notification would carry)."""
        await self.page.goto(f"/#/rooms/{room_id}")
        await self.in_room(name)

    async def in_room(self, name: str) -> None:
        # The screen's h1: the screen a link left may still be showing the room's name in h2s
        # (the meetings list) for a moment.
        title = self.page.get_by_role("heading", name=name, exact=True, level=1)
        await expect(title).to_be_visible()
        await expect(self.log).to_be_visible()
        await expect(self.connection).to_have_text("Connected")

    async def in_meeting(self, title: str) -> None:
        """On a meeting's page: its title on top, the chat of its room beside the call."""
        heading = self.page.get_by_role("heading", name=title, exact=True, level=1)
        await expect(heading).to_be_visible()
        await expect(self.log).to_be_visible()
        await expect(self.connection).to_have_text("Connected")

    @property
    def log(self) -> Locator:
        return self.page.get_by_role("log", name="Messages")

    @property
    def articles(self) -> Locator:
        return self.log.get_by_role("article")

    def message(self, text: str | re.Pattern[str]) -> Locator:
        return self.articles.filter(has_text=text)

    @property
    def composer(self) -> Locator:
        return self.page.get_by_role("textbox", name="Message", exact=True)

    async def send(self, text: str) -> None:
        """Type a message and press Enter."""
        await self.composer.fill(text)
        await self.composer.press("Enter")

    @property
    def whos_here(self) -> Locator:
        return self.page.get_by_role("list", name="Who's here")

    async def moderate(self, display_name: str) -> Locator:
        """Open the member menu for a person; answers its dialog."""
        await self.page.get_by_role("button", name=f"Moderate {display_name}").first.click()
        dialog = self.page.get_by_role("dialog", name=f"Moderate {display_name}")
        await expect(dialog).to_be_visible()
        return dialog

    # ----- the moderator console -----

    async def open_console(self) -> None:
        await self.page.goto("/#/console")
        await expect(self.heading("Moderator console")).to_be_visible()
        await expect(self.connection).to_have_text("Connected")

    def region(self, name: str) -> Locator:
        return self.page.get_by_role("region", name=name, exact=True)

    # ----- people (staff) -----

    async def open_people(self) -> None:
        """People, from the main navigation."""
        await self.nav.get_by_role("link", name="People", exact=True).click()
        await expect(self.heading("People")).to_be_visible()

    @property
    def people_list(self) -> Locator:
        return self.page.get_by_role("list", name="People", exact=True)

    def person_item(self, display_name: str) -> Locator:
        return self.people_list.get_by_role("listitem").filter(
            has=self.page.get_by_role("link", name=display_name, exact=True)
        )

    async def open_person(self, display_name: str) -> None:
        """A person's page, from the People list on screen."""
        await self.person_item(display_name).get_by_role("link").click()
        await expect(self.heading(display_name)).to_be_visible()
        await expect(self.region("Details")).to_contain_text("Meetings attended")

    # ----- invites (staff) -----

    async def open_invites(self) -> None:
        """Invites, from the main navigation, once its list has loaded."""
        await self.nav.get_by_role("link", name="Invites", exact=True).click()
        await expect(self.heading("Invites")).to_be_visible()
        await expect(self.page.get_by_role("status", name="Invite list")).not_to_be_empty()

    @property
    def invite_list(self) -> Locator:
        return self.page.get_by_role("list", name="Invites", exact=True)

    def invite_item(self, code: str) -> Locator:
        return self.invite_list.get_by_role("listitem").filter(has_text=code)

    async def create_invite(
        self, *, role: str, cohort: str | None = None, uses: int | None = None
    ) -> None:
        """Fill in and send the `Create an invite` form (what it answers is the test's to
        check)."""
        form = self.region("Create an invite")
        await form.get_by_role("combobox", name="Role").select_option(label=role)
        await form.get_by_role("combobox", name="Cohort").select_option(label=cohort or "No cohort")
        if uses is not None:
            await form.get_by_role("spinbutton", name="Uses").fill(str(uses))
        await form.get_by_role("button", name="Create invite").click()

    async def shown_invite_link(self) -> str:
        """The link in the `Invite link` region, once it shows one with its QR code."""
        shown = self.region("Invite link")
        await expect(shown.get_by_role("img", name="QR code of the invite link")).to_be_visible()
        return await shown.get_by_role("textbox", name="Invite link").input_value()

    # ----- what a test checks after it -----

    def problems(self) -> list[str]:
        return [
            *(f"uncaught error: {error}" for error in self.errors),
            *(f"policy violation: {violation}" for violation in self.violations),
        ]


class NetworkLink:
    """A TCP relay between one browser context and the server that a test can cut, as a phone
    loses its signal: open connections are reset and new ones dropped until it is restored.
    (Chromium's offline emulation alone leaves an open WebSocket running.)"""

    def __init__(self, port: int) -> None:
        self.port = port
        self.up = True
        self.url = ""
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> NetworkLink:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"
        return self

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            if not self.up:
                writer.transport.abort()
                return
            try:
                far_reader, far_writer = await asyncio.open_connection("127.0.0.1", self.port)
            except OSError:
                writer.transport.abort()
                return
            self._writers |= {writer, far_writer}
            try:
                await asyncio.gather(self._pipe(reader, far_writer), self._pipe(far_reader, writer))
            finally:
                self._writers -= {writer, far_writer}
                for end in (writer, far_writer):
                    end.transport.abort()
        finally:
            self._tasks.discard(task)

    @staticmethod
    async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while chunk := await source.read(65536):
                sink.write(chunk)
                await sink.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            sink.transport.abort()

    def cut(self) -> None:
        self.up = False
        for writer in list(self._writers):
            writer.transport.abort()

    def restore(self) -> None:
        self.up = True

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


async def ana_and_lee_in_group_a(
    browse: Callable[..., Awaitable[Tab]], c: Community, *, via: str | None = None
) -> tuple[Tab, Tab]:
    """The usual pair: Ana (a patient, on a phone, optionally through a network link the
    test can cut) and Lee (a moderator, at a desk), both in Group A."""
    patient = await (browse(via=via) if via else browse())
    await patient.sign_in(c.pat_ana)
    await patient.open_room(c.group_a, "Group A")
    moderator = await browse(desktop=True)
    await moderator.sign_in(c.mod_lee)
    await moderator.open_room(c.group_a, "Group A")
    return patient, moderator


async def lee_at_the_console(browse: Callable[..., Awaitable[Tab]], c: Community) -> Tab:
    """Lee (a moderator, at a desk) signed in, on the moderator console."""
    console = await browse(desktop=True)
    await console.sign_in(c.mod_lee)
    await console.open_console()
    return console


async def ana_in_group_a_and_lee_at_the_console(
    browse: Callable[..., Awaitable[Tab]], c: Community
) -> tuple[Tab, Tab]:
    """Ana in Group A on a phone, and Lee on the moderator console."""
    patient = await browse()
    await patient.sign_in(c.pat_ana)
    await patient.open_room(c.group_a, "Group A")
    return patient, await lee_at_the_console(browse, c)


async def go_offline(tab: Tab, link: NetworkLink) -> None:
    """The browser says it is offline and its connections to the server drop."""
    await tab.context.set_offline(True)
    link.cut()


async def go_online(tab: Tab, link: NetworkLink) -> None:
    link.restore()
    await tab.context.set_offline(False)


# ----- what can be done to a message: behind its one "More" button -----


async def message_menu(message: Locator) -> Locator:
    """Open a message's menu with its More button; answers the menu (role=menu)."""
    await message.get_by_role("button", name="More", exact=True).click()
    menu = message.get_by_role("menu")
    await expect(menu).to_be_visible()
    return menu


async def message_action(message: Locator, action: str) -> None:
    """Choose `action` ("React", "Reply", "Edit", "Delete", "Report", "Pin", ...) from a
    message's menu."""
    menu = await message_menu(message)
    await menu.get_by_role("menuitem", name=action, exact=True).click()


DELETE_DIALOG = "Delete this message?"


async def delete_message(tab: Tab, message: Locator) -> None:
    """Delete a message from its menu and confirm. It shows as "Deleted · Undo" for a few
    seconds (web/src/room/controller.ts UNDO_DELETE_MS) before the server hears of it."""
    await message_action(message, "Delete")
    dialog = tab.page.get_by_role("dialog", name=DELETE_DIALOG)
    await dialog.get_by_role("button", name="Delete", exact=True).click()
    await expect(dialog).to_have_count(0)


# ----- checks against the server -----


async def history(api: Api, staff: Person, room_id: int) -> list[dict[str, Any]]:
    """Every stored message of a room, oldest first (paging back through the HTTP API)."""
    messages: list[dict[str, Any]] = []
    before = ""
    while True:
        reply = await api.get(f"/api/rooms/{room_id}/messages?limit=100{before}", staff.token)
        assert reply.status == 200, reply.body
        messages = reply.body["messages"] + messages
        if not reply.body["has_more"] or not reply.body["messages"]:
            return messages
        before = f"&before={reply.body['messages'][0]['id']}"


async def open_alerts(api: Api, staff: Person) -> list[dict[str, Any]]:
    reply = await api.get("/api/alerts?status=open", staff.token)
    assert reply.status == 200, reply.body
    return list(reply.body["alerts"])


async def open_reports(api: Api, staff: Person) -> list[dict[str, Any]]:
    reply = await api.get("/api/reports?status=open", staff.token)
    assert reply.status == 200, reply.body
    return list(reply.body["reports"])


# ----- a meeting whose occurrence is live now -----

MEETING_TITLE = "Evening group"
MEETING_ZONE = ZoneInfo(TIMEZONE)


@dataclass
class LiveMeeting:
    id: int
    room_id: int
    title: str
    starts_at: datetime  # this occurrence's start, aware, in MEETING_ZONE

    @property
    def occurrence(self) -> str:
        return self.starts_at.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%M:%SZ")


async def live_meeting(
    api: Api, c: Community, clock: FakeClock, title: str = MEETING_TITLE, minutes_ago: int = 20
) -> LiveMeeting:
    """A daily series of cohort A's whose occurrence started `minutes_ago` (server clock)."""
    room_id = await create_room(
        api, c.mod_lee, name=title, kind="meeting", audience="cohort", cohort_id=c.cohort_a
    )
    start = (clock.now() - timedelta(minutes=minutes_ago)).astimezone(MEETING_ZONE)
    start = start.replace(second=0, microsecond=0)
    reply = await api.post(
        "/api/meetings",
        {
            "title": title,
            "room_id": room_id,
            "rrule": "FREQ=DAILY",
            "starts_at": start.replace(tzinfo=None).isoformat(timespec="seconds"),
            "timezone": TIMEZONE,
            "duration_minutes": 90,
            "lobby_minutes": 15,
            "video_url": "https://video.example.org/iop-evening-group",
        },
        token=c.mod_lee.token,
    )
    assert reply.status == 201, reply.body
    return LiveMeeting(reply.body["meeting"]["id"], room_id, title, start)


def local_time_pattern(moment: datetime) -> re.Pattern[str]:
    """A wall-clock time as a US-English page may write it: 6:05 PM or 18:05."""
    hour12 = moment.hour % 12 or 12
    meridiem = "AM" if moment.hour < 12 else "PM"
    return re.compile(
        rf"\b({hour12}:{moment.minute:02d}\s?{meridiem}|{moment.hour:02d}:{moment.minute:02d})\b",
        re.IGNORECASE,
    )


# The Occurrence combobox's sessions, not a placeholder such as "Loading…" (no value).
SESSION_OPTIONS = "option:not([value=''])"


async def show_attendance(console: Tab, meeting: LiveMeeting) -> Locator:
    """In the console, pick the meeting and its live occurrence and show attendance; answers
    the Attendance region."""
    attendance = console.region("Attendance")
    meetings = attendance.get_by_role("combobox", name="Meeting")
    await expect(meetings.locator("option", has_text=meeting.title)).to_have_count(1)
    # As a person would: choose the meeting unless it is the one already chosen.
    chosen_title = await meetings.evaluate("select => select.selectedOptions[0]?.textContent")
    if chosen_title != meeting.title:
        await meetings.select_option(label=meeting.title)
    occurrence = attendance.get_by_role("combobox", name="Occurrence")
    sessions = occurrence.locator(SESSION_OPTIONS)
    await expect(sessions).not_to_have_count(0)
    options: list[dict[str, str]] = await sessions.evaluate_all(
        "options => options.map(o => ({value: o.value, label: o.textContent || ''}))"
    )
    # By its UTC start if the values carry it, else by its local time on today's date.
    utc_minute = meeting.occurrence[:16]
    chosen = [o for o in options if utc_minute in o["value"]]
    if not chosen:
        pattern = local_time_pattern(meeting.starts_at)
        day = meeting.starts_at.strftime("%b %-d")
        chosen = [o for o in options if pattern.search(o["label"]) and day in o["label"]]
    assert len(chosen) == 1, (meeting.occurrence, options)
    await occurrence.select_option(value=chosen[0]["value"])
    await attendance.get_by_role("button", name="Show attendance").click()
    await expect(attendance.get_by_role("table")).to_be_visible()
    return attendance


# ----- accessibility and screenshots -----


async def serious_axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical findings on the page as it is now."""
    if not await page.evaluate("() => typeof window.axe !== 'undefined'"):
        await page.add_script_tag(path=AXE_SCRIPT)
    found: list[dict[str, Any]] = await page.evaluate(
        """async () => {
            const result = await window.axe.run(document, {resultTypes: ['violations']});
            return result.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => ({target: n.target.join(' '), summary: n.failureSummary})),
            }));
        }"""
    )
    return [v for v in found if v["impact"] in ("serious", "critical")]


def describe_violations(screen: str, violations: list[dict[str, Any]]) -> str:
    lines = [f"{screen}:"]
    for violation in violations:
        lines.append(f"  [{violation['impact']}] {violation['id']}: {violation['help']}")
        for node in violation["nodes"][:5]:
            summary = " ".join(str(node["summary"]).split())
            lines.append(f"      at {node['target']}: {summary}")
    return "\n".join(lines)


async def screenshot(
    page: Page, name: str, docs_name: str | None = None, *, full_page: bool = False
) -> Path:
    """Write artifacts/screenshots/{name}.png (the window, or with `full_page` the whole page);
    also docs/screenshots/{docs_name}.png when PEERROOMS_UPDATE_DOCS_SCREENSHOTS=1."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    window = page.viewport_size
    if full_page and window:
        # The page scrolls inside <main>, under a fixed header: a window as tall as all of it.
        height = await page.evaluate(
            """() => {
                const main = document.querySelector('main');
                if (!main) return document.documentElement.scrollHeight;
                return Math.ceil(main.getBoundingClientRect().top + main.scrollHeight);
            }"""
        )
        await page.set_viewport_size({"width": window["width"], "height": max(height, 1)})
    try:
        await page.screenshot(path=path, animations="disabled", caret="hide")
    finally:
        if full_page and window:
            await page.set_viewport_size(window)
    assert path.stat().st_size > 1000, path
    if docs_name and UPDATE_DOCS_SCREENSHOTS:
        DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOCS_SCREENSHOTS / f"{docs_name}.png")
    return path
