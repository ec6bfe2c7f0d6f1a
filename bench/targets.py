"""The systems under test as OS processes: peerrooms (one or more `peerrooms serve`), the
bare python relay and the bare Node socket.io relay, plus their databases, Redis prefixes and
the seed data peerrooms needs.

Seeding goes straight into the database with the server's own schema (Alembic) and token code:
registering through the API costs an argon2 hash per account (~0.3 s at the default cost),
which for 5,000 people would take longer than the benchmark itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import random
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Coroutine, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from redis.asyncio import Redis
from sqlalchemy import insert
from sqlalchemy.engine import make_url

from server.accounts.models import User, UserSession
from server.accounts.tokens import TokenIssuer
from server.kernel.db import create_engine
from server.kernel.migrate import head_revision, upgrade_to_head
from server.privacy.consent import notice_version, shipped_notice_text
from server.privacy.consent_models import ConsentAcceptance
from server.rooms.models import Room

START_TIMEOUT_S = 60.0
SECRET_KEY = "bench-secret-" + "z" * 40
REDIS_URL = (
    os.environ.get("BENCH_REDIS_URL")
    or os.environ.get("PEERROOMS_TEST_REDIS_URL")
    or "redis://127.0.0.1:6379/0"
)
PG_URL = (
    os.environ.get("BENCH_PG_URL")
    or os.environ.get("PEERROOMS_TEST_DATABASE_URL")
    or "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
# Not a real argon2 hash: seeded people never sign in with a password, they get tokens.
NO_PASSWORD = "$argon2id$v=19$m=8192,t=1,p=1$bench$not-a-password"  # noqa: S105
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# Ports for the processes started here (and by the tests), below the kernel's ephemeral range
# (32768 and up on Linux). A port the kernel handed out and took back could be handed out
# again, to a server another process binds to port 0, before the child binds it: the child
# would then fail while the other server answered its readiness check.
CHILD_PORTS = range(20000, 32000)


def free_port() -> int:
    """A port nothing on 127.0.0.1 listens on now, from CHILD_PORTS at random (so processes
    starting servers at once rarely try the same one)."""
    for _ in range(100):
        port = random.choice(CHILD_PORTS)  # noqa: S311 - spreading ports, not secrets
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {CHILD_PORTS}")


def raise_open_files_limit() -> None:
    """Lift the soft limit on open files to the hard one: 5,000 sockets need it. Called once
    in the benchmark's main process; servers and workers inherit the limit."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# ----- /proc readings -----


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc/<pid>/stat."""
    return cpu_of(Path(f"/proc/{pid}/stat").read_text())


def cpu_of(stat: str) -> float:
    """utime + stime from the text of a /proc/<pid>/stat file."""
    fields = stat.rsplit(")", 1)[1].split()
    # After the command name: state is field 3, so utime (14) and stime (15) sit at 11, 12.
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def process_stats() -> Iterator[tuple[int, str]]:
    """(pid, text of /proc/<pid>/stat) of every process on the machine, kernel threads too."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            yield int(stat.parent.name), stat.read_text()
        except OSError:
            continue  # it exited meanwhile


def cpu_by_process() -> dict[int, float]:
    """utime + stime of every process on the machine, by pid."""
    return {pid: cpu_of(stat) for pid, stat in process_stats()}


def busy_seconds_between(before: Mapping[int, float], after: Mapping[int, float]) -> float:
    """CPU seconds the machine's processes used between two `cpu_by_process` readings.

    Summed per process rather than read from the `cpu` line of /proc/stat: on this kind of
    virtual machine that line counted far less than the processes did (0.06 cores busy over a
    step in which the relay alone used 0.21), so other work came out negative, or as whole
    cores that nothing was using. A process that exited between the readings is left out.
    """
    return sum(used - before.get(pid, 0.0) for pid, used in after.items())


SERVICES = ("postgres", "redis-server")


def service_cpu_seconds() -> float:
    """CPU seconds of PostgreSQL and Redis processes: part of the system under test, so
    kept apart from other work on the machine."""
    return sum(
        cpu_of(stat)
        for _, stat in process_stats()
        if stat[stat.find("(") + 1 : stat.rfind(")")] in SERVICES
    )


def memory_kib(pid: int, field_name: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    return 0


# ----- processes -----


@dataclass
class ServerProcess:
    """A server process; `process` is py-spy instead when the server runs under it, and
    `pid` is always the server's own."""

    process: asyncio.subprocess.Process
    port: int
    log_path: Path
    pid: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

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
        raise RuntimeError(f"server on {self.port} did not start:\n{self.log_path.read_text()}")

    async def stop(self) -> None:
        """SIGTERM to the server (py-spy, if any, then writes its profile and exits)."""
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), 30)
            except TimeoutError:
                self.process.kill()
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid, signal.SIGKILL)
                await self.process.wait()


