"""A key kept in a file of its own, made by whichever process starts first."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def read_or_create(path: Path, make: Callable[[], bytes]) -> bytes:
    """The file's bytes; when there is no file yet, `make()`'s, written first. The new key is
    written whole to a private file beside `path` and linked into place only then, so two
    processes starting together agree on one key and neither ever reads half of it."""
    if path.exists():
        return path.read_bytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as written:  # mkstemp makes it 0600
            written.write(make())
            written.flush()
            os.fsync(written.fileno())
        with contextlib.suppress(FileExistsError):  # another process was first: theirs
            os.link(name, path)
    finally:
        os.unlink(name)
    return path.read_bytes()
