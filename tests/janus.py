"""Debian's Janus WebRTC server for the tests, in a network namespace the test makes and
deletes.

Janus gathers no ICE candidates on loopback, and a media server must not listen on the
machine's own interfaces in a test. So it runs inside a namespace of its own, joined to the
host by one veth pair with private addresses (10.77.x.y/30): Janus listens on the inside
address, and ICE is kept to the inside interface (`ice_enforce_list`). The server under test
reaches its HTTP and admin APIs from the host through the pair; nothing leaves the machine.
Needs root (`ip netns`), as CI has; `janus_or_skip` says why a test cannot run elsewhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import secrets
import shutil
import signal
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from server.media.janus import JanusClient, JanusConfig

HTTP_PORT, ADMIN_PORT, WS_PORT = 8088, 7088, 8188
START_TIMEOUT_S = 20.0
# Starts tried, each in a fresh namespace, before a Janus that exits while starting fails.
START_ATTEMPTS = 3
# Janus's plugins and transports other than the video room and HTTP/WebSockets stay off.
OTHER_PLUGINS = (
    "audiobridge", "duktape", "echotest", "lua", "nosip", "recordplay", "sip", "streaming",
    "textroom", "videocall", "voicemail",
)  # fmt: skip
OTHER_TRANSPORTS = ("mqtt", "nanomsg", "pfunix", "rabbitmq")


@dataclass(frozen=True)
class JanusServer:
    namespace: str
    host_ip: str  # the host's end of the pair
    janus_ip: str  # Janus's end, inside the namespace
    inside_interface: str
    api_secret: str
    admin_secret: str
    admin_key: str  # the video room plugin's: creating rooms needs it

    @property
    def http_url(self) -> str:
        return f"http://{self.janus_ip}:{HTTP_PORT}/janus"

    @property
    def admin_url(self) -> str:
        return f"http://{self.janus_ip}:{ADMIN_PORT}/admin"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.janus_ip}:{WS_PORT}"

    def settings(self) -> dict[str, str]:
        """The server's settings for this Janus (environment values too: all text)."""
        return {
            "janus_url": self.http_url,
            "janus_admin_url": self.admin_url,
            "janus_api_secret": self.api_secret,
            "janus_admin_secret": self.admin_secret,
            "janus_admin_key": self.admin_key,
            "janus_ws_url": self.ws_url,
        }

    def client(
        self,
        http: aiohttp.ClientSession,
        *,
        api_secret: str | None = None,
        admin_secret: str | None = None,
        admin_key: str | None = None,
    ) -> JanusClient:
        """The server's client of this Janus, or one with a secret guessed wrong."""
        config = JanusConfig(
            self.http_url,
            self.admin_url,
            api_secret or self.api_secret,
            admin_secret or self.admin_secret,
            admin_key or self.admin_key,
        )
        return JanusClient(config, http)


def janus_or_skip() -> None:
    """Skip (saying why) where Janus cannot run: not installed, or no root for `ip netns`.
    .ci/run installs Janus and runs as root, so CI runs these tests."""
    if shutil.which("janus") is None:
        pytest.skip("Janus is not installed (apt-get install janus; .ci/run does)")
    if os.geteuid() != 0:
        pytest.skip("a network namespace for Janus needs root")


def _run(*command: str) -> None:
    subprocess.run(command, check=True, capture_output=True)  # noqa: S603 - our own commands


