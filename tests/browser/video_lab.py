"""A video lab for browser tests: Janus, a peerrooms server and Chromium, all inside one
network namespace the test makes and deletes (tests/janus.py), with people and a live meeting.

Why everything is inside: Janus gathers no ICE candidates on loopback, and nothing a test
starts may listen on the machine's own interfaces; so Janus and the browsers meet on the
namespace's end of its veth pair (host candidates, no STUN). A page needs a secure context for
getUserMedia, so browsers load the app from http://127.0.0.1:PORT, the namespace's own
loopback. This test process stays outside, and reaches the same server through the pair, at
http://{janus_ip}:PORT, for its API calls and Socket.IO peers.

- Janus as `running_janus` starts it; browsers dial its WebSocket transport at
  `janus.ws_url` (ws://{janus_ip}:8188), which is what the server hands out in a video pass.
- The server is `python -m server serve --host 0.0.0.0` under `ip netns exec` (0.0.0.0 there
  is the namespace's lo and veth end only), on SQLite, serving web/dist, configured for Janus.
- Chromium is launched by Playwright through a wrapper script that runs
  `exec ip netns exec NS /usr/bin/chromium "$@"`: `ip netns exec` execs in place, so the
  pipe Playwright talks to the browser over (fds 3 and 4) survives. Fake camera and
  microphone, no permission prompt, autoplay without a gesture.
- Every page records its RTCPeerConnections in `window.__peerConnections`, for
  `inbound_counts`.

A module's tests share one lab (`video_lab_module`); `video_lab` closes the tabs and Socket.IO
peers a test opened and fails it if a page threw or broke the Content-Security-Policy. All of
it is gone afterwards, failed test or not: browser, server and Janus stopped, whatever was left
in the namespace killed, the namespace and its pair deleted.
"""

from __future__ import annotations

import asyncio
import contextlib
import shlex
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, async_playwright

from tests.browser.conftest import require
from tests.browser.pages import (
    CHROMIUM,
    CHROMIUM_ARGS,
    DESKTOP,
    PHONE,
    TIMEZONE,
    WAIT_MS,
    WEB_DIST,
    LiveMeeting,
    Tab,
    live_meeting,
)
from tests.janus import JanusServer, janus_or_skip, running_janus
from tests.processes import ServerProcess, create_admin, server_env
from tests.support import (
    Api,
    Community,
    FakeClock,
    Peer,
    Person,
    build_community_as,
    register,
    sign_in,
)

# Inside the namespace every port is free; Janus has 8088, 7088, 8188 and 20000-20999.
SERVER_PORT = 8080
MEDIA_ARGS = [
    "--use-fake-ui-for-media-stream",  # camera and microphone granted without a prompt
    "--use-fake-device-for-media-stream",  # a test pattern and a beep
    "--autoplay-policy=no-user-gesture-required",
    # Host candidates carry the veth's address, not an mDNS name nothing would resolve.
    "--disable-features=WebRtcHideLocalIpsWithMdns",
]

# Runs before any script of every page: each RTCPeerConnection the page makes is kept, so a
# test can read the stats of connections that the web client (or janus.js) made.
RECORD_PEER_CONNECTIONS = """
(() => {
  const Native = window.RTCPeerConnection;
  if (!Native || window.__peerConnections) return;
  const made = [];
  Object.defineProperty(window, '__peerConnections', {value: made});
  class Recorded extends Native {
    constructor(...args) {
      super(...args);
      made.push(this);
    }
  }
  window.RTCPeerConnection = Recorded;
  if (window.webkitRTCPeerConnection) window.webkitRTCPeerConnection = Recorded;
})();
"""

INBOUND_COUNTS = """
async () => {
  const counts = {frames_decoded: 0, packets_received: 0, audio_energy: 0, peer_connections: 0,
                  connected: 0, video_streams: 0, audio_streams: 0};
  for (const pc of window.__peerConnections || []) {
    counts.peer_connections += 1;
    if (pc.connectionState === 'connected') counts.connected += 1;
    let stats;
    try {
      stats = await pc.getStats();
    } catch (error) {
      continue;  // closed
    }
    stats.forEach((report) => {
      if (report.type !== 'inbound-rtp') return;
      if (report.kind === 'video') counts.frames_decoded += report.framesDecoded || 0;
      if (report.kind === 'audio') counts.packets_received += report.packetsReceived || 0;
      // What was heard, not only that packets came: a muted microphone still sends silence.
      if (report.kind === 'audio') {
        counts.audio_energy += Math.round((report.totalAudioEnergy || 0) * 1e6);
      }
      // Streams that carried something: one per remote camera or microphone heard.
      if (report.kind === 'video' && report.framesDecoded > 0) counts.video_streams += 1;
      if (report.kind === 'audio' && report.packetsReceived > 0) counts.audio_streams += 1;
    });
  }
  return counts;
}
"""


