"""Time-limited TURN credentials (server/media/turn.py): their format checked by an HMAC of
our own, their expiry, nothing minted without URLs or a secret; a real coturn (Debian's
`coturn`) on 127.0.0.1 granting a relay to a minted credential (also to one signed with the
previous secret while it changes) and refusing a wrong, an expired and a lengthened one; the
settings that carry them; and docker-compose.yml handing the replicas settings that exist,
with the same TURN secret coturn is given, in agreement with config/janus and config/coturn."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import ipaddress
import os
import random
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from aioice import stun
from aioice.turn import create_turn_endpoint
from pydantic import SecretStr, ValidationError

from server.media.turn import ice_servers_with_turn, turn_ice_servers
from server.settings import Settings
from tests.processes import free_port

ROOT = Path(__file__).resolve().parent.parent
ON_CI = os.environ.get("CI", "").lower() not in ("", "0", "false", "no")

SECRET = "a-shared-secret-for-the-tests"
URLS = ["turn:turn.example.org:3478?transport=udp", "turns:turn.example.org:5349?transport=tcp"]
NOW = datetime(2026, 3, 2, 18, 30, 15, tzinfo=UTC)
SIX_HOURS_S = 6 * 3600


def expected_credential(secret: str, username: str) -> str:
    """coturn's password for `username`, computed here without server/media/turn.py."""
    mac = hmac.new(secret.encode("utf-8"), username.encode("utf-8"), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode("ascii")


# --- minting ---


def test_a_minted_credential_is_the_hmac_of_its_username() -> None:
    [entry] = turn_ice_servers(URLS, SecretStr(SECRET), user_id=42, now=NOW, ttl_s=SIX_HOURS_S)
    assert set(entry) == {"urls", "username", "credential"}
    assert entry["urls"] == URLS
    assert hmac.compare_digest(entry["credential"], expected_credential(SECRET, entry["username"]))
    # Another secret gives another credential: the secret is what signs it.
    assert entry["credential"] != expected_credential(SECRET + "x", entry["username"])


def test_the_username_names_the_expiry_and_the_person() -> None:
    [entry] = turn_ice_servers(URLS, SECRET, user_id=42, now=NOW, ttl_s=SIX_HOURS_S)
    expiry, user = entry["username"].split(":")
    assert user == "42"
    assert int(expiry) == int(NOW.timestamp()) + SIX_HOURS_S
    assert datetime.fromtimestamp(int(expiry), UTC) == NOW.replace(microsecond=0) + timedelta(
        hours=6
    )


def test_each_person_and_each_moment_gets_a_credential_of_its_own() -> None:
    def mint(user_id: int, now: datetime) -> dict[str, Any]:
        return turn_ice_servers(URLS, SECRET, user_id=user_id, now=now, ttl_s=600)[0]

    first = mint(1, NOW)
    assert mint(1, NOW) == first
    assert mint(2, NOW)["credential"] != first["credential"]
    assert mint(1, NOW + timedelta(seconds=1))["username"] != first["username"]


@pytest.mark.parametrize(
    ("urls", "secret"),
    [
        (URLS, None),
        (URLS, ""),
        (URLS, SecretStr("")),
        ([], SECRET),
        ([], SecretStr(SECRET)),
        ([], None),
    ],
)
def test_without_urls_or_a_secret_nothing_is_minted(
    urls: list[str], secret: SecretStr | str | None
) -> None:
    assert turn_ice_servers(urls, secret, user_id=7, now=NOW, ttl_s=SIX_HOURS_S) == []


def test_a_naive_time_or_no_lifetime_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        turn_ice_servers(URLS, SECRET, user_id=7, now=NOW.replace(tzinfo=None), ttl_s=60)
    with pytest.raises(ValueError, match="ttl_s"):
        turn_ice_servers(URLS, SECRET, user_id=7, now=NOW, ttl_s=0)


def test_the_static_ice_servers_come_first_then_the_minted_turn_entry() -> None:
    static = [{"urls": ["stun:stun.example.org:3478"]}]
    servers = ice_servers_with_turn(static, URLS, SECRET, user_id=5, now=NOW, ttl_s=SIX_HOURS_S)
    assert servers[0] == static[0]
    assert servers[1:] == turn_ice_servers(URLS, SECRET, user_id=5, now=NOW, ttl_s=SIX_HOURS_S)
    # Copies: changing what a pass answered leaves the settings' list as it was.
    servers[0]["urls"] = ["stun:elsewhere"]
    assert static == [{"urls": ["stun:stun.example.org:3478"]}]
    # Without TURN, the static list alone.
    assert ice_servers_with_turn(static, URLS, None, user_id=5, now=NOW, ttl_s=60) == static


# --- the settings ---


def test_turn_settings_defaults() -> None:
    settings = Settings()
    assert settings.turn_urls == []
    assert settings.turn_secret is None
    assert settings.turn_ttl_s == SIX_HOURS_S
    assert settings.video_presence_poll_s == 15.0


@pytest.mark.parametrize(
    "bad",
    [
        {"turn_ttl_s": 59},
        {"turn_ttl_s": 86401},
        {"video_presence_poll_s": 0},
        {"video_presence_poll_s": 301},
    ],
)
def test_turn_settings_out_of_bounds_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Settings(**bad)


def test_turn_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # A list setting in the environment is JSON, as docker-compose.yml gives it.
    monkeypatch.setenv("PEERROOMS_TURN_URLS", '["turn:t.example.org:3478?transport=udp"]')
    monkeypatch.setenv("PEERROOMS_TURN_SECRET", SECRET)
    monkeypatch.setenv("PEERROOMS_TURN_TTL_S", "3600")
    settings = Settings()
    assert settings.turn_urls == ["turn:t.example.org:3478?transport=udp"]
    assert settings.turn_secret is not None
    assert settings.turn_secret.get_secret_value() == SECRET
    assert SECRET not in repr(settings)
    assert settings.turn_ttl_s == 3600


# --- a real coturn ---

REALM = "peerrooms.test"
START_TIMEOUT_S = 15.0
# How long one allocation may take: aioice retransmits a UDP request for up to ~40 s.
ALLOCATE_TIMEOUT_S = 10.0
# coturn relays from a block of these ports: UDP ports, in the range tests/processes.py's
# free_port spreads TCP servers over, so they do not meet the kernel's ephemeral ports.
RELAY_BLOCK = 50


@dataclass(frozen=True)
class Coturn:
    port: int
    secret: str
    # Given to coturn as a second static-auth-secret, as while the secret is being changed.
    previous_secret: str
    log: Path

    @property
    def address(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)

    def credential(
        self, *, now: datetime, ttl_s: int = 600, user_id: int = 42, secret: str | None = None
    ) -> tuple[str, str]:
        [entry] = turn_ice_servers(
            [f"turn:127.0.0.1:{self.port}?transport=udp"],
            SecretStr(secret or self.secret),
            user_id=user_id,
            now=now,
            ttl_s=ttl_s,
        )
        return entry["username"], entry["credential"]


def turnserver_or_skip() -> str:
    """Skip where coturn is not installed; fail under CI, where .ci/run installs it and a
    missing binary means these tests silently stopped running."""
    found = shutil.which("turnserver")
    if found is not None:
        return found
    reason = "coturn is not installed (apt-get install -y coturn; .ci/run does)"
    if ON_CI:
        pytest.fail(reason + " (CI is set, so this is a failure, not a skip)", pytrace=False)
    pytest.skip(reason)


def free_udp_and_tcp_port() -> int:
    """A port free on 127.0.0.1 for TCP (free_port) and for UDP as well: coturn takes both."""
    for _ in range(50):
        port = free_port()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no port free for both TCP and UDP")


def answers_stun(port: int) -> bool:
    """coturn answers a STUN Binding request on its UDP port."""
    request = stun.Message(message_method=stun.Method.BINDING, message_class=stun.Class.REQUEST)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.settimeout(0.2)
        try:
            probe.sendto(bytes(request), ("127.0.0.1", port))
            reply = stun.parse_message(probe.recv(2048))
        except OSError:
            return False
    return reply.transaction_id == request.transaction_id


@pytest.fixture(scope="module")
def coturn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Coturn]:
    """coturn on 127.0.0.1 only, for this module, with TURN REST API credentials
    (use-auth-secret). Its own configuration file, so Debian's /etc/turnserver.conf (syslog)
    is not read; no TLS, no CLI, its database and pid file in the test's folder."""
    binary = turnserver_or_skip()
    folder = tmp_path_factory.mktemp("coturn")
    server = Coturn(
        port=free_udp_and_tcp_port(),
        secret=SECRET + "-coturn",
        previous_secret=SECRET + "-before",
        log=folder / "log",
    )
    relay_from = random.randrange(20000, 32000 - RELAY_BLOCK)
    config = folder / "turnserver.conf"
    config.write_text(
        "\n".join(
            [
                "listening-ip=127.0.0.1",
                "relay-ip=127.0.0.1",
                f"listening-port={server.port}",
                f"min-port={relay_from}",
                f"max-port={relay_from + RELAY_BLOCK - 1}",
                "use-auth-secret",
                f"static-auth-secret={server.secret}",
                f"static-auth-secret={server.previous_secret}",
                f"realm={REALM}",
                "fingerprint",
                "no-tls",
                "no-dtls",
                "no-cli",
                "no-rfc5780",
                "no-multicast-peers",
                "no-auth-pings",
                "no-dynamic-ip-list",
                "no-dynamic-realms",
                f"userdb={folder / 'turndb'}",
                f"pidfile={folder / 'turnserver.pid'}",
                "log-file=stdout",
                "simple-log",
                "",
            ]
        )
    )
    with server.log.open("ab") as log:
        process = subprocess.Popen(  # noqa: S603 - our own command line
            [binary, "-c", str(config)], stdout=log, stderr=log, stdin=subprocess.DEVNULL
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not answers_stun(server.port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("coturn did not start:\n" + server.log.read_text()[-4000:])
        yield server
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class Closed(asyncio.DatagramProtocol):
    """The application's end of a relayed endpoint; says when the allocation is gone."""

    def __init__(self) -> None:
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(None)


async def allocate(server: Coturn, username: str, password: str, transport: str) -> str:
    """A TURN allocation with these credentials: answers its relayed address (then deletes
    it), or raises aioice's TransactionFailed with coturn's refusal."""
    relay, protocol = await asyncio.wait_for(
        create_turn_endpoint(
            Closed, server.address, username, password, lifetime=60, transport=transport
        ),
        ALLOCATE_TIMEOUT_S,
    )
    try:
        host, port = relay.get_extra_info("sockname")
        return f"{host}:{port}"
    finally:
        relay.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(protocol.lost, 5)


def refusal_code(error: stun.TransactionFailed) -> int:
    code, _reason = error.response.attributes["ERROR-CODE"]
    return int(code)


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_coturn_grants_a_relay_to_a_minted_credential(coturn: Coturn, transport: str) -> None:
    username, password = coturn.credential(now=datetime.now(UTC))
    relayed = await allocate(coturn, username, password, transport)
    assert relayed.startswith("127.0.0.1:")


async def test_while_the_secret_changes_coturn_takes_credentials_signed_with_either(
    coturn: Coturn,
) -> None:
    # docs/video-deploy.md: coturn is given the new secret beside the old, then the server.
    for secret in (coturn.secret, coturn.previous_secret):
        username, password = coturn.credential(now=datetime.now(UTC), secret=secret)
        assert (await allocate(coturn, username, password, "udp")).startswith("127.0.0.1:")


async def test_coturn_refuses_a_credential_signed_with_another_secret(coturn: Coturn) -> None:
    username, _ = coturn.credential(now=datetime.now(UTC))
    with pytest.raises(stun.TransactionFailed) as refused:
        await allocate(coturn, username, expected_credential("not-the-secret", username), "udp")
    assert refusal_code(refused.value) == 401


async def test_coturn_refuses_an_expired_credential(coturn: Coturn) -> None:
    # Minted an hour and a minute ago with an hour's lifetime: expired a minute ago, though
    # correctly signed.
    username, password = coturn.credential(
        now=datetime.now(UTC) - timedelta(minutes=61), ttl_s=3600
    )
    assert password == expected_credential(coturn.secret, username)
    with pytest.raises(stun.TransactionFailed) as refused:
        await allocate(coturn, username, password, "udp")
    assert refusal_code(refused.value) == 401


async def test_coturn_refuses_a_credential_whose_expiry_was_moved(coturn: Coturn) -> None:
    # A browser cannot make its credential last longer: the expiry is part of what is signed.
    username, password = coturn.credential(now=datetime.now(UTC))
    expiry, user = username.split(":")
    lengthened = f"{int(expiry) + 86400}:{user}"
    with pytest.raises(stun.TransactionFailed) as refused:
        await allocate(coturn, lengthened, password, "udp")
    assert refusal_code(refused.value) == 401


# --- docker-compose.yml ---


def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def replica_environment() -> dict[str, str]:
    environment = compose()["x-peerrooms"]["environment"]
    assert isinstance(environment, dict)
    return {str(key): str(value) for key, value in environment.items()}


def test_compose_gives_the_replicas_only_settings_that_exist() -> None:
    # Settings ignore unknown PEERROOMS_ variables, so a misspelt one would pass unnoticed.
    for name in replica_environment():
        assert name.startswith("PEERROOMS_"), name
        assert name.removeprefix("PEERROOMS_").lower() in Settings.model_fields, name


def test_compose_requires_every_video_secret_and_shares_the_turn_secret_with_coturn() -> None:
    environment = replica_environment()
    for name in (
        "PEERROOMS_JANUS_API_SECRET",
        "PEERROOMS_JANUS_ADMIN_SECRET",
        "PEERROOMS_JANUS_ADMIN_KEY",
        "PEERROOMS_TURN_SECRET",
    ):
        assert environment[name] == f"${{{name}:?set it}}", name
    services = compose()["services"]
    assert services["coturn"]["environment"]["TURN_SECRET"] == "${PEERROOMS_TURN_SECRET:?set it}"
    janus = services["janus"]["environment"]
    for name in ("JANUS_API_SECRET", "JANUS_ADMIN_SECRET", "JANUS_ADMIN_KEY"):
        assert janus[name] == environment[f"PEERROOMS_{name}"], name
    # The TURN URLs are a JSON list, as pydantic-settings reads a list from the environment.
    assert environment["PEERROOMS_TURN_URLS"].startswith('["turn:')


def test_compose_settings_read_as_the_replicas_will_read_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Compose's own interpolation of ${NAME:?...} and ${NAME:-...}, with values for each.
    given = {"VIDEO_HOST": "video.example.org", "POSTGRES_PASSWORD": "pw"}

    def interpolate(value: str) -> str:
        return re.sub(
            r"\$\{(\w+)(?::[?-][^}]*)?\}", lambda m: given.get(m[1], f"value-of-{m[1]}"), value
        )

    for name, value in replica_environment().items():
        monkeypatch.setenv(name, interpolate(value))
    settings = Settings()
    assert settings.turn_urls == [
        "turn:video.example.org:3478?transport=udp",
        "turn:video.example.org:3478?transport=tcp",
        "turns:video.example.org:5349?transport=tcp",
    ]
    assert settings.turn_secret is not None
    assert settings.turn_secret.get_secret_value() == "value-of-PEERROOMS_TURN_SECRET"
    assert settings.janus_url == "http://janus:8088/janus"
    assert settings.janus_admin_url == "http://janus:7088/admin"


def test_compose_publishes_no_janus_api_and_keeps_the_admin_api_inside() -> None:
    janus = compose()["services"]["janus"]
    published = " ".join(str(port) for port in janus.get("ports", []))
    assert ":8188" in published  # the WebSocket API, for browsers
    assert "8088" not in published and "7088" not in published


def test_compose_addresses_and_port_ranges_agree_with_the_media_servers_files() -> None:
    """What docker-compose.yml and config/ each say once about the other."""
    services = compose()["services"]
    janus_ip = services["janus"]["networks"]["default"]["ipv4_address"]
    coturn_ip = services["coturn"]["networks"]["default"]["ipv4_address"]
    [network] = compose()["networks"]["default"]["ipam"]["config"]
    subnet = ipaddress.ip_network(network["subnet"])
    dynamic = ipaddress.ip_network(network["ip_range"])
    for fixed in (janus_ip, coturn_ip):
        assert ipaddress.ip_address(fixed) in subnet
        assert ipaddress.ip_address(fixed) not in dynamic
    assert services["coturn"]["environment"]["TURN_PRIVATE_IP"] == coturn_ip
    # coturn may relay to Janus's private address, and Janus answers API calls from the subnet.
    turnserver = (ROOT / "config" / "coturn" / "turnserver.conf").read_text()
    assert f"allowed-peer-ip={janus_ip}\n" in turnserver
    acl = services["janus"]["environment"]["JANUS_ACL"].split(",")
    assert str(subnet.network_address).removesuffix("0") in acl
    # The published media ranges are the ones the servers use.
    rtp = re.search(
        r'rtp_port_range = "(\d+)-(\d+)"', (ROOT / "config/janus/janus.jcfg").read_text()
    )
    assert rtp is not None
    assert f"{rtp[1]}-{rtp[2]}:{rtp[1]}-{rtp[2]}/udp" in services["janus"]["ports"]
    low = re.search(r"^min-port=(\d+)$", turnserver, re.MULTILINE)
    high = re.search(r"^max-port=(\d+)$", turnserver, re.MULTILINE)
    assert low is not None and high is not None
    assert f"{low[1]}-{high[1]}:{low[1]}-{high[1]}/udp" in services["coturn"]["ports"]


def test_janus_and_coturn_configurations_take_every_value_they_name() -> None:
    """The entrypoints check and fill in exactly the ${NAME}s the templates use, and compose
    gives each container all of them."""
    services = compose()["services"]
    entrypoint = (ROOT / "config" / "janus" / "entrypoint.sh").read_text()
    checked = re.search(r'^names="([^"]*)"$', entrypoint, re.MULTILINE)
    assert checked is not None
    used = {
        name
        for template in (ROOT / "config" / "janus").glob("*.jcfg")
        for name in re.findall(r"\$\{(\w+)\}", template.read_text())
    }
    assert used == set(checked[1].split())
    assert used <= set(services["janus"]["environment"])
    coturn_entrypoint = (ROOT / "config" / "coturn" / "entrypoint.sh").read_text()
    coturn_names = re.search(r"^for name in ([A-Z_ ]+); do$", coturn_entrypoint, re.MULTILINE)
    assert coturn_names is not None
    required = set(coturn_names[1].split())
    assert set(services["coturn"]["environment"]) == required | {"TURN_SECRET_PREVIOUS"}
    assert (
        services["coturn"]["environment"]["TURN_SECRET_PREVIOUS"]
        == "${PEERROOMS_TURN_SECRET_PREVIOUS:-}"
    )
