"""The program's consent notice in a real browser (docs/privacy.md, "Consent"): the registration
form shows it and asks for it to be accepted; a person who has not accepted the notice in force
sees it after signing in, before anything else, with Accept and Sign out."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from server.accounts.http import ACCOUNTS
from server.kernel.actors import Role
from server.privacy.consent import shipped_notice_text
from tests.browser.conftest import TabFactory
from tests.browser.pages import ACCEPT_NOTICE, Tab
from tests.support import (
    PASSWORD,
    Api,
    Community,
    Person,
    RunningServer,
    consent_version,
    eventually,
    invite_code,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")

NOTICE_REGION = "The program's notice"
FIRST_LINE = shipped_notice_text().splitlines()[0]


async def test_registering_shows_the_notice_and_needs_it_accepted(
    browse: TabFactory, api: Api, community: Community
) -> None:
    c = community
    code = await invite_code(api, c.mod_lee, cohort_id=c.cohort_a)
    tab = await browse()
    page = tab.page
    await page.goto(f"/#/register?code={code}")
    await expect(tab.heading("Register")).to_be_visible()
    # The notice, whole, in a region of its own that scrolls.
    notice = page.get_by_role("region", name=NOTICE_REGION)
    await expect(notice).to_contain_text(FIRST_LINE)
    await expect(notice).to_contain_text("42 CFR Part 2")
    scrolls = await notice.evaluate("node => node.scrollHeight > node.clientHeight")
    assert scrolls, "the notice should scroll within its box"

    await tab.fill_registration("pat_rae", "Rae", "a long quiet walk home")
    register = page.get_by_role("button", name="Register", exact=True)
    # Not accepted: refused in the page, and nothing sent.
    await register.click()
    await expect(tab.alert("I have read and accept this notice")).to_be_visible()
    await expect(page.get_by_role("checkbox", name=ACCEPT_NOTICE)).to_be_focused()
    refused = await api.post("/api/auth/login", {"username": "pat_rae", "password": PASSWORD})
    assert refused.status == 401, refused.body

    await tab.accept_notice()
    await register.click()
    await expect(tab.heading("Rooms")).to_be_visible()
    await expect(tab.connection).to_have_text("Connected")
    login = await api.post(
        "/api/auth/login", {"username": "pat_rae", "password": "a long quiet walk home"}
    )
    assert login.body["consent_required"] is None, login.body


async def new_person(server: RunningServer, api: Api, community: Community) -> Person:
    """A patient whose account was made by the operator: she has accepted no notice."""
    user, _ = await server.app[ACCOUNTS].ensure_user(
        username="pat_uma",
        password=PASSWORD,
        role=Role.PATIENT,
        display_name="Uma",
        cohort_id=community.cohort_a,
    )
    assert user.id is not None
    return Person(user.id, "pat_uma", "Uma", "patient", "")


async def sees_the_notice(tab: Tab, person: Person) -> None:
    await tab.page.goto("/#/signin")
    await tab.fill_sign_in(person.username, PASSWORD)
    await expect(tab.heading("Before you go on")).to_be_visible()
    await expect(tab.page.get_by_role("region", name=NOTICE_REGION)).to_contain_text(FIRST_LINE)
    # Nothing else until it is accepted: no navigation, no connection.
    await expect(tab.nav).to_be_hidden()
    await expect(tab.connection).to_have_text("Offline")


async def test_a_notice_not_accepted_is_shown_after_signing_in_before_anything_else(
    browse: TabFactory, server: RunningServer, api: Api, community: Community
) -> None:
    uma = await new_person(server, api, community)
    tab = await browse()

    # Sign out leaves without accepting.
    await sees_the_notice(tab, uma)
    await tab.page.get_by_role("button", name="Sign out").click()
    await expect(tab.heading("Sign in")).to_be_visible()

    # A room's address still shows the notice first; a reload too.
    await sees_the_notice(tab, uma)
    await tab.page.goto(f"/#/rooms/{community.group_a}")
    await expect(tab.heading("Before you go on")).to_be_visible()
    await tab.page.reload()
    await expect(tab.heading("Before you go on")).to_be_visible()

    # Accept: the program opens where the address pointed.
    await tab.page.get_by_role("button", name="Accept").click()
    await tab.in_room("Group A")
    await expect(tab.nav).to_be_visible()
    login = await api.post("/api/auth/login", {"username": "pat_uma", "password": PASSWORD})
    assert login.body["consent_required"] is None, login.body
    acceptances = await api.get(f"/api/consent/acceptances?user_id={uma.id}", community.admin.token)
    assert [(a["version"], a["source"]) for a in acceptances.body["acceptances"]] == [
        (await consent_version(api), "sign-in")
    ]


async def test_admins_read_the_access_log_in_the_console_and_moderators_do_not_see_it(
    browse: TabFactory, api: Api, community: Community
) -> None:
    c = community
    person_page = await api.get(f"/api/users/{c.pat_ana.id}", c.mod_lee.token)
    assert person_page.status == 200, person_page.body

    admin = await browse(desktop=True)
    await admin.sign_in(c.admin)
    await admin.open_console()
    log = admin.region("Access log")
    table = log.get_by_role("region", name="Access log table")
    # Lee's read of Ana's page; shown again, the admin's own opening of the console's queues.
    await expect(table.get_by_role("row").filter(has_text="Ana")).to_contain_text("Lee")

    async def console_read() -> bool:
        query = f"/api/access-log?kind=alerts&actor_id={c.admin.id}"
        return bool((await api.get(query, c.admin.token)).body["entries"])

    await eventually(console_read, "the console's alert list read to be recorded")
    await log.get_by_role("button", name="Show entries").click()
    await expect(table.get_by_role("row").filter(has_text="Alert list")).to_contain_text("Admin")
    # Filtered to what Lee read.
    await log.get_by_role("combobox", name="Read by").select_option(label="Lee (moderator)")
    await log.get_by_role("button", name="Show entries").click()
    await expect(table.get_by_role("row")).to_have_count(2)  # the header and Lee's one read
    download = log.get_by_role("link", name="Download CSV")
    await expect(download).to_have_attribute("download", re.compile(r"access-log"))

    lee = await browse(desktop=True)
    await lee.sign_in(c.mod_lee)
    await lee.open_console()
    await expect(lee.region("Audit log")).to_be_visible()
    await expect(lee.region("Access log")).to_have_count(0)
