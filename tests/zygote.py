"""`python -m server ...` for the tests, without paying for the interpreter each time.

The tests start well over a hundred peerrooms processes (servers for the multi-process, crash
and outage tests, and commands), and each spent about 3 s of CPU before doing anything:
2 s importing, 1 s loading the crisis model. On two cores that was half the suite. A zygote
(as Android's, or Chromium's) imports all that once and forks a child per process; the child
takes its arguments, environment, working folder and standard streams from the request and
runs the command line exactly as `python -m server` would, settings read from the
environment as ever. What a test sees is an ordinary process: its pid, signals, and its exit
code, which the zygote (its parent) reads and hands back.

A request is one JSON line on a Unix socket, with the child's stdin, stdout and stderr passed
as file descriptors beside it (SCM_RIGHTS); the answer is the child's pid, then, when it ends,
its exit code (negative: the signal that ended it), each a line on the same connection.

Forking a process with threads is unsafe; this one forks from its only thread that ever
imports or logs, and its other threads only wait for children and write one line each.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

MAX_REQUEST = 1 << 20
STREAMS = 3  # stdin, stdout, stderr
REPO = Path(__file__).resolve().parent.parent
# No thread pools in the zygote (numerical libraries start theirs on import): a fork copies
# only the thread that forks, and a pool's locks could be held by threads that are gone.
ONE_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


# ----- the zygote process -----


def serve(path: str) -> None:
    """Import what a peerrooms process needs, then fork one child per request, forever."""
    warm_up()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)
    print("ready", flush=True)
    while True:
        connection, _ = listener.accept()
        try:
            request, fds = read_request(connection)
        except (OSError, ValueError):
            connection.close()
            continue
        pid = os.fork()
        if pid == 0:
            listener.close()
            connection.close()
            run_child(request, fds)  # never returns
        for fd in fds:
            os.close(fd)
        connection.sendall(f"{pid}\n".encode())
        threading.Thread(target=report_exit, args=(pid, connection), daemon=True).start()


def warm_up() -> None:
    """What every child would otherwise load for itself."""
    import server.cli  # noqa: F401 - imported for the children
    from server.moderation.crisis.detector import CrisisClassifier

    CrisisClassifier()  # the shipped model and rules, cached for the process


def read_request(connection: socket.socket) -> tuple[dict[str, Any], list[int]]:
    data, fds, _flags, _address = socket.recv_fds(connection, MAX_REQUEST, STREAMS)
    while not data.endswith(b"\n"):
        more = connection.recv(MAX_REQUEST)
        if not more:
            raise ValueError("request cut short")
        data += more
    if len(fds) != STREAMS:
        raise ValueError("a request brings stdin, stdout and stderr")
    return json.loads(data), fds


def report_exit(pid: int, connection: socket.socket) -> None:
    _, status = os.waitpid(pid, 0)
    with contextlib.suppress(OSError), connection:
        connection.sendall(f"{os.waitstatus_to_exitcode(status)}\n".encode())


def run_child(request: dict[str, Any], fds: list[int]) -> None:
    """In the forked child: become `python -m server ARGS` with the request's environment,
    folder and streams, and exit with its code."""
    code: object = 1
    try:
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
        # Nothing else of the zygote's: its listener, other children's connections.
        os.closerange(STREAMS, 65536)
        for number in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD):
            signal.signal(number, signal.SIG_DFL)
        os.environ.clear()
        os.environ.update(request["env"])
        os.chdir(request["cwd"])
        sys.argv = ["peerrooms", *request["args"]]
        from server.cli import main

        code = main(request["args"])
    except SystemExit as exiting:
        code = exiting.code
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code if isinstance(code, int) else (0 if code is None else 1))


# ----- the tests' side -----


@dataclass
class ZygoteProcess:
    """A child of the zygote, as much of asyncio.subprocess.Process as the tests use."""

    pid: int
    _reader: asyncio.StreamReader
    _writer: asyncio.StreamWriter
    returncode: int | None = None
    _exited: asyncio.Future[int] | None = field(default=None, repr=False)

    def _watch(self) -> None:
        async def read_exit() -> int:
            line = await self._reader.readline()
            # Closed before the exit is reported: the test's loop may end right after, and a
            # socket it left open is reported (ResourceWarning) against whichever test runs next.
            self._writer.close()
            with contextlib.suppress(OSError):
                await self._writer.wait_closed()
            self.returncode = int(line) if line else -signal.SIGKILL
            return self.returncode

        self._exited = asyncio.ensure_future(read_exit())

    async def wait(self) -> int:
        assert self._exited is not None
        return await asyncio.shield(self._exited)

    def send_signal(self, number: int) -> None:
        if self.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, number)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


class Zygote:
    """One zygote per test process, started on first use and killed at exit. Nothing of it
    belongs to an event loop: each test runs in a loop of its own."""

    def __init__(self) -> None:
        self._folder: tempfile.TemporaryDirectory[str] | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._starting = threading.Lock()

    @property
    def _path(self) -> str:
        assert self._folder is not None
        return str(Path(self._folder.name) / "zygote.sock")

    def _ensure(self, env: Mapping[str, str]) -> None:
        with self._starting:
            if self._process is not None and self._process.poll() is None:
                return
            self._folder = tempfile.TemporaryDirectory(prefix="peerrooms-zygote-")
            self._process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                [sys.executable, "-m", "tests.zygote", self._path],
                env={**env, **ONE_THREAD},
                cwd=REPO,
                stdout=subprocess.PIPE,
            )
            assert self._process.stdout is not None
            ready = self._process.stdout.readline()
            assert ready == b"ready\n", f"the zygote did not start: {ready!r}"
            atexit.register(self.close)

    async def spawn(
        self,
        args: Sequence[str],
        env: Mapping[str, str],
        *,
        stdout: int | IO[Any],
        stderr: int | IO[Any],
        stdin: int | IO[Any] | None = None,
    ) -> ZygoteProcess:
        """`python -m server ARGS` with this environment and streams (file descriptors or
        open files), in the current folder."""
        await asyncio.to_thread(self._ensure, env)
        request = {"args": list(args), "env": dict(env), "cwd": os.getcwd()}
        # A plain socket to hand the descriptors over (a local connect does not block), then
        # the same connection read through asyncio for the pid and, later, the exit code.
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(self._path)
        with open(os.devnull, "rb") as nothing:
            fds = [_fd(stdin if stdin is not None else nothing), _fd(stdout), _fd(stderr)]
            socket.send_fds(sock, [json.dumps(request).encode() + b"\n"], fds)
        sock.setblocking(False)
        reader, writer = await asyncio.open_unix_connection(sock=sock)
        line = await reader.readline()
        assert line, "the zygote did not answer"
        child = ZygoteProcess(int(line), reader, writer)
        child._watch()
        return child

    def close(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        if self._folder is not None:
            self._folder.cleanup()
            self._folder = None


async def run_captured(args: Sequence[str], env: Mapping[str, str]) -> tuple[int, bytes, bytes]:
    """`python -m server ARGS` to its end: its exit code, stdout and stderr."""
    out_read, out_write = os.pipe()
    err_read, err_write = os.pipe()
    try:
        child = await ZYGOTE.spawn(args, env, stdout=out_write, stderr=err_write)
    finally:
        os.close(out_write)
        os.close(err_write)
    output, errors = await asyncio.gather(_read_all(out_read), _read_all(err_read))
    return await child.wait(), output, errors


async def _read_all(fd: int) -> bytes:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    with os.fdopen(fd, "rb", buffering=0) as pipe:
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), pipe
        )
        try:
            return await reader.read()
        finally:
            transport.close()


def _fd(stream: int | IO[Any]) -> int:
    return stream if isinstance(stream, int) else stream.fileno()


ZYGOTE = Zygote()


if __name__ == "__main__":
    serve(sys.argv[1])