def _library(kind: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/*/janus/{kind}"))
    assert found, f"Janus's {kind} folder was not found"
    return found[0]


def write_config(folder: Path, server: JanusServer) -> Path:
    """Janus's configuration for `server`, in `folder`; answers the main file."""
    disabled_plugins = ",".join(f"libjanus_{name}.so" for name in OTHER_PLUGINS)
    disabled_transports = ",".join(f"libjanus_{name}.so" for name in OTHER_TRANSPORTS)
    files = {
        "janus.jcfg": f"""
general: {{
    configs_folder = "{folder}"
    plugins_folder = "{_library("plugins")}"
    transports_folder = "{_library("transports")}"
    events_folder = "{_library("events")}"
    loggers_folder = "{_library("loggers")}"
    debug_level = 4
    api_secret = "{server.api_secret}"
    admin_secret = "{server.admin_secret}"
    token_auth = true
}}
media: {{ rtp_port_range = "20000-20999" }}
nat: {{ nice_debug = false ice_enforce_list = "{server.inside_interface}" }}
plugins: {{ disable = "{disabled_plugins}" }}
transports: {{ disable = "{disabled_transports}" }}
events: {{ broadcast = false }}
loggers: {{ disable = "libjanus_jsonlog.so" }}
""",
        "janus.transport.http.jcfg": f"""
general: {{ json = "plain" base_path = "/janus" http = true port = {HTTP_PORT}
           ip = "{server.janus_ip}" https = false }}
admin: {{ admin_base_path = "/admin" admin_http = true admin_port = {ADMIN_PORT}
         admin_ip = "{server.janus_ip}" admin_https = false }}
""",
        "janus.transport.websockets.jcfg": f"""
general: {{ json = "plain" ws = true ws_port = {WS_PORT} ws_ip = "{server.janus_ip}" wss = false }}
admin: {{ admin_ws = false admin_wss = false }}
""",
        "janus.plugin.videoroom.jcfg": f"""
general: {{ admin_key = "{server.admin_key}" }}
""",
    }
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder / "janus.jcfg"


def make_namespace(tag: str) -> tuple[str, str, str, str, str]:
    """A namespace joined to the host by a veth pair: its name, the host's address, the
    inside address and the two interfaces' names."""
    namespace, host_end, inside_end = f"prj-{tag}", f"prh{tag}", f"prn{tag}"
    # One /30 of 10.77.0.0/16 per namespace, picked by the tag: 16,384 of them.
    block = int(tag, 16) % 16384
    third, base = block // 64, (block % 64) * 4
    host_ip, janus_ip = f"10.77.{third}.{base + 1}", f"10.77.{third}.{base + 2}"
    _run("ip", "netns", "add", namespace)
    try:
        _run("ip", "link", "add", host_end, "type", "veth", "peer", "name", inside_end)
        _run("ip", "link", "set", inside_end, "netns", namespace)
        _run("ip", "addr", "add", f"{host_ip}/30", "dev", host_end)
        _run("ip", "link", "set", host_end, "up")
        inside = ("ip", "netns", "exec", namespace)
        _run(*inside, "ip", "addr", "add", f"{janus_ip}/30", "dev", inside_end)
        _run(*inside, "ip", "link", "set", inside_end, "up")
        _run(*inside, "ip", "link", "set", "lo", "up")
    except BaseException:
        delete_namespace(namespace, host_end)
        raise
    return namespace, host_ip, janus_ip, host_end, inside_end


def pids_inside(namespace: str) -> list[int]:
    """The processes running in the namespace now (all of them started by the test)."""
    listed = subprocess.run(["ip", "netns", "pids", namespace], capture_output=True, text=True)  # noqa: S603, S607
    return [int(pid) for pid in listed.stdout.split()] if listed.returncode == 0 else []


def delete_namespace(namespace: str, host_end: str | None = None) -> None:
    """Whatever the test left running inside is killed (a namespace with processes in it
    outlives its name, and its end of the pair with it); then the pair (deleting one end
    deletes both; the namespace's own teardown would take the host's end only later), then
    the namespace."""
    for pid in pids_inside(namespace):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    if host_end is not None:
        subprocess.run(["ip", "link", "delete", host_end], check=False, capture_output=True)  # noqa: S603, S607
    subprocess.run(["ip", "netns", "delete", namespace], check=False, capture_output=True)  # noqa: S603, S607


async def wait_until_answering(server: JanusServer, process: asyncio.subprocess.Process) -> None:
    deadline = asyncio.get_running_loop().time() + START_TIMEOUT_S
    async with aiohttp.ClientSession() as session:
        while asyncio.get_running_loop().time() < deadline:
            if process.returncode is not None:
                break
            with contextlib.suppress(aiohttp.ClientError, OSError):
                async with session.get(f"{server.http_url}/info") as reply:
                    if reply.status == 200:
                        return
            await asyncio.sleep(0.1)
    raise AssertionError("Janus did not start")


@contextlib.asynccontextmanager
async def running_janus(folder: Path) -> AsyncIterator[JanusServer]:
    """Janus in a namespace of its own for the `async with` block; its log is janus.log in
    `folder`. The namespace and the pair are gone afterwards, whatever happened.

    A Janus that exits while starting is started again in a fresh namespace (up to
    START_ATTEMPTS): once in a full CI run it found no address on its interface and could not
    bind, though the address had been added. The namespace's addresses as Janus started are
    in the log, to tell that case apart."""
    for attempt in range(1, START_ATTEMPTS + 1):
        tag = secrets.token_hex(3)
        namespace, host_ip, janus_ip, host_end, inside_end = make_namespace(tag)
        server = JanusServer(
            namespace, host_ip, janus_ip, inside_end,
            api_secret=secrets.token_urlsafe(16), admin_secret=secrets.token_urlsafe(16),
            admin_key=secrets.token_urlsafe(16),
        )  # fmt: skip
        process: asyncio.subprocess.Process | None = None
        try:
            process = await start_janus(folder, server)
            try:
                await wait_until_answering(server, process)
            except AssertionError:
                if process.returncode is not None and attempt < START_ATTEMPTS:
                    continue  # exited while starting: again, in a fresh namespace
                raise AssertionError((folder / "janus.log").read_text()[-4000:]) from None
            yield server
            return
        finally:
            if process is not None and process.returncode is None:
                process.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(process.wait(), 10)
                except TimeoutError:
                    process.kill()
                    await process.wait()
            delete_namespace(namespace, host_end)


async def start_janus(folder: Path, server: JanusServer) -> asyncio.subprocess.Process:
    config = write_config(folder, server)
    with (folder / "janus.log").open("ab") as log:
        show = ["ip", "-n", server.namespace, "-4", "-o", "addr", "show"]
        addresses = subprocess.run(show, capture_output=True, check=False)  # noqa: S603, S607
        log.write(b"namespace addresses:\n" + addresses.stdout + addresses.stderr)
        log.flush()
        return await asyncio.create_subprocess_exec(
            "ip", "netns", "exec", server.namespace, "janus", "-C", str(config), "-F", str(folder),
            stdout=log, stderr=log,
        )  # fmt: skip
