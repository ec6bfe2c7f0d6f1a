"""A PostgreSQL cluster of the test's own, to pause and resume with signals: a hung database."""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

from tests.processes import free_port

START_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 5.0
# PostgreSQL refuses to run as root; as root, the cluster runs as this OS user.
OS_USER = "postgres"
DATABASE = "postgres"


def find_bindir() -> Path:
    """The directory of the newest PostgreSQL server binaries (initdb, postgres)."""
    versions: list[tuple[int, Path]] = []
    for bindir in Path("/usr/lib/postgresql").glob("*/bin"):
        major = bindir.parent.name
        if re.fullmatch(r"\d+", major) and _is_server_bindir(bindir):
            versions.append((int(major), bindir))
    if versions:
        return max(versions)[1]
    # Not the Debian layout: pg_config names the binaries' directory, when the server has one.
    pg_config = shutil.which("pg_config")
    if pg_config:
        result = subprocess.run(  # noqa: S603 - the installed pg_config, fixed arguments
            [pg_config, "--bindir"], capture_output=True, text=True, check=False
        )
        bindir = Path(result.stdout.strip())
        if result.returncode == 0 and _is_server_bindir(bindir):
            return bindir
    raise RuntimeError(
        "no PostgreSQL server (initdb, postgres) found in /usr/lib/postgresql/<major>/bin "
        "or `pg_config --bindir`; .ci/run installs the postgresql package"
    )


def _is_server_bindir(bindir: Path) -> bool:
    return all(os.access(bindir / name, os.X_OK) for name in ("initdb", "postgres"))


