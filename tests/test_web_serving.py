"""The built browser client is served at `/` with headers that forbid anything but our own
script, and a server without a build says how to make one."""

from __future__ import annotations

import asyncio
import base64
import os
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from yarl import URL

from tests.support import RunningServer

INDEX = '<!doctype html><html lang="en"><script type="module" src="/assets/app-1a2b.js"></script>'
SCRIPT = "console.log('peerrooms');"


@pytest.fixture
def web_dir(tmp_path: Path) -> Path:
    """A stand-in for `web/dist`, shaped like Vite's output."""
    built = tmp_path / "web-dist"
    (built / "assets").mkdir(parents=True)
    (built / "index.html").write_text(INDEX)
    (built / "assets" / "app-1a2b.js").write_text(SCRIPT)
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


@pytest.mark.parametrize("server_overrides", [{"web_dir": Path("/nonexistent/dist")}])
async def test_without_a_build_the_root_says_how_to_build_it(server: RunningServer) -> None:
    status, _, text = await fetch(server, "/")
    assert status == 503
    assert "npm run build" in text


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
