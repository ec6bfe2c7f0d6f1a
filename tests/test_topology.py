"""The docker-compose topology from local processes (scripts/topology): two replicas on one
database and one Redis, nginx in front with sticky routing, chatting as one service."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import socketio

from tests.processes import create_admin, free_port, server_env
from tests.support import (
    WAIT_S,
    Peer,
    barrier_through_redis,
    community_at,
    joined,
    send,
    with_id,
)

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "topology"
START_TIMEOUT_S = 30.0
# Each process gets this long to stop before the script SIGKILLs it (a replica finishes the
# events under way for up to 10 s), and the script this long in all.
PROCESS_STOP_TIMEOUT_S = 12
STOP_TIMEOUT_S = 20.0


def nginx_binary() -> str:
    found = shutil.which("nginx") or (
        "/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None
    )
    if found is None:
        pytest.fail(
            "nginx is not installed: apt-get install -y nginx-light (.ci/run installs it)",
            pytrace=False,
        )
    return found


def distinct_free_ports(count: int) -> list[int]:
    ports: list[int] = []
    while len(ports) < count:
        port = free_port()
        if port not in ports:
            ports.append(port)
    return ports


def alive(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def children_of(parent: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == parent:
                    children.append(int(entry.name))
    return children


def processes_of(run_dir: Path, replica_ports: list[int]) -> list[int]:
    """Running processes that belong to this topology by their command line: nginx (its -p and
    -c name the run directory) and `server serve --port P` on a replica port."""
    ports = {str(port) for port in replica_ports}
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            args = [
                a.decode(errors="replace") for a in (entry / "cmdline").read_bytes().split(b"\0")
            ]
        except OSError:
            continue
        serves_here = "serve" in args and "--port" in args and args[-1] in ports
        if (serves_here or any(str(run_dir) in arg for arg in args)) and alive(int(entry.name)):
            found.append(int(entry.name))
    return found


class Topology:
    """scripts/topology as a subprocess, on ports and a run directory of the test's own."""

    def __init__(self, env: dict[str, str], tmp_path: Path, nginx: str) -> None:
        self.port, self.port_a, self.port_b = distinct_free_ports(3)
        self.run_dir = tmp_path / "topology"
        self.log_path = tmp_path / "topology.log"
        self.env = {
            **env,
            "TOPOLOGY_PORT": str(self.port),
            "TOPOLOGY_PORT_A": str(self.port_a),
            "TOPOLOGY_PORT_B": str(self.port_b),
            "TOPOLOGY_DIR": str(self.run_dir),
            "TOPOLOGY_PYTHON": sys.executable,
            "TOPOLOGY_NGINX": nginx,
            "TOPOLOGY_STOP_TIMEOUT_S": str(PROCESS_STOP_TIMEOUT_S),
        }
        self.process: asyncio.subprocess.Process | None = None
        # Every process it started: the replicas, nginx's master and its workers.
        self.pids: list[int] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url_a(self) -> str:
        return f"http://127.0.0.1:{self.port_a}"

    @property
    def url_b(self) -> str:
        return f"http://127.0.0.1:{self.port_b}"

    def output(self) -> str:
        """The script's output and the end of every log, for failure messages."""
        parts = [f"--- {self.log_path.name}\n{self._read(self.log_path)}"]
        logs = self.run_dir / "logs"
        if logs.is_dir():
            for log in sorted(logs.iterdir()):
                parts.append(f"--- {log.name}\n{self._read(log)[-3000:]}")
        return "\n".join(parts)

    @staticmethod
    def _read(path: Path) -> str:
        return path.read_text(errors="replace") if path.exists() else "(none)"

    async def start(self) -> None:
        with self.log_path.open("wb") as log:
            self.process = await asyncio.create_subprocess_exec(
                str(SCRIPT),
                env=self.env,
                stdout=log,
                stderr=log,
                stdin=asyncio.subprocess.DEVNULL,
                start_new_session=True,
            )
        await self._wait_for_nginx()
        for name in ("replica-a.pid", "replica-b.pid", "nginx/nginx.pid"):
            pid_file = self.run_dir / name
            assert pid_file.is_file(), f"no {pid_file} while the topology runs\n{self.output()}"
            self.pids.append(int(pid_file.read_text()))
        self.pids += children_of(self.pids[-1])
        assert all(alive(pid) for pid in self.pids), self.output()

    async def _wait_for_nginx(self) -> None:
        assert self.process is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_TIMEOUT_S
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
            while loop.time() < deadline:
                if self.process.returncode is not None:
                    raise AssertionError(
                        f"scripts/topology exited ({self.process.returncode}) before nginx "
                        f"answered /healthz\n{self.output()}"
                    )
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    async with session.get(self.url + "/healthz") as response:
                        if response.status == 200:
                            return
                await asyncio.sleep(0.2)
        raise AssertionError(
            f"nginx did not answer /healthz in {START_TIMEOUT_S}s\n{self.output()}"
        )

    async def stop(self) -> list[int]:
        """SIGTERM to the script, SIGKILL if it does not end; then SIGKILL whatever it left
        running. Answers the processes that had to be killed that way."""
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), STOP_TIMEOUT_S)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        survivors = sorted(
            {pid for pid in self.pids if alive(pid)}
            | set(processes_of(self.run_dir, [self.port_a, self.port_b]))
        )
        for pid in survivors:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return survivors

    def upstreams_of_socketio_requests(self) -> set[str]:
        """The replicas nginx sent Socket.IO requests to, from its access log."""
        lines = (self.run_dir / "logs" / "nginx-access.log").read_text().splitlines()
        return {
            line.split("upstream=", 1)[1].split()[0]
            for line in lines
            if " /socket.io/ " in line and "upstream=" in line
        }