def py_spy() -> str | None:
    """py-spy from PATH or beside this interpreter (a venv's bin/ is often not on PATH)."""
    beside = Path(sys.executable).parent / "py-spy"
    return shutil.which("py-spy") or (str(beside) if beside.is_file() else None)


def profiler_prefix(output: Path) -> list[str]:
    """py-spy records a server it starts itself: attaching to a running one fails here
    ("Failed to find python version from target process", py-spy 0.4 in this container).
    Only samples holding the GIL: without --gil, aiosqlite's worker threads show as busy
    whenever they wait for the GIL (per-thread CPU from /proc says they use almost none).
    Collapsed stacks load into speedscope.app; bench/profile.py summarises them."""
    spy = py_spy()
    if spy is None:
        raise RuntimeError("py-spy is not installed")
    return [
        spy,
        "record",
        "--gil",
        "--format",
        "raw",
        "--nolineno",
        "--rate",
        "100",
        "-o",
        str(output),
        "--",
    ]


async def child_pid(parent: int, timeout_s: float = 10.0) -> int:
    """The first child process of `parent` (py-spy's server), once it exists."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while asyncio.get_running_loop().time() < deadline:
        for children in Path(f"/proc/{parent}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                found = children.read_text().split()
                if found:
                    return int(found[0])
        await asyncio.sleep(0.05)
    raise RuntimeError(f"process {parent} started no child")


async def start_process(
    args: Sequence[str],
    env: dict[str, str],
    log_path: Path,
    profile_to: Path | None = None,
    program: str = sys.executable,
) -> ServerProcess:
    """`program args --host 127.0.0.1 --port <free port>`, once it answers /healthz."""
    port = free_port()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    prefix = profiler_prefix(profile_to) if profile_to is not None else []
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            *prefix,
            program,
            *args,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            env=env,
            stdout=log,
            stderr=log,
        )
    pid = await child_pid(process.pid) if prefix else process.pid
    started = ServerProcess(process, port, log_path, pid)
    try:
        await started.wait_ready()
    except BaseException:
        await started.stop()
        raise
    return started


@dataclass
class Target:
    """Running server processes of one kind, with what clients need to use them."""

    name: str
    processes: list[ServerProcess]
    database: str = "none"
    tokens: list[str] = field(default_factory=list)
    room_ids: list[int] = field(default_factory=list)

    @property
    def urls(self) -> list[str]:
        return [p.url for p in self.processes]

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes]

    async def wait_quiet(self, timeout_s: float, busy_share: float = 0.1) -> float:
        """Wait until the servers use less than `busy_share` of a core (a backlog from the
        last step is worked off), at most `timeout_s`; answers the seconds waited."""
        started = time.perf_counter()
        while time.perf_counter() - started < timeout_s:
            before = self.cpu_seconds()
            await asyncio.sleep(0.25)
            if self.cpu_seconds() - before < 0.25 * busy_share * len(self.pids):
                break
        return time.perf_counter() - started

    def cpu_seconds(self) -> float:
        return sum(cpu_seconds(pid) for pid in self.pids)

    def rss_kib(self) -> int:
        return sum(memory_kib(pid) for pid in self.pids)

    def peak_rss_kib(self) -> int:
        return sum(memory_kib(pid, "VmHWM") for pid in self.pids)

    def auth(self, index: int) -> dict[str, Any]:
        return {"token": self.tokens[index]} if self.tokens else {}


def peerrooms_env(database_url: str, work_dir: Path, redis: RedisSpace | None) -> dict[str, str]:
    """A peerrooms process's settings: nothing from a config file, flooding limits far above
    the offered load (the limiter still runs: its cost counts), logs at WARNING."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PEERROOMS_")}
    env.update(
        PEERROOMS_CONFIG=str(work_dir / "no-such-config.toml"),
        PEERROOMS_DATABASE_URL=database_url,
        PEERROOMS_DATABASE_MIGRATE_ON_START="true",
        PEERROOMS_SECRET_KEY=SECRET_KEY,
        PEERROOMS_SECRET_KEY_FILE=str(work_dir / "secret.key"),
        PEERROOMS_VAPID_PRIVATE_KEY_FILE=str(work_dir / "vapid.pem"),
        PEERROOMS_LOG_LEVEL="WARNING",
        PEERROOMS_RATE_LIMIT_PER_MINUTE="600000",
        PEERROOMS_RATE_LIMIT_BURST="10000",
        PEERROOMS_ACTION_RATE_PER_MINUTE="600000",
        PEERROOMS_ACTION_BURST="10000",
    )
    if redis is not None:
        env.update(PEERROOMS_REDIS_URL=redis.url, PEERROOMS_REDIS_PREFIX=redis.prefix)
    return env


