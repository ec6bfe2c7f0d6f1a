"""The built browser client is served at `/` with headers that forbid anything but our own
script, and a server without a build says how to make one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest

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