def _parent_pids() -> dict[int, list[int]]:
    """Every process's children, by parent. From /proc/*/stat, since /proc/<pid>/task/*/children
    needs a kernel option that not every kernel (this machine's among them) has."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # exited since the listing
            continue
        # The command name, in parentheses, may hold spaces and parentheses itself.
        ppid = int(text.rpartition(")")[2].split()[1])
        children.setdefault(ppid, []).append(int(stat.parent.name))
    return children


def _descendants(pid: int) -> list[int]:
    children = _parent_pids()
    found: list[int] = []
    todo = [pid]
    while todo:
        kids = children.get(todo.pop(), [])
        found += kids
        todo += kids
    return found


# Process states (proc(5)) in which a process runs no more: stopped, or exited. An exited
# child of a stopped postmaster stays a zombie ("Z"), as nobody reaps it until it resumes.
STILL = ("T", "t", "Z", "X")


def _wait_stopped(pid: int) -> None:
    """Until `pid` has stopped: kill() returns before a process running on another CPU has
    taken the SIGSTOP, and a postmaster not yet stopped could still fork a backend we miss.
    A process in a disk wait takes the signal when the wait ends: hence seconds, on a busy
    machine."""
    deadline = time.monotonic() + 5.0
    state = "?"
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
        except OSError:  # gone: nothing left to stop
            return
        if state in STILL:
            return
        time.sleep(0.001)
    raise AssertionError(f"process {pid} did not stop on SIGSTOP (state {state})")


@dataclass
class PgCluster:
    """A postgres of the test's own on a spare port of 127.0.0.1: the machine's shared server
    must not be stopped under the other tests. `pause` SIGSTOPs the postmaster and its backends,
    so every query hangs without failing, as on a database host that stalls."""

    base: Path  # the test's tmp_path: the server's log goes there
    bindir: Path = field(default_factory=find_bindir)
    port: int = field(default_factory=free_port)
    data_dir: Path | None = None
    process: asyncio.subprocess.Process | None = None
    paused: bool = False

    @property
    def url(self) -> str:
        """For SQLAlchemy (PEERROOMS_DATABASE_URL)."""
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{DATABASE}"

    @property
    def dsn(self) -> str:
        """For asyncpg.connect."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{DATABASE}"

    @property
    def log_path(self) -> Path:
        return self.base / "postgres.log"

    async def start(self) -> None:
        # Not under `base`: pytest makes its temporary directories 0700 for root, and the
        # postgres user must reach the data. A short path also keeps the Unix socket's within
        # the 107 bytes a socket address holds.
        self.data_dir = Path(tempfile.mkdtemp(prefix="peerrooms-pg-"))
        if os.geteuid() == 0:
            user = self._os_user()
            os.chown(self.data_dir, user.pw_uid, user.pw_gid)
        await self._initdb()
        with self.log_path.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                *self._as_owner(),
                str(self.bindir / "postgres"),
                "-D",
                str(self.data_dir),
                "-p",
                str(self.port),
                "-k",
                str(self.data_dir),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "shared_buffers=16MB",
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                cwd=self.data_dir,
            )
        try:
            await self._wait_ready()
        except BaseException:
            await self.stop()
            raise

    def pause(self) -> None:
        """SIGSTOP the postmaster, then its children: stopped first, it forks no new ones."""
        pid = self._pid()
        os.kill(pid, signal.SIGSTOP)
        _wait_stopped(pid)
        stopped = {pid}
        # Again until nothing is new: a backend may have forked a child before it stopped.
        while new := set(_descendants(pid)) - stopped:
            for child in new:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child, signal.SIGSTOP)
                _wait_stopped(child)
            stopped |= new
        self.paused = True

    def resume(self) -> None:
        pid = self._pid()
        for child in _descendants(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGCONT)
        os.kill(pid, signal.SIGCONT)
        self.paused = False

    async def stop(self) -> None:
        """Fast shutdown (SIGINT), SIGKILL if that takes too long. The data goes too: it is
        not under `base`, which pytest cleans up."""
        if self.process is not None:
            if self.paused:
                self.resume()
            if self.process.returncode is None:
                self.process.send_signal(signal.SIGINT)
                try:
                    await asyncio.wait_for(self.process.wait(), STOP_TIMEOUT_S)
                except TimeoutError:
                    # Backends outlive a killed postmaster until they notice; kill them too.
                    for child in _descendants(self.process.pid):
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(child, signal.SIGKILL)
                    self.process.kill()
                    await self.process.wait()
            self.process = None
        if self.data_dir is not None:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            self.data_dir = None

    async def _initdb(self) -> None:
        assert self.data_dir is not None
        with self.log_path.open("ab") as log:
            initdb = await asyncio.create_subprocess_exec(
                *self._as_owner(),
                str(self.bindir / "initdb"),
                "-D",
                str(self.data_dir),
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                # The environment's locale may not be installed; initdb fails on one that isn't.
                "--locale=C",
                "--no-sync",
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                cwd=self.data_dir,
            )
            await initdb.wait()
        if initdb.returncode != 0:
            raise AssertionError(f"initdb failed:\n{self.log_path.read_text()}")

    async def _wait_ready(self) -> None:
        assert self.process is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_TIMEOUT_S
        while loop.time() < deadline and self.process.returncode is None:
            # Refused until it listens, "starting up" until it has recovered.
            with contextlib.suppress(OSError, TimeoutError, asyncpg.PostgresError):
                connection = await asyncpg.connect(self.dsn, timeout=1)
                await connection.close()
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"postgres on {self.port} did not start:\n{self.log_path.read_text()}")

    def _as_owner(self) -> list[str]:
        """The command prefix that runs a binary as the data's owner. setpriv, not runuser or su:
        it execs in place, so the postmaster is our child and its PID the one we signal.
        KILL when we die, so a crashed test run leaves no postgres behind."""
        if os.geteuid() != 0 and not shutil.which("setpriv"):
            return []  # ours already; only the safety net is lost
        prefix = ["setpriv", "--pdeathsig", "KILL"]
        if os.geteuid() == 0:
            prefix += [f"--reuid={OS_USER}", f"--regid={OS_USER}", "--init-groups"]
        return [*prefix, "--"]

    def _os_user(self) -> pwd.struct_passwd:
        try:
            return pwd.getpwnam(OS_USER)
        except KeyError:
            raise RuntimeError(
                f"running as root, and PostgreSQL refuses root: it needs the OS user {OS_USER!r}, "
                "which the postgresql package creates (.ci/run installs it)"
            ) from None

    def _pid(self) -> int:
        assert self.process is not None and self.process.returncode is None, "not running"
        return self.process.pid
