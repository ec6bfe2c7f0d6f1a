"""Serves the built browser client at `/` and its hashed assets under `/assets/`, and what makes
it an installable app (its service worker at `/sw.js`, `/manifest.webmanifest`, `/icons/`),
with headers that keep a page of people's words from ever running anything but our own
script."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web


def security_headers(connect_sources: tuple[str, ...] = ()) -> dict[str, str]:
    """The headers of every response; `connect_sources` are the other hosts the page may
    talk to (the media server's WebSocket when video calls are on)."""
    # Message text is rendered with textContent; the policy is the second lock on that door.
    policy = "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            # The service worker and the manifest: our own files, said outright rather than
            # left to default-src.
            "worker-src 'self'",
            "manifest-src 'self'",
            # 'self' covers the same host's ws: and wss: (CSP Level 3).
            " ".join(["connect-src 'self'", *connect_sources]),
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )
    return {
        "Content-Security-Policy": policy,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "X-Frame-Options": "DENY",
    }


PRIVATE_PATHS = ("/api/", "/metrics", "/socket.io/")
# Vite names assets by content hash, so a cached copy is never stale.
IMMUTABLE = "public, max-age=31536000, immutable"
# Files at the root of the build, each at a fixed address (not content-hashed, so revalidated
# on every use): the service worker must be at `/` for its scope to be the whole app.
ROOT_FILES = {
    "/sw.js": ("sw.js", "text/javascript"),
    "/manifest.webmanifest": ("manifest.webmanifest", "application/manifest+json"),
}
NOT_BUILT = (
    "The web client has not been built. Run `make run` (or `cd web && npm ci && npm run build`)."
)


def add_web_routes(
    app: web.Application, web_dir: Path, connect_sources: tuple[str, ...] = ()
) -> None:
    index = web_dir / "index.html"
    headers = security_headers(connect_sources)

    async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
        if response.status == 101:
            # A websocket handshake: browsers apply none of these to it, and its headers are
            # kept for as long as the socket is open.
            return
        for name, value in headers.items():
            response.headers.setdefault(name, value)
        if request.path.startswith("/assets/") and response.status == 200:
            response.headers["Cache-Control"] = IMMUTABLE
        elif request.path.startswith("/icons/") and response.status in (200, 304):
            response.headers["Cache-Control"] = "no-cache"
        elif request.path.startswith(PRIVATE_PATHS):
            # People's words, tokens and rosters: no browser or proxy keeps a copy.
            response.headers["Cache-Control"] = "no-store"

    async def index_page(request: web.Request) -> web.StreamResponse:
        if not index.is_file():
            return web.Response(status=503, text=NOT_BUILT)
        return web.FileResponse(index, headers={"Cache-Control": "no-cache"})

    def root_file(
        name: str, content_type: str
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        path = web_dir / name

        async def serve(request: web.Request) -> web.StreamResponse:
            if not path.is_file():
                raise web.HTTPNotFound()
            return web.FileResponse(
                path, headers={"Content-Type": content_type, "Cache-Control": "no-cache"}
            )

        return serve

    app.router.add_get("/", index_page)
    for route, (name, content_type) in ROOT_FILES.items():
        app.router.add_get(route, root_file(name, content_type))
    assets = web_dir / "assets"
    if assets.is_dir():
        app.router.add_static("/assets", assets)
    icons = web_dir / "icons"
    if icons.is_dir():
        app.router.add_static("/icons", icons)
    app.on_response_prepare.append(add_security_headers)