async def inbound_counts(page: Page) -> dict[str, int]:
    """Over every peer connection the page made: video frames decoded (`frames_decoded`),
    audio packets received (`packets_received`) and the sound in them (`audio_energy`, in
    millionths of `totalAudioEnergy`) on its inbound RTP streams, how many of those
    streams carried any (`video_streams`, `audio_streams`), and how many connections there
    are (`peer_connections`) and how many are `connected`."""
    counts: dict[str, int] = await page.evaluate(INBOUND_COUNTS)
    return counts


async def media_rising(
    page: Page, *, video: bool = True, audio: bool = True, timeout_s: float = 15.0
) -> dict[str, int]:
    """Wait until the page's decoded video frames and received audio packets (as asked) have
    both risen since the first look, twice (so media flows, not merely started); answers the
    last counts. Fails saying what it saw."""
    wanted = {"frames_decoded": video, "packets_received": audio}
    keys = [key for key, asked in wanted.items() if asked]
    deadline = time.monotonic() + timeout_s
    seen = [await inbound_counts(page)]
    rises = 0
    while time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        now = await inbound_counts(page)
        if all(now[key] > seen[-1][key] for key in keys):
            rises += 1
            if rises >= 2:
                return now
        seen.append(now)
    raise AssertionError(f"{' and '.join(keys)} did not keep rising in {timeout_s} s: {seen}")


def chromium_wrapper(folder: Path, namespace: str) -> Path:
    """A script Playwright starts as the browser: Chromium, inside the namespace."""
    script = folder / f"chromium-in-{namespace}"
    inside = shlex.join(["ip", "netns", "exec", namespace, str(CHROMIUM)])
    script.write_text(f'#!/bin/sh\nexec {inside} "$@"\n')
    script.chmod(0o755)
    return script


@dataclass
class VideoLab:
    """What a video test has: Janus, the server (at `inside_url` for browsers, `host_url` and
    `api` for this process), the browser, the seeded people by username and the live meeting;
    `tab(person)` opens a signed-in page."""

    janus: JanusServer
    server: ServerProcess
    browser: Browser
    api: Api  # from this process, to the server through the pair
    people: dict[str, Person]  # admin, mod_lee, pat_ana, pat_avi, pat_cy (cohort A), pat_bo...
    meeting: LiveMeeting  # a daily series of cohort A's, live now (the real clock)
    folder: Path  # the logs: server.log, janus/janus.log
    community: Community
    setup_s: float = 0.0
    tabs: list[Tab] = field(default_factory=list)
    peers: list[Peer] = field(default_factory=list)

    @property
    def namespace(self) -> str:
        return self.janus.namespace

    @property
    def inside_url(self) -> str:
        """The server as a browser in the namespace sees it: a secure context."""
        return f"http://127.0.0.1:{self.server.port}"

    @property
    def host_url(self) -> str:
        """The server as this test process reaches it, through the pair."""
        return self.server.url

    async def tab(
        self,
        person: Person | None,
        *,
        desktop: bool = False,
        bypass_csp: bool = False,
        accept_dialogs: bool = False,
    ) -> Tab:
        """A tab in a browser context of its own (cookies, storage) with camera and
        microphone allowed, on the app at `inside_url`; signed in as `person` unless None."""
        context = await self.browser.new_context(
            base_url=self.inside_url,
            viewport=DESKTOP if desktop else PHONE,
            device_scale_factor=1,
            locale="en-US",
            timezone_id=TIMEZONE,
            bypass_csp=bypass_csp,
            permissions=["camera", "microphone"],
        )
        context.set_default_timeout(WAIT_MS)
        await context.add_init_script(script=RECORD_PEER_CONNECTIONS)
        tab = Tab(context, await context.new_page(), accept_dialogs=accept_dialogs)
        tab.watch()
        self.tabs.append(tab)
        if person is not None:
            await tab.sign_in(person)
        return tab

    async def another_meeting(self, title: str) -> LiveMeeting:
        """A second live meeting of cohort A's, with a call of its own: for a test that ends
        its call, which no other test of the module may then join."""
        return await live_meeting(self.api, self.community, FakeClock(), title=title)

    async def peer(self, person: Person) -> Peer:
        """A Socket.IO client of this process, signed in as `person`."""
        connected = Peer(self.host_url, person.token)
        self.peers.append(connected)
        return await connected.connect()

    async def video_pass(self, person: Person, meeting: int | None = None) -> dict[str, Any]:
        """`POST /api/meetings/{id}/video` for `person`: a pass into the live meeting's
        Janus room (token, room, server, ...)."""
        series = self.meeting.id if meeting is None else meeting
        reply = await self.api.post(f"/api/meetings/{series}/video", {}, person.token)
        assert reply.status == 201, reply.body
        video: dict[str, Any] = reply.body["video"]
        return video

    async def close_tabs(self) -> list[str]:
        """Close the tabs and peers opened so far; answers what the pages did wrong."""
        tabs, self.tabs = self.tabs, []
        peers, self.peers = self.peers, []
        for connected in peers:
            with contextlib.suppress(Exception):
                await connected.disconnect()
        for tab in tabs:
            with contextlib.suppress(Exception):
                await tab.context.close()
        return [problem for tab in tabs for problem in tab.problems()]

    def logs(self) -> str:
        """The ends of the server's and Janus's logs, for a failure message."""
        parts = []
        for name in ("server.log", "janus/janus.log"):
            path = self.folder / name
            if path.is_file():
                parts.append(f"--- {name}\n{path.read_text(errors='replace')[-3000:]}")
        return "\n".join(parts)