async def start_peerrooms(
    database_url: str,
    work_dir: Path,
    count: int = 1,
    redis: RedisSpace | None = None,
    profile_to: Path | None = None,
) -> list[ServerProcess]:
    env = peerrooms_env(database_url, work_dir, redis)
    return await start_together(
        [
            start_process(
                ["-m", "server", "serve"],
                env,
                work_dir / f"peerrooms-{index}.log",
                profile_to if index == 0 else None,
            )
            for index in range(count)
        ]
    )


async def start_together(starting: list[Coroutine[Any, Any, ServerProcess]]) -> list[ServerProcess]:
    """Start processes side by side; if one fails, stop the others."""
    results = await asyncio.gather(*starting, return_exceptions=True)
    started = [r for r in results if isinstance(r, ServerProcess)]
    failures = [r for r in results if isinstance(r, BaseException)]
    if failures:
        await stop_all(started)
        raise failures[0]
    return started


async def start_relay(
    work_dir: Path, count: int = 1, redis: RedisSpace | None = None
) -> list[ServerProcess]:
    args = ["-m", "bench.relay"]
    if redis is not None:
        args += ["--redis-url", redis.url, "--redis-channel", f"{redis.prefix}:socketio"]
    env = dict(os.environ)
    return await start_together(
        [start_process(args, env, work_dir / f"relay-{index}.log") for index in range(count)]
    )


# ----- the bare Node socket.io relay -----

NODE_RELAY_DIR = Path(__file__).resolve().parent / "node_relay"
NPM_CI_TIMEOUT_S = 300.0
NODE_MIN_VERSION = (18, 3)


