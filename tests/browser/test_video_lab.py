"""The video lab (tests/browser/video_lab.py) works: a page in the namespaced Chromium loads the
app from the namespace's loopback, a secure context where fake camera and microphone work; it
reaches Janus's WebSocket transport with a pass from the server; two pages connect to each
other over the namespace's veth with no STUN and decode each other's media; and afterwards
nothing of the lab is left."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page

from tests.browser.video_lab import (
    VideoLab,
    media_rising,
    running_video_lab,
    video_lab_fixture,  # noqa: F401 - the fixtures
    video_lab_module_fixture,  # noqa: F401
    video_lab_or_skip,
)
from tests.janus import pids_inside

pytestmark = pytest.mark.asyncio(loop_scope="session")

JANUS_CREATE = """
async ([url, token]) => await new Promise((resolve, reject) => {
  const socket = new WebSocket(url, 'janus-protocol');
  const timer = setTimeout(() => reject(new Error('Janus did not answer')), 5000);
  socket.onopen = () => socket.send(JSON.stringify({janus: 'create', transaction: 'lab', token}));
  socket.onmessage = (event) => {
    clearTimeout(timer);
    socket.close();
    resolve({protocol: socket.protocol, answer: JSON.parse(event.data)});
  };
  socket.onerror = () => {
    clearTimeout(timer);
    reject(new Error('the WebSocket to Janus failed'));
  };
})
"""

# One side of a call made by hand: fake camera and microphone sent, what arrives played,
# candidates gathered before the description is handed over (no trickle, no STUN).
CALL_SIDE = """
async (offer) => {
  const stream = await navigator.mediaDevices.getUserMedia({audio: true, video: true});
  const pc = new RTCPeerConnection({iceServers: []});
  for (const track of stream.getTracks()) pc.addTrack(track, stream);
  pc.ontrack = (event) => {
    if (event.track.kind !== 'video') return;
    const video = document.createElement('video');
    video.muted = true;
    video.autoplay = true;
    video.srcObject = event.streams[0];
    document.body.append(video);
  };
  window.__labCall = pc;
  if (offer) {
    await pc.setRemoteDescription(offer);
    await pc.setLocalDescription(await pc.createAnswer());
  } else {
    await pc.setLocalDescription(await pc.createOffer());
  }
  if (pc.iceGatheringState !== 'complete') {
    await new Promise((resolve) => {
      pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && resolve();
    });
  }
  return {type: pc.localDescription.type, sdp: pc.localDescription.sdp};
}
"""


async def test_a_page_loads_the_app_in_a_secure_context_with_fake_media(
    video_lab: VideoLab,
) -> None:
    lab = video_lab
    tab = await lab.tab(lab.people["pat_ana"])  # signed in through the app's form
    assert tab.page.url.startswith(lab.inside_url + "/"), tab.page.url
    assert await tab.page.evaluate("() => window.isSecureContext")
    tracks = await tab.page.evaluate(
        """async () => {
            const stream = await navigator.mediaDevices.getUserMedia({audio: true, video: true});
            const kinds = stream.getTracks().map((track) => track.kind).sort();
            stream.getTracks().forEach((track) => track.stop());
            return kinds;
        }"""
    )
    assert tracks == ["audio", "video"]
    # This process reaches the same server through the pair, over HTTP and Socket.IO.
    assert lab.host_url == f"http://{lab.janus.janus_ip}:{lab.server.port}"
    await lab.peer(lab.people["pat_avi"])
    meetings = await lab.api.get("/api/meetings", lab.people["mod_lee"].token)
    assert [m["id"] for m in meetings.body["meetings"]] == [lab.meeting.id], meetings.body


async def test_a_page_opens_a_janus_session_with_a_pass_from_the_server(
    video_lab: VideoLab,
) -> None:
    lab = video_lab
    video = await lab.video_pass(lab.people["pat_cy"])
    assert video["server"] == lab.janus.ws_url, video
    # The app's Content-Security-Policy (connect-src 'self') does not let its pages reach the
    # media server yet (server/web/http.py); this check of the lab looks past it.
    tab = await lab.tab(lab.people["pat_cy"], bypass_csp=True)
    admitted = await tab.page.evaluate(JANUS_CREATE, [video["server"], video["token"]])
    assert admitted["protocol"] == "janus-protocol", admitted
    assert admitted["answer"]["janus"] == "success", admitted
    assert admitted["answer"]["transaction"] == "lab", admitted
    refused = await tab.page.evaluate(JANUS_CREATE, [video["server"], "guessed"])
    assert refused["answer"]["janus"] == "error", refused
    assert refused["answer"]["error"]["code"] == 403, refused


async def test_two_pages_call_each_other_over_the_namespaces_link(video_lab: VideoLab) -> None:
    lab = video_lab
    ana = await lab.tab(lab.people["pat_ana"])
    avi = await lab.tab(lab.people["pat_avi"])
    offer = await ana.page.evaluate(CALL_SIDE, None)
    answer = await avi.page.evaluate(CALL_SIDE, offer)
    await ana.page.evaluate("(answer) => window.__labCall.setRemoteDescription(answer)", answer)

    for description in (offer, answer):
        candidates = host_candidates(description)
        assert candidates, description["sdp"]
        # On the namespace's end of the pair only: no loopback, no reflexive addresses.
        assert {address for address, _ in candidates} == {lab.janus.janus_ip}, candidates
    for page in (ana.page, avi.page):
        counts = await media_rising(page)
        assert counts["peer_connections"] == 1 and counts["connected"] == 1, counts
        assert await selected_pair_is_host(page), "the call went through something else"


def host_candidates(description: dict[str, Any]) -> list[tuple[str, str]]:
    """(address, type) of each candidate in an SDP."""
    found = []
    for line in str(description["sdp"]).splitlines():
        if line.startswith("a=candidate:"):
            fields = line.split()
            found.append((fields[4], fields[7]))
    assert all(kind == "host" for _, kind in found), found
    return found


async def selected_pair_is_host(page: Page) -> bool:
    pair: bool = await page.evaluate(
        """async () => {
            const stats = await window.__labCall.getStats();
            const reports = [...stats.values()];
            const transport = reports.find((r) => r.type === 'transport');
            const pair = stats.get(transport.selectedCandidatePairId);
            const local = stats.get(pair.localCandidateId);
            const remote = stats.get(pair.remoteCandidateId);
            return local.candidateType === 'host' && remote.candidateType === 'host';
        }"""
    )
    return pair


async def test_nothing_of_a_lab_is_left_afterwards(tmp_path: Path) -> None:
    video_lab_or_skip()
    async with running_video_lab(tmp_path) as lab:
        assert lab.namespace in namespaces()
        inside = pids_inside(lab.namespace)
        assert lab.server.process.pid in inside, inside
        await lab.tab(lab.people["admin"])
        inside = pids_inside(lab.namespace)  # with Chromium's
        host_end = f"prh{lab.namespace.removeprefix('prj-')}"
        assert host_end in links()
    assert lab.namespace not in namespaces()
    assert host_end not in links()
    running = [pid for pid in inside if alive(pid)]
    assert not running, running


def namespaces() -> str:
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True)  # noqa: S607
    return listed.stdout


def links() -> str:
    listed = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True)  # noqa: S607
    return listed.stdout


def alive(pid: int) -> bool:
    """Running: a zombie, waiting for its parent to read how it ended, counts as gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