class ProxiedPeer(Peer):
    """A client through nginx as a browser connects: long-polling first (then, if it may, the
    upgrade to WebSocket), with an Origin header, which Engine.IO checks against the Host
    header nginx passes on."""

    def __init__(self, url: str, token: str | None, transports: list[str]) -> None:
        super().__init__(url, token)
        self.transports = transports

    async def connect(self) -> Peer:
        await self.client.connect(
            self.url,
            auth={"token": self.token},
            headers={"Origin": self.url},
            transports=self.transports,
            wait_timeout=WAIT_S,
        )
        return self


def ids_of(messages: list[Any]) -> list[int]:
    return [message["id"] for message in messages]


async def test_two_replicas_behind_nginx_chat_as_one_service(
    database_url: str, tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    nginx = nginx_binary()
    # No migration on start: the script's `db upgrade` step (compose's `migrate`) must do it.
    env = server_env(
        database_url,
        tmp_path,
        redis_url=redis_url,
        redis_prefix=redis_prefix,
        database_migrate_on_start="false",
    )
    topology = Topology(env, tmp_path, nginx)
    peers: list[Peer] = []

    async def connected(peer: Peer) -> Peer:
        peers.append(peer)
        return await peer.connect()

    try:
        await topology.start()
        await create_admin(env)
        people = await community_at(topology.url)
        room = people.commons

        # One client on each replica's own port, three through nginx: two that upgrade to
        # WebSocket (the handshake and the upgrade must reach the same replica) and one that
        # stays on long-polling (every request must).
        on_a = await connected(Peer(topology.url_a, people.pat_ana.token))
        on_b = await connected(Peer(topology.url_b, people.pat_avi.token))
        upgraded = ["polling", "websocket"]
        via_nginx = [
            await connected(ProxiedPeer(topology.url, people.alum_dee.token, upgraded)),
            await connected(ProxiedPeer(topology.url, people.mod_lee.token, upgraded)),
            await connected(ProxiedPeer(topology.url, people.pat_bo.token, ["polling"])),
        ]
        assert [peer.client.transport() for peer in via_nginx] == [
            "websocket",
            "websocket",
            "polling",
        ]
        everyone = [on_a, on_b, *via_nginx]
        for peer in everyone:
            await joined(peer, room)

        sent = []
        for sender, body in (
            (on_a, "from replica A"),
            (on_b, "from replica B"),
            (via_nginx[0], "through nginx, over WebSocket"),
            (via_nginx[2], "through nginx, long-polling"),
        ):
            message = await send(sender, room, body)
            sent.append(message["id"])
            for receiver in everyone:
                await receiver.wait_for("message", with_id(message["id"]))
        await barrier_through_redis(redis_url, redis_prefix, *everyone)
        for peer in everyone:
            assert ids_of(peer.received("message")) == sent, peer.url

        # All Socket.IO traffic through nginx went to one replica (every client here is
        # 127.0.0.1); the other one was reached through its own port.
        upstreams = topology.upstreams_of_socketio_requests()
        assert len(upstreams) == 1, upstreams
        assert upstreams <= {f"127.0.0.1:{topology.port_a}", f"127.0.0.1:{topology.port_b}"}

        # The Origin check is live behind the proxy: a foreign page is refused.
        stranger = socketio.AsyncClient(reconnection=False)
        with pytest.raises(socketio.exceptions.ConnectionError):
            await stranger.connect(
                topology.url,
                auth={"token": people.alum_dee.token},
                headers={"Origin": "http://elsewhere.example"},
                transports=["polling", "websocket"],
                wait_timeout=WAIT_S,
            )

        # The web client comes through nginx too, with the replica's security headers.
        async with aiohttp.ClientSession() as session:
            async with session.get(topology.url + "/") as response:
                page = await response.text()
                assert response.status == 200, page
                assert "script-src 'self'" in response.headers["Content-Security-Policy"]
            script = re.search(r'src="(/assets/[^"]+\.js)"', page)
            assert script is not None, page
            async with session.get(topology.url + script.group(1)) as response:
                assert response.status == 200
                assert "javascript" in response.headers["Content-Type"]
    finally:
        for peer in peers:
            # Bounded: a client stuck on long-polling (a failed upgrade) waits up to a ping
            # interval (25 s) to hang up.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(peer.disconnect(), 5)
        survivors = await topology.stop()

    assert not survivors, (
        f"still running after the script stopped: {survivors}\n{topology.output()}"
    )
    assert topology.process is not None
    assert topology.process.returncode == 0, topology.output()
    assert "topology: stopped" in topology.output()
    assert not (topology.run_dir / "nginx" / "nginx.pid").exists()