def node_version(node: str) -> tuple[int, ...]:
    """(major, minor, patch) of `node`, or () when it does not say."""
    try:
        answer = subprocess.run(  # noqa: S603 - node from PATH, fixed arguments
            [node, "--version"], capture_output=True, text=True, timeout=30, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ()
    with contextlib.suppress(ValueError):
        return tuple(int(part) for part in answer.strip().lstrip("v").split("."))
    return ()


def node_packages_installed() -> bool:
    """Are bench/node_relay's packages the locked ones? npm writes node_modules/.package-lock.json
    on each install; one older than package-lock.json is from before the lock changed (the
    same rule as the Makefile's for web/)."""
    installed = NODE_RELAY_DIR / "node_modules" / ".package-lock.json"
    locked = NODE_RELAY_DIR / "package-lock.json"
    return installed.is_file() and installed.stat().st_mtime >= locked.stat().st_mtime


def prepare_node_relay() -> str | None:
    """Make the Node relay runnable, installing its locked packages (`npm ci`) when they are
    missing or stale; answers why it cannot run, or None when it can.

    Installing is the kinder default: node and npm are needed anyway to build the web client,
    and the lock pins every package, so the first run costs a few seconds once. Without node or
    npm, or when the install fails (no registry), the caller leaves the Node relay out and says
    why rather than failing the other systems' run. Blocking: call it before any load runs."""
    node = shutil.which("node")
    if node is None:
        return "`node` is not on PATH (Node.js 18.3 or later runs bench/node_relay/relay.js)"
    version = node_version(node)
    if version < NODE_MIN_VERSION:
        found = ".".join(map(str, version)) or "unknown"
        return f"node {found} is older than 18.3 (relay.js reads its options with util.parseArgs)"
    directory = os.open(NODE_RELAY_DIR, os.O_RDONLY)
    try:
        # Two benchmark runs starting at once must not both rewrite node_modules.
        fcntl.flock(directory, fcntl.LOCK_EX)
        if node_packages_installed():
            return None
        return install_node_packages()
    finally:
        os.close(directory)  # closing releases the lock


def install_node_packages() -> str | None:
    npm = shutil.which("npm")
    if npm is None:
        return "`npm` is not on PATH, so bench/node_relay's packages cannot be installed"
    print("installing bench/node_relay's packages (npm ci)", flush=True)
    try:
        finished = subprocess.run(  # noqa: S603 - npm from PATH, fixed arguments
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=NODE_RELAY_DIR,
            capture_output=True,
            text=True,
            timeout=NPM_CI_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"`npm ci` in bench/node_relay took over {NPM_CI_TIMEOUT_S:.0f} s"
    if finished.returncode != 0:
        tail = (finished.stderr or finished.stdout).strip()[-400:]
        return f"`npm ci` in bench/node_relay failed ({finished.returncode}): {tail}"
    return None


async def start_node_relay(work_dir: Path) -> list[ServerProcess]:
    """One Node relay process (call `prepare_node_relay` first). No Redis: socket.io needs an
    extra adapter package for that, and only single-process scenarios run this relay."""
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("`node` is not on PATH")
    relay = str(NODE_RELAY_DIR / "relay.js")
    return [
        await start_process([relay], dict(os.environ), work_dir / "node-relay-0.log", program=node)
    ]


async def stop_all(processes: Sequence[ServerProcess]) -> None:
    await asyncio.gather(*(p.stop() for p in processes))


# ----- Redis and databases of a run's own -----


@dataclass(frozen=True)
class RedisSpace:
    url: str
    prefix: str


@contextlib.asynccontextmanager
async def redis_space(url: str = REDIS_URL) -> AsyncIterator[RedisSpace]:
    """A key prefix of this run's own; its keys, and only they, are deleted afterwards."""
    space = RedisSpace(url, f"bench-{os.getpid()}-{secrets.token_hex(4)}")
    try:
        yield space
    finally:
        client = Redis.from_url(url)
        try:
            keys = [k async for k in client.scan_iter(match=f"{space.prefix}:*", count=1000)]
            for start in range(0, len(keys), 1000):
                await client.delete(*keys[start : start + 1000])
        finally:
            await client.aclose()


def _admin_dsn(url: str) -> str:
    parsed = make_url(url)
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


@contextlib.asynccontextmanager
async def postgres_database(tag: str, base_url: str = PG_URL) -> AsyncIterator[str]:
    """A fresh PostgreSQL database `bench_<pid>_<tag>`, dropped afterwards."""
    name = f"bench_{os.getpid()}_{tag}"
    connection = await asyncpg.connect(_admin_dsn(base_url))
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{name}"')
        yield make_url(base_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with contextlib.suppress(asyncpg.PostgresError):
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.close()


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def schema_tag() -> str:
    """The schema revision, so seeded databases kept for re-runs match the server's schema."""
    return head_revision() or "none"


# ----- seeding peerrooms -----


@dataclass(frozen=True)
class Seeded:
    tokens: list[str]
    room_ids: list[int]
    user_ids: list[int]


async def seed_people_and_rooms(database_url: str, people: int, room_size: int) -> Seeded:
    """`people` patients and one drop-in room (audience: everyone) per `room_size` of them,
    with a signed token each. The schema is brought to head first (as `serve` would)."""
    engine = create_engine(database_url)
    now = datetime.now(UTC)
    try:
        await upgrade_to_head(engine)
        async with engine.begin() as connection:
            user_ids = await _insert_returning_ids(
                connection, User, [_person(index, now) for index in range(people)]
            )
            room_count = -(-people // room_size)
            room_ids = await _insert_returning_ids(
                connection, Room, [_room(index, now) for index in range(room_count)]
            )
            sign_ins = [_sign_in(uid, now) for uid in user_ids]
            await connection.execute(insert(UserSession.__table__), sign_ins)  # type: ignore[attr-defined]
            # The shipped consent notice (bench servers show it), accepted as registering would.
            accepted = [_acceptance(uid, now) for uid in user_ids]
            await connection.execute(insert(ConsentAcceptance.__table__), accepted)  # type: ignore[attr-defined]
    finally:
        await engine.dispose()
    return Seeded([bench_token(uid, now) for uid in user_ids], room_ids, user_ids)


def bench_session_id(user_id: int) -> str:
    """The sign-in seeded for each bench person, so a token can be issued for it any time."""
    return f"bench-{user_id}"


def bench_token(user_id: int, now: datetime) -> str:
    issuer = TokenIssuer(SECRET_KEY, timedelta(hours=24))
    return issuer.issue(user_id, bench_session_id(user_id), now)


def _sign_in(user_id: int, now: datetime) -> dict[str, Any]:
    return {
        "id": bench_session_id(user_id),
        "user_id": user_id,
        "created_at": now,
        "user_agent": "bench",
        "address": "",
        "ended_at": None,
    }


def _acceptance(user_id: int, now: datetime) -> dict[str, Any]:
    return {
        "user_id": user_id,
        "version": notice_version(shipped_notice_text()),
        "accepted_at": now,
        "source": "registration",
    }


def _person(index: int, now: datetime) -> dict[str, Any]:
    return {
        "username": f"bench{index:06d}",
        "display_name": f"Member {index}",
        "role": "patient",
        "password_hash": NO_PASSWORD,
        "created_at": now,
    }


def _room(index: int, now: datetime) -> dict[str, Any]:
    return {
        "name": f"Bench room {index}",
        "kind": "peer",
        "audience": "everyone",
        "topic": "",
        "locked": False,
        "slow_mode_s": 0,
        "contact_policy": "mask",
        "created_at": now,
    }


async def _insert_returning_ids(
    connection: Any, model: Any, rows: list[dict[str, Any]]
) -> list[int]:
    table = model.__table__
    ids: list[int] = []
    for start in range(0, len(rows), 2000):
        result = await connection.execute(
            insert(table).returning(table.c.id), rows[start : start + 2000]
        )
        ids.extend(sorted(row[0] for row in result))
    return ids
