"""The `peerrooms` command: create-admin, invite and demo, run as a person would run them."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from server.demo import DEMO_PASSWORD, DEMO_PEOPLE
from tests.processes import ServerProcess, run_cli, run_cli_outcome, server_env
from tests.support import PASSWORD, Api, accept_consent_if_asked, consent_version


async def test_create_admin_is_idempotent_and_invites_register(
    database_url: str, tmp_path: Path
) -> None:
    env = server_env(database_url, tmp_path)
    admin_args = ("create-admin", "--username", "Boss", "--password", PASSWORD)
    assert "admin boss created" in await run_cli(env, *admin_args)
    assert "admin boss already exists" in await run_cli(env, *admin_args)
    invited = (await run_cli_outcome(env, "invite", "--role", "alumni", "--uses", "2")).stdout
    code, link = invited.splitlines()
    assert link.startswith(f"link: <this server's address>/#/register?code={code} (2 uses"), link

    server = await ServerProcess.start(env, tmp_path / "server.log")
    try:
        async with aiohttp.ClientSession() as session:
            api = Api(server.url, session)
            for username in ("alum_one", "alum_two"):
                reply = await api.post(
                    "/api/auth/register",
                    {
                        "invite_code": code,
                        "username": username,
                        "display_name": username,
                        "password": PASSWORD,
                        "consent_version": await consent_version(api),
                    },
                )
                assert reply.status == 201, reply.body
                assert reply.body["user"]["role"] == "alumni"
            login = await api.post("/api/auth/login", {"username": "boss", "password": PASSWORD})
            assert login.body["user"]["role"] == "admin"
    finally:
        await server.stop()


async def test_an_invite_for_an_unknown_cohort_is_refused(
    database_url: str, tmp_path: Path
) -> None:
    env = server_env(database_url, tmp_path)
    await run_cli(env, "create-admin", "--username", "boss", "--password", PASSWORD)
    try:
        await run_cli(env, "invite", "--role", "patient", "--cohort", "No Such Group")
    except AssertionError as refusal:
        assert "No such cohort named 'No Such Group'" in str(refusal)
    else:
        raise AssertionError("the invite was made for a cohort that does not exist")


async def test_demo_seeds_a_community_everyone_can_sign_in_to(
    database_url: str, tmp_path: Path
) -> None:
    env = server_env(database_url, tmp_path)
    first = await run_cli(env, "demo")
    second = await run_cli(env, "demo")  # seeding again changes nothing
    for username, *_ in DEMO_PEOPLE:
        assert username in first
    assert DEMO_PASSWORD in first and second == first

    server = await ServerProcess.start(env, tmp_path / "server.log")
    try:
        async with aiohttp.ClientSession() as session:
            api = Api(server.url, session)
            rooms_of: dict[str, set[str]] = {}
            for username, display_name, role, _ in DEMO_PEOPLE:
                login = await api.post(
                    "/api/auth/login", {"username": username, "password": DEMO_PASSWORD}
                )
                assert login.status == 200, (username, login.body)
                # The demo's people are asked to accept the notice, as everyone is.
                await accept_consent_if_asked(api, login.body)
                assert login.body["user"]["display_name"] == display_name
                assert login.body["user"]["role"] == role.value
                rooms = await api.get("/api/rooms", login.body["token"])
                rooms_of[username] = {room["name"] for room in rooms.body["rooms"]}
            patient = await api.post(
                "/api/auth/login", {"username": "pat_ana", "password": DEMO_PASSWORD}
            )
            meetings = await api.get("/api/meetings", patient.body["token"])
    finally:
        await server.stop()

    group = {"Evening Group", "Evening Group session"}
    assert rooms_of["pat_ana"] == rooms_of["pat_ben"] == rooms_of["pat_cam"] == group
    assert rooms_of["alum_dee"] == rooms_of["alum_eli"] == {"Alumni Lounge"}
    assert rooms_of["mod_lee"] == rooms_of["admin"] == group | {"Alumni Lounge"}
    assert [m["title"] for m in meetings.body["meetings"]] == ["Evening Group"]
