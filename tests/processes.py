"""Servers and Redis as separate OS processes, for multi-process, crash and outage tests."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import aiohttp
from aiohttp import web

from bench.targets import free_port as free_port  # re-exported: the tests take it from here
from server.accounts.http import ACCOUNTS
from server.app import create_app
from server.kernel.actors import Role
from server.settings import Settings
from tests.support import LENIENT_DEADLINES, PASSWORD, TEST_SECRET
from tests.zygote import ZYGOTE, run_captured

START_TIMEOUT_S = 30.0


# Compiled modules of the Python processes tests start, kept outside the source tree.
PYCACHE = Path(tempfile.gettempdir()) / "peerrooms-test-pycache"


def python_env(base: Mapping[str, str]) -> dict[str, str]:
    """`base` for a Python child process that keeps its compiled modules in PYCACHE. Where
    PYTHONDONTWRITEBYTECODE is set, every child would otherwise compile every module it imports
    (the server's take 4.5 s of CPU to import that way, 1.3 s from the cache), and the tests
    start dozens of them."""
    env = {k: v for k, v in base.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    return env


def server_env(database_url: str, data_dir: Path, **settings: str) -> dict[str, str]:
    """The environment of a peerrooms process: these settings and nothing from a config file."""
    env = {k: v for k, v in python_env(os.environ).items() if not k.startswith("PEERROOMS_")}
    env.update(
        PEERROOMS_CONFIG=str(data_dir / "no-such-config.toml"),
        PEERROOMS_DATABASE_URL=database_url,
        PEERROOMS_SECRET_KEY=TEST_SECRET,
        PEERROOMS_SECRET_KEY_FILE=str(data_dir / "secret.key"),
        PEERROOMS_VAPID_PRIVATE_KEY_FILE=str(data_dir / "vapid.pem"),
        PEERROOMS_LOG_LEVEL="WARNING",
        PEERROOMS_DATABASE_MIGRATE_ON_START="true",
        PEERROOMS_PASSWORD_HASH_TIME_COST="1",
        PEERROOMS_PASSWORD_HASH_MEMORY_KIB="8192",
        PEERROOMS_PASSWORD_HASH_PARALLELISM="1",
        # The clock of a test server stands still; flooding tests set their own limits.
        PEERROOMS_RATE_LIMIT_PER_MINUTE="600000",
        PEERROOMS_RATE_LIMIT_BURST="10000",
        PEERROOMS_ACTION_RATE_PER_MINUTE="600000",
        PEERROOMS_ACTION_BURST="10000",
        # As in tests/support.py: deadlines for a hung database, not a busy test machine.
        **{f"PEERROOMS_{name.upper()}": str(value) for name, value in LENIENT_DEADLINES.items()},
    )
    env.update({f"PEERROOMS_{name.upper()}": value for name, value in settings.items()})
    return env


async def run_cli(env: dict[str, str], *args: str) -> str:
    """A `peerrooms` command that must succeed: what it wrote, its log lines (stderr) first,
    so that what it printed (an invite code, say) stays the last line."""
    outcome = await run_cli_outcome(env, *args)
    assert outcome.returncode == 0, outcome.stderr + outcome.stdout
    return outcome.stderr + outcome.stdout


@dataclass(frozen=True)
class CliOutcome:
    returncode: int
    stdout: str
    stderr: str


async def run_cli_outcome(env: dict[str, str], *args: str) -> CliOutcome:
    """A `peerrooms` command that may fail: its exit code, and its two outputs apart. Forked
    from the tests' zygote (tests/zygote.py), as `python -m server` would run it."""
    returncode, output, errors = await run_captured(args, env)
    return CliOutcome(returncode, output.decode(), errors.decode())


def settings_of(env: Mapping[str, str]) -> Settings:
    """The settings a peerrooms process started with `env` would read (no config file)."""
    prefix = "PEERROOMS_"
    values: dict[str, Any] = {
        name.removeprefix(prefix).lower(): value
        for name, value in env.items()
        if name.startswith(prefix) and name != prefix + "CONFIG"
    }
    return Settings(**values)


async def create_admin(env: dict[str, str]) -> None:
    """What `peerrooms create-admin` does for a process started with `env` (the schema brought
    up to date, an admin made), done in this process: another interpreter would cost more
    than the rest of a multi-process test's setup. tests/test_cli.py runs the command itself."""
    app = create_app(settings_of(env))
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    try:
        await app[ACCOUNTS].ensure_user(
            username="admin", password=PASSWORD, role=Role.ADMIN, display_name="Program admin"
        )
    finally:
        await runner.cleanup()


class Child(Protocol):
    """A peerrooms process: an interpreter of its own, or a child of the tests' zygote."""

    @property
    def pid(self) -> int: ...

    @property
    def returncode(self) -> int | None: ...

    def send_signal(self, number: int) -> None: ...

    def terminate(self) -> None: ...

    async def wait(self) -> int: ...


@dataclass
class ServerProcess:
    process: Child
    port: int
    log_path: Path
    # Where this test process reaches it: 127.0.0.1, or an address inside a namespace.
    address: str = "127.0.0.1"

    @property
    def url(self) -> str:
        return f"http://{self.address}:{self.port}"

    @classmethod
    async def start(
        cls,
        env: dict[str, str],
        log_path: Path,
        *,
        prefix: Sequence[str] = (),
        host: str = "127.0.0.1",
        port: int | None = None,
        address: str | None = None,
    ) -> ServerProcess:
        """`peerrooms serve` on `host` and `port` (a free one if not given), run through
        `prefix` if given (`ip netns exec NAME` for a network namespace), and reached at
        `address` (by default `host`)."""
        port = port or free_port()
        args = ("serve", "--host", host, "--port", str(port))
        with log_path.open("ab") as log:
            process: Child
            if prefix:
                # Inside a network namespace: a new interpreter, run through `ip netns exec`.
                process = await asyncio.create_subprocess_exec(
                    *prefix, sys.executable, "-m", "server", *args,
                    env=env, stdout=log, stderr=log,
                )  # fmt: skip
            else:
                process = await ZYGOTE.spawn(args, env, stdout=log, stderr=log)
        started = cls(process, port, log_path, address or host)
        try:
            await started.wait_ready()
        except BaseException:
            await started.kill()
            raise
        return started

    async def wait_ready(self) -> None:
        deadline = asyncio.get_running_loop().time() + START_TIMEOUT_S
        async with aiohttp.ClientSession() as session:
            while asyncio.get_running_loop().time() < deadline:
                if self.process.returncode is not None:
                    break
                with contextlib.suppress(aiohttp.ClientError):
                    async with session.get(self.url + "/healthz") as response:
                        if response.status == 200:
                            return
                await asyncio.sleep(0.1)
        raise AssertionError(f"server on {self.port} did not start:\n{self.log_path.read_text()}")

    async def kill(self) -> None:
        """SIGKILL: the process gets no chance to clean up."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), 10)
            except TimeoutError:
                await self.kill()


@dataclass
class RedisProcess:
    """A redis-server of the test's own on a spare port, to stop and start at will."""

    port: int
    process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed (.ci/run installs it)"
        self.process = await asyncio.create_subprocess_exec(
            binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        for _ in range(100):
            with contextlib.suppress(OSError):
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
                writer.close()
                await writer.wait_closed()
                return
            await asyncio.sleep(0.05)
        raise AssertionError("redis-server did not start")

    def pause(self) -> None:
        """SIGSTOP: connections stay open and nothing answers, as when Redis hangs."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGCONT)  # a stopped process takes SIGKILL late
            self.process.send_signal(signal.SIGKILL)
            await self.process.wait()
        self.process = None
