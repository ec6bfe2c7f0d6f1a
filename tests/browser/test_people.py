"""People, the coordinator's console for staff, in a real browser: an admin finds a patient
with the filters, lifts her mute and ban, moves her to another cohort and hands over a password
reset code, with which she (signed out, in a browser of her own) chooses a new password and is
signed in; a moderator sees no login names and confirms deactivation and graduation in a
dialog; members have no People; an unknown address says Page not found."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.async_api import Route, expect

from tests.browser.conftest import TabFactory
from tests.support import PASSWORD, Api, Community, RunningServer

pytestmark = pytest.mark.asyncio(loop_scope="session")

NEW_PASSWORD = "a brand new passphrase"


async def person(api: Api, c: Community, user_id: int) -> dict[str, object]:
    reply = await api.get(f"/api/users/{user_id}", c.admin.token)
    assert reply.status == 200, reply.body
    return dict(reply.body["user"])


async def test_an_admin_moves_ana_to_cohort_b_and_she_resets_her_password(
    browse: TabFactory, server: RunningServer, api: Api, community: Community
) -> None:
    c = community
    # Something to lift: a mute for a while, and a ban until lifted.
    reply = await api.post(
        f"/api/rooms/{c.group_a}/mutes",
        {"user_id": c.pat_ana.id, "minutes": 30, "reason": "Cooling off"},
        c.mod_lee.token,
    )
    assert reply.status == 201, reply.body
    reply = await api.post(
        f"/api/rooms/{c.commons}/bans", {"user_id": c.pat_ana.id, "reason": "Spam"}, c.mod_lee.token
    )
    assert reply.status == 201, reply.body

    admin = await browse()  # on a phone
    await admin.sign_in(c.admin)
    await admin.open_people()
    # Everyone, with the login name (admins only) beside the alias.
    await expect(admin.person_item("Lee")).to_contain_text("Moderator")
    await expect(admin.person_item("Ana")).to_contain_text("pat_ana")
    await expect(admin.person_item("Ana")).to_contain_text("Cohort A")

    # Patients only: the list follows the filter, and the address keeps it.
    await admin.page.get_by_role("combobox", name="Role").select_option(label="Patient")
    await admin.page.get_by_role("button", name="Search", exact=True).click()
    await expect(admin.people_list.get_by_role("listitem")).to_have_count(3)
    for name in ("Ana", "Avi", "Bo"):
        await expect(admin.person_item(name)).to_contain_text("Patient")
    await expect(admin.page.get_by_role("status", name="Search results")).to_have_text("3 people.")
    assert "role=patient" in admin.page.url, admin.page.url
    # The search box narrows it further (an alias, any case).
    await admin.page.get_by_role("searchbox", name="Search").fill("AN")
    await admin.page.get_by_role("searchbox", name="Search").press("Enter")
    await expect(admin.people_list.get_by_role("listitem")).to_have_count(1)

    await admin.open_person("Ana")
    details = admin.region("Details")
    await expect(details).to_contain_text("pat_ana")
    await expect(details).to_contain_text("Cohort A")
    await expect(details).to_contain_text("Active")

    # Mutes and bans in force, each lifted from here.
    restrictions = admin.region("Mutes and bans")
    items = restrictions.get_by_role("listitem")
    await expect(items).to_have_count(2)
    await expect(items.filter(has_text="Commons")).to_contain_text("until lifted")
    await expect(items.filter(has_text="Group A")).to_contain_text("Muted in Group A until")
    await restrictions.get_by_role("button", name="Lift mute in Group A").click()
    await expect(items).to_have_count(1)
    await restrictions.get_by_role("button", name="Lift ban from Commons").click()
    await expect(restrictions).to_contain_text("No mutes or bans in force.")
    assert (await person(api, c, c.pat_ana.id))["restrictions"] == []

    # Move her to Cohort B.
    cohort = admin.region("Cohort")
    await cohort.get_by_role("combobox", name="Cohort").select_option(label="Cohort B")
    await cohort.get_by_role("button", name="Move to cohort").click()
    await expect(cohort.get_by_role("status")).to_have_text("Ana is in Cohort B now.")
    await expect(details).to_contain_text("Cohort B")
    assert (await person(api, c, c.pat_ana.id))["cohort_ids"] == [c.cohort_b]

    # A password reset code, and the whole link to hand over.
    reset = admin.region("Password reset")
    await reset.get_by_role("button", name="Create password reset code").click()
    link_box = reset.get_by_role("textbox", name="Reset link")
    await expect(link_box).to_have_value(re.compile(re.escape(server.url) + r"/#/reset\?code=\S+"))
    await expect(reset).to_contain_text("It works once, and expires at")
    link = await link_box.input_value()
    [code] = parse_qs(urlsplit(link).fragment.split("?", 1)[1])["code"]
    await expect(reset).to_contain_text(code)

    # Ana, signed out in a browser of her own, opens the link.
    ana = await browse()
    await ana.page.goto(link)
    await expect(ana.heading("Choose a new password")).to_be_visible()
    await expect(ana.page.get_by_role("textbox", name="Reset code")).to_have_value(code)
    await ana.page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    await ana.page.get_by_role("button", name="Set new password").click()
    await expect(ana.heading("Rooms")).to_be_visible()
    await expect(ana.connection).to_have_text("Connected")
    assert ana.page.url.endswith("#/rooms"), ana.page.url
    # Signed in as herself, in Cohort B now.
    await expect(ana.room_item("Group B")).to_be_visible()
    await expect(ana.room_item("Group A")).to_have_count(0)
    await expect(ana.nav.get_by_role("link", name="People")).to_have_count(0)

    # The new password works, the old does not, and the code was good once.
    login = await api.post("/api/auth/login", {"username": "pat_ana", "password": NEW_PASSWORD})
    assert login.status == 200, login.body
    login = await api.post("/api/auth/login", {"username": "pat_ana", "password": PASSWORD})
    assert login.status == 401, login.body
    again = await api.post(
        "/api/auth/reset", {"code": code, "new_password": "yet another passphrase"}
    )
    assert again.status == 401, again.body

    # Admins change roles: Dee (alumni) becomes a moderator, and has no cohort to move to.
    await admin.page.goto(f"/#/people/{c.alum_dee.id}")
    await expect(admin.heading("Dee")).to_be_visible()
    role = admin.region("Role")
    await role.get_by_role("combobox", name="Role").select_option(label="Moderator")
    await role.get_by_role("button", name="Save role").click()
    await expect(role.get_by_role("status")).to_have_text("Saved: Dee is now Moderator.")
    await expect(details).to_contain_text("Moderator")
    await expect(admin.region("Cohort")).to_have_count(0)
    assert (await person(api, c, c.alum_dee.id))["role"] == "moderator"

    # An address that is no screen says so, instead of showing Rooms.
    await admin.page.goto("/#/admin")
    await expect(admin.heading("Page not found")).to_be_visible()
    await admin.page.get_by_role("link", name="Go to Rooms").click()
    await expect(admin.heading("Rooms")).to_be_visible()


async def test_a_moderator_confirms_deactivation_and_graduation_and_members_have_no_people(
    browse: TabFactory, api: Api, community: Community
) -> None:
    c = community
    lee = await browse(desktop=True)
    await lee.sign_in(c.mod_lee)
    await expect(lee.nav.get_by_role("link", name="People", exact=True)).to_be_visible()

    # Pages of two (the client asks for 50; six people would fit in one): Load more adds the
    # next page, and the keyboard goes on from the first one added.
    async def pages_of_two(route: Route) -> None:
        await route.continue_(url=route.request.url.replace("limit=50", "limit=2"))

    await lee.page.route(re.compile(r"/api/users\?"), pages_of_two)
    await lee.open_people()
    rows = lee.people_list.get_by_role("listitem")
    more = lee.page.get_by_role("button", name="Load more")
    await expect(rows).to_have_count(2)
    await expect(lee.page.get_by_role("status", name="Search results")).to_have_text(
        "2 people, more to load."
    )
    await more.click()
    await expect(rows).to_have_count(4)
    await expect(rows.nth(2).get_by_role("link")).to_be_focused()
    # Six people, two a page: the third page is the last (next_after is null).
    await more.click()
    await expect(rows).to_have_count(len(c.people))
    await expect(more).to_be_hidden()
    await expect(lee.page.get_by_role("status", name="Search results")).to_have_text("6 people.")
    names = await rows.get_by_role("link").all_inner_texts()
    assert len(set(names)) == len(c.people), names
    await lee.page.unroute(re.compile(r"/api/users\?"), pages_of_two)
    await expect(lee.person_item("Ana")).to_be_visible()
    # Login names are for admins.
    await expect(lee.people_list).not_to_contain_text("pat_ana")
    await lee.open_person("Ana")
    await expect(lee.region("Details")).not_to_contain_text("Login name")
    await expect(lee.region("Role")).to_have_count(0)

    # A staff account's reset code needs an admin: the server's refusal is said.
    await lee.page.goto(f"/#/people/{c.admin.id}")
    await expect(lee.heading("Admin")).to_be_visible()
    reset = lee.region("Password reset")
    await reset.get_by_role("button", name="Create password reset code").click()
    await expect(reset.get_by_role("alert")).to_be_visible()
    await expect(reset.get_by_role("textbox", name="Reset link")).to_have_count(0)

    # Deactivating asks first; Cancel leaves the account as it was.
    await lee.page.goto(f"/#/people/{c.pat_avi.id}")
    await expect(lee.heading("Avi")).to_be_visible()
    account = lee.region("Account")
    details = lee.region("Details")
    await account.get_by_role("button", name="Deactivate").click()
    dialog = lee.page.get_by_role("dialog", name="Deactivate Avi?")
    await expect(dialog).to_be_visible()
    await dialog.get_by_role("button", name="Cancel").click()
    await expect(dialog).to_have_count(0)
    assert (await person(api, c, c.pat_avi.id))["status"] == "active"
    await account.get_by_role("button", name="Deactivate").click()
    await dialog.get_by_role("button", name="Deactivate").click()
    await expect(dialog).to_have_count(0)
    await expect(details).to_contain_text("Deactivated")
    await expect(account.get_by_role("button", name="Reactivate")).to_be_focused()
    assert (await person(api, c, c.pat_avi.id))["status"] == "deactivated"
    await account.get_by_role("button", name="Reactivate").click()
    await expect(account.get_by_role("status")).to_have_text("Avi's account is active again.")
    await expect(account.get_by_role("button", name="Deactivate")).to_be_focused()
    assert (await person(api, c, c.pat_avi.id))["status"] == "active"

    # Graduation, confirmed in a dialog: Bo is alumni.
    await lee.page.goto(f"/#/people/{c.pat_bo.id}")
    await expect(lee.heading("Bo")).to_be_visible()
    graduation = lee.region("Graduation")
    await graduation.get_by_role("button", name="Graduate").click()
    dialog = lee.page.get_by_role("dialog", name="Graduate Bo?")
    await dialog.get_by_role("button", name="Graduate").click()
    await expect(dialog).to_have_count(0)
    await expect(graduation.get_by_role("status")).to_have_text(
        "Bo graduated: they are alumni now."
    )
    await expect(details).to_contain_text("Alumni")
    await expect(graduation).to_contain_text("Bo graduated on")
    await expect(graduation.get_by_role("button", name="Graduate")).to_have_count(0)
    assert (await person(api, c, c.pat_bo.id))["role"] == "alumni"

    # Members: no People in the navigation, and its address is no page for them.
    patient = await browse()
    await patient.sign_in(c.pat_ana)
    await expect(patient.nav.get_by_role("link", name="People")).to_have_count(0)
    await patient.page.goto("/#/people")
    await expect(patient.heading("Page not found")).to_be_visible()

    # A code that is no good is said, on the form (signed out, from the sign-in page).
    stranger = await browse()
    await stranger.page.goto("/#/signin")
    await stranger.page.get_by_role("link", name="I have a password reset code").click()
    await expect(stranger.heading("Choose a new password")).to_be_visible()
    await stranger.page.get_by_role("textbox", name="Reset code").fill("not-a-real-code")
    await stranger.page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    await stranger.page.get_by_role("button", name="Set new password").click()
    await expect(stranger.page.get_by_role("alert")).to_be_visible()
    await expect(stranger.heading("Choose a new password")).to_be_visible()


async def test_a_patient_moved_to_another_cohort_leaves_her_old_room_and_sees_the_new_one(
    browse: TabFactory, api: Api, community: Community
) -> None:
    c = community
    ana = await browse()
    await ana.sign_in(c.pat_ana)
    await ana.open_room(c.group_a, "Group A")

    moved = await api.call(
        "PATCH", f"/api/users/{c.pat_ana.id}", token=c.mod_lee.token, json={"cohort_id": c.cohort_b}
    )
    assert moved.status == 200, moved.body
    # Her open room of Cohort A closes, and the list is Cohort B's without a reload.
    await expect(ana.heading("Rooms")).to_be_visible()
    await expect(ana.room_item("Group B")).to_be_visible()
    await expect(ana.room_item("Group A")).to_have_count(0)