async def seed(api: Api) -> tuple[Community, dict[str, Person], LiveMeeting]:
    """tests.support's community (the admin exists), a third patient of cohort A's and a
    daily meeting of cohort A's whose occurrence started 20 minutes ago."""
    c = await build_community_as(api, await sign_in(api, "admin"))
    people = dict(c.people)
    people["pat_cy"] = await register(api, c.mod_lee, "pat_cy", "patient", c.cohort_a)
    meeting = await live_meeting(api, c, FakeClock())  # the server's clock is the real one
    return c, people, meeting


@contextlib.asynccontextmanager
async def running_video_lab(folder: Path, **settings: str) -> AsyncIterator[VideoLab]:
    """Janus, the server and Chromium in one namespace, seeded, for the `async with` block;
    logs in `folder`; the server's `settings` over the lab's. Needs root, Janus, Chromium and
    web/dist (the fixtures skip without)."""
    began = time.monotonic()
    async with contextlib.AsyncExitStack() as stack:
        janus_folder = folder / "janus"
        janus_folder.mkdir(exist_ok=True)
        # Exited last: stops Janus, kills whatever is left inside, deletes the namespace.
        janus = await stack.enter_async_context(running_janus(janus_folder))
        env = server_env(
            f"sqlite+aiosqlite:///{folder / 'peerrooms.db'}",
            folder,
            web_dir=str(WEB_DIST),
            **janus.settings(),
            **{
                # Who is in each call, asked every second: attendance shows it at once.
                "video_presence_poll_s": "1",
                **settings,
            },
        )
        await create_admin(env)  # migrates the new database, too
        inside = ("ip", "netns", "exec", janus.namespace)
        server = await ServerProcess.start(
            env,
            folder / "server.log",
            prefix=inside,
            host="0.0.0.0",  # noqa: S104 - inside the namespace: its lo and veth end only
            port=SERVER_PORT,
            address=janus.janus_ip,
        )
        stack.push_async_callback(server.stop)
        playwright = await stack.enter_async_context(async_playwright())
        browser = await playwright.chromium.launch(
            executable_path=str(chromium_wrapper(folder, janus.namespace)),
            args=[*CHROMIUM_ARGS, *MEDIA_ARGS],
        )
        stack.push_async_callback(browser.close)
        http = await stack.enter_async_context(aiohttp.ClientSession())
        api = Api(server.url, http)
        community, people, meeting = await seed(api)
        lab = VideoLab(janus, server, browser, api, people, meeting, folder, community)
        stack.push_async_callback(lab.close_tabs)
        lab.setup_s = time.monotonic() - began
        yield lab


def video_lab_or_skip() -> None:
    janus_or_skip()
    require(
        (CHROMIUM, "apt-get install chromium"),
        (WEB_DIST / "index.html", "cd web && npm ci && npm run build"),
    )


# Named apart from their functions, so a test module can import them (`from ... import
# video_lab_fixture, video_lab_module_fixture`) and still take a `video_lab` argument.
@pytest_asyncio.fixture(name="video_lab_module", scope="module", loop_scope="session")
async def video_lab_module_fixture(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[VideoLab]:
    """One lab for a module's tests (in the session's loop, as the browser tests run)."""
    video_lab_or_skip()
    async with running_video_lab(tmp_path_factory.mktemp("video-lab")) as lab:
        yield lab


@pytest_asyncio.fixture(name="video_lab", loop_scope="session")
async def video_lab_fixture(video_lab_module: VideoLab) -> AsyncIterator[VideoLab]:
    """The module's lab for one test: the tabs and peers it opens are closed afterwards, and
    no page may have thrown an uncaught error or broken the Content-Security-Policy."""
    yield video_lab_module
    problems = await video_lab_module.close_tabs()
    assert not problems, "the web client misbehaved:\n" + "\n".join(problems)
