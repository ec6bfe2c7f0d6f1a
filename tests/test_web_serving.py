"""The built browser client is served at `/` with headers that forbid anything but our own
script, its service worker and manifest at fixed addresses at the root, and a server without a
build says how to make one."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import struct
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from yarl import URL

from tests.support import RunningServer

INDEX = '<!doctype html><html lang="en"><script type="module" src="/assets/app-1a2b.js"></script>'
SCRIPT = "console.log('peerrooms');"
WORKER = "self.addEventListener('push', () => {});"
MANIFEST = '{"name": "peerrooms", "start_url": "/"}'
ICON = b"\x89PNG\r\n\x1a\n-icon-"
PUBLIC = Path(__file__).resolve().parents[1] / "web" / "public"


@pytest.fixture
def web_dir(tmp_path: Path) -> Path:
    """A stand-in for `web/dist`, shaped like Vite's output."""
    built = tmp_path / "web-dist"
    (built / "assets").mkdir(parents=True)
    (built / "index.html").write_text(INDEX)
    (built / "assets" / "app-1a2b.js").write_text(SCRIPT)
    # Vite copies web/public/ to the root of the build as it is.
    (built / "sw.js").write_text(WORKER)
    (built / "manifest.webmanifest").write_text(MANIFEST)
    (built / "icons").mkdir()
    (built / "icons" / "icon-192.png").write_bytes(ICON)
    return built


@pytest.fixture
def server_overrides(web_dir: Path) -> dict[str, Any]:
    return {"web_dir": web_dir}


async def fetch(server: RunningServer, path: str) -> tuple[int, dict[str, str], str]:
    async with aiohttp.ClientSession() as session:
        async with session.get(server.url + path) as response:
            return response.status, dict(response.headers), await response.text()


async def test_the_client_and_its_assets_are_served_with_a_strict_policy(
    server: RunningServer,
) -> None:
    status, headers, text = await fetch(server, "/")
    assert (status, text) == (200, INDEX)
    assert headers["Content-Type"].startswith("text/html")
    assert headers["Cache-Control"] == "no-cache"
    policy = headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    # No media server here: the page talks to its own host only.
    assert "connect-src 'self';" in policy, policy
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"

    status, headers, text = await fetch(server, "/assets/app-1a2b.js")
    assert (status, text) == (200, SCRIPT)
    assert "immutable" in headers["Cache-Control"]
    assert "javascript" in headers["Content-Type"]

    # Nothing outside the build is reachable through the assets route.
    for path in ("/assets/../index.html", "/assets/%2e%2e/index.html", "/assets/missing.js"):
        status, headers, text = await fetch(server, path)
        assert status in (403, 404), (path, status)
        assert "immutable" not in headers.get("Cache-Control", "")
    # The API keeps its JSON error shape next to the client.
    status, _, text = await fetch(server, "/api/nowhere")
    assert status == 404 and '"not_found"' in text


async def test_the_service_worker_and_manifest_are_served_at_the_root(
    server: RunningServer,
) -> None:
    # At /sw.js the worker's scope is the whole app; never cached unchecked, so a new version
    # reaches every browser on its next visit.
    status, headers, text = await fetch(server, "/sw.js")
    assert (status, text) == (200, WORKER)
    assert headers["Content-Type"].startswith("text/javascript")
    assert headers["Cache-Control"] == "no-cache"
    # The worker runs under the same policy as the page (a worker takes its response's).
    policy = headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "connect-src 'self'" in policy
    assert "worker-src 'self'" in policy and "manifest-src 'self'" in policy
    assert headers["X-Content-Type-Options"] == "nosniff"

    status, headers, text = await fetch(server, "/manifest.webmanifest")
    assert (status, text) == (200, MANIFEST)
    assert headers["Content-Type"].startswith("application/manifest+json")
    assert headers["Cache-Control"] == "no-cache"

    async with aiohttp.ClientSession() as session:
        async with session.get(server.url + "/icons/icon-192.png") as response:
            assert (response.status, await response.read()) == (200, ICON)
            assert response.headers["Content-Type"] == "image/png"
            assert response.headers["Cache-Control"] == "no-cache"
    # Nothing outside the icons through their route, and nothing at the root but what is named.
    for path in ("/icons/../index.html", "/icons/%2e%2e/index.html", "/icons/missing.png", "/x.js"):
        status, _, _ = await fetch(server, path)
        assert status in (403, 404), (path, status)
    _, headers, _ = await fetch(server, "/")
    assert "worker-src 'self'" in headers["Content-Security-Policy"]


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", path
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_the_manifest_names_icons_that_exist_at_their_sizes() -> None:
    manifest = json.loads((PUBLIC / "manifest.webmanifest").read_text())
    assert manifest["start_url"] == "/" and manifest["display"] == "standalone"
    sizes = set()
    for icon in manifest["icons"]:
        assert icon["src"].startswith("/icons/"), icon
        width, height = png_size(PUBLIC / icon["src"].lstrip("/"))
        assert icon["sizes"] == f"{width}x{height}", icon
        sizes.add(width)
    # What browsers ask of an installable app: 192 and 512 pixel icons.
    assert {192, 512} <= sizes
    assert (PUBLIC / "sw.js").is_file()


@pytest.mark.parametrize("server_overrides", [{"web_dir": Path("/nonexistent/dist")}])
async def test_without_a_build_the_root_says_how_to_build_it(server: RunningServer) -> None:
    status, _, text = await fetch(server, "/")
    assert status == 503
    assert "npm run build" in text
    for path in ("/sw.js", "/manifest.webmanifest"):
        status, _, _ = await fetch(server, path)
        assert status == 404, path


async def websocket_handshake_headers(server: RunningServer) -> tuple[str, str]:
    """The status line and headers of a Socket.IO websocket handshake, read off the wire."""
    url = URL(server.url)
    reader, writer = await asyncio.open_connection(url.host, url.port)
    try:
        writer.write(
            (
                "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
                f"Host: {url.host}:{url.port}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        head = (await reader.readuntil(b"\r\n\r\n")).decode()
    finally:
        writer.close()
    status, _, headers = head.partition("\r\n")
    return status, headers


async def test_a_websocket_handshake_carries_no_page_headers(server: RunningServer) -> None:
    # Browsers apply none of a page's policies to a 101, and the socket keeps its response,
    # headers included, for as long as it is open.
    status, headers = await websocket_handshake_headers(server)
    assert " 101 " in status
    assert "upgrade: websocket" in headers.lower()
    assert "content-security-policy" not in headers.lower()
    assert "x-frame-options" not in headers.lower()
    # The long-polling transport's answers are ordinary responses and keep them.
    _, polling_headers, _ = await fetch(server, "/socket.io/?EIO=4&transport=polling")
    assert "frame-ancestors 'none'" in polling_headers["Content-Security-Policy"]
