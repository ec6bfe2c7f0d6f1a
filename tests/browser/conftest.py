"""Fixtures of the browser tests: one Chromium for the whole run, and per test a real server
(tests/conftest.py's, serving the built web/dist), tabs for the people in it, and network links
a test can cut.

Playwright's objects belong to the event loop that made them, so the browser lives in the
session's loop; the tests here run in that loop (`pytestmark` in each module), and so do the
fixtures below that hold sockets or sessions: the server, the HTTP caller, Socket.IO peers.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from playwright.async_api import Browser, async_playwright

from tests.browser.pages import (
    AXE_SCRIPT,
    CHROMIUM,
    CHROMIUM_ARGS,
    DESKTOP,
    PHONE,
    TIMEZONE,
    WAIT_MS,
    WEB_DIST,
    NetworkLink,
    Tab,
)
from tests.support import (
    Api,
    Community,
    FakeClock,
    Peer,
    RunningServer,
    server_settings,
    start_server,
)
from tests.templates import Templates, community_for

ON_CI = os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


def require(*needed: tuple[Path, str]) -> None:
    """Skip when a part is missing on a developer's machine; fail under CI, where a missing
    part means the browser tests silently stopped running."""
    missing = [f"{path} ({how})" for path, how in needed if not path.is_file()]
    if not missing:
        return
    reason = "browser tests need " + "; ".join(missing)
    if ON_CI:
        pytest.fail(reason + " (CI is set, so this is a failure, not a skip)")
    pytest.skip(reason)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser() -> AsyncIterator[Browser]:
    require(
        (CHROMIUM, "apt-get install chromium"),
        (WEB_DIST / "index.html", "cd web && npm ci && npm run build"),
    )
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        yield chromium
        await chromium.close()


@pytest.fixture
def axe_script() -> Path:
    require((AXE_SCRIPT, "cd web && npm ci: axe-core is a dev dependency of the client"))
    return AXE_SCRIPT


# ----- the server and callers, in the session's loop -----


@pytest.fixture
def server_overrides() -> dict[str, Any]:
    return {"web_dir": WEB_DIST}


@pytest_asyncio.fixture(loop_scope="session")
async def server(
    database_url: str, tmp_path: Path, clock: FakeClock, server_overrides: dict[str, Any]
) -> AsyncIterator[RunningServer]:
    running = await start_server(server_settings(database_url, tmp_path, **server_overrides), clock)
    yield running
    await running.stop()


@pytest_asyncio.fixture(loop_scope="session")
async def api(server: RunningServer) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession() as session:
        yield Api(server.url, session)


@pytest_asyncio.fixture(loop_scope="session")
async def community(
    request: pytest.FixtureRequest, server: RunningServer, api: Api, templates: Templates
) -> Community:
    return await community_for(request, server, api, templates)


PeerFactory = Callable[[str], Awaitable[Peer]]


@pytest_asyncio.fixture(loop_scope="session")
async def peer(server: RunningServer) -> AsyncIterator[PeerFactory]:
    """A Socket.IO peer with a token, for what a test arranges without a browser."""
    peers: list[Peer] = []

    async def connect(token: str) -> Peer:
        connected = Peer(server.url, token)
        peers.append(connected)
        return await connected.connect()

    yield connect
    for connected in peers:
        await connected.disconnect()


# ----- tabs and links -----

TabFactory = Callable[..., Awaitable[Tab]]


@pytest_asyncio.fixture(loop_scope="session")
async def browse(browser: Browser, server: RunningServer) -> AsyncIterator[TabFactory]:
    """Open a tab in a browser context of its own (one per person). Phone-sized unless
    `desktop`; `via` a NetworkLink's URL to go through it. After the test, no tab may have
    thrown an uncaught error or broken the Content-Security-Policy."""
    tabs: list[Tab] = []

    async def open_tab(
        *,
        desktop: bool = False,
        via: str | None = None,
        bypass_csp: bool = False,
        accept_dialogs: bool = False,
    ) -> Tab:
        context = await browser.new_context(
            base_url=via or server.url,
            viewport=DESKTOP if desktop else PHONE,
            device_scale_factor=1,
            is_mobile=False,
            locale="en-US",
            timezone_id=TIMEZONE,
            bypass_csp=bypass_csp,
            accept_downloads=True,
        )
        context.set_default_timeout(WAIT_MS)
        tab = Tab(context, await context.new_page(), accept_dialogs=accept_dialogs)
        tab.watch()
        tabs.append(tab)
        return tab

    yield open_tab
    for tab in tabs:
        await tab.context.close()
    problems = [problem for tab in tabs for problem in tab.problems()]
    assert not problems, "the web client misbehaved:\n" + "\n".join(problems)


LinkFactory = Callable[[], Awaitable[NetworkLink]]


@pytest_asyncio.fixture(loop_scope="session")
async def network_link(server: RunningServer) -> AsyncIterator[LinkFactory]:
    links: list[NetworkLink] = []

    async def open_link() -> NetworkLink:
        port = int(server.url.rsplit(":", 1)[1])
        link = await NetworkLink(port).start()
        links.append(link)
        return link

    yield open_link
    for link in links:
        await link.close()
