"""Keys made on first start (the token secret, the VAPID key): processes starting together
agree on one, and none reads a key half written."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

from server.accounts.tokens import load_or_create_secret
from server.notify.push import application_server_key, load_or_create_vapid_key

RACERS = 8


def vapid_public_key(path: str) -> str:
    return application_server_key(load_or_create_vapid_key(Path(path)))


def token_secret(path: str) -> str:
    return load_or_create_secret(Path(path))


def race(tmp_path: Path, name: str, make: object) -> list[str]:
    """Processes started at once, each reading or making the same file."""
    path = tmp_path / "data" / name
    spawn = multiprocessing.get_context("spawn")
    with spawn.Pool(RACERS) as pool:
        return pool.map(make, [str(path)] * RACERS)  # type: ignore[arg-type]


def test_processes_starting_together_share_one_vapid_key(tmp_path: Path) -> None:
    keys = race(tmp_path, "vapid.pem", vapid_public_key)
    assert len(set(keys)) == 1
    kept = tmp_path / "data" / "vapid.pem"
    assert vapid_public_key(str(kept)) == keys[0]
    assert os.stat(kept).st_mode & 0o777 == 0o600
    assert os.listdir(tmp_path / "data") == ["vapid.pem"]  # no half-made files left behind


def test_processes_starting_together_share_one_token_secret(tmp_path: Path) -> None:
    secrets = race(tmp_path, "secret.key", token_secret)
    assert len(set(secrets)) == 1 and len(secrets[0]) >= 64
    assert os.stat(tmp_path / "data" / "secret.key").st_mode & 0o777 == 0o600
