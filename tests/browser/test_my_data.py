"""My data, in a real browser: Ana asks for her export from the main navigation, downloads it
as a page and as JSON when it is ready (her words in it as text), and asks to be erased,
confirming in a dialog that says what erasure does; an admin sees her request on her page."""

from __future__ import annotations

import json

import pytest
from playwright.async_api import expect

from tests.browser.conftest import PeerFactory, TabFactory
from tests.support import Api, Community, joined, send

pytestmark = pytest.mark.asyncio(loop_scope="session")

WORDS = "My <b>own</b> words"


async def test_ana_downloads_her_export_and_asks_to_be_erased(
    browse: TabFactory, api: Api, community: Community, peer: PeerFactory
) -> None:
    c = community
    socket = await peer(c.pat_ana.token)
    await joined(socket, c.group_a)
    await send(socket, c.group_a, WORDS)

    ana = await browse()
    await ana.sign_in(c.pat_ana)
    await ana.nav.get_by_role("link", name="My data").click()
    await expect(ana.heading("My data")).to_be_visible()
    data = ana.region("Your data")
    await expect(data).to_contain_text("No export yet.")
    await data.get_by_role("button", name="Prepare my export").click()
    await expect(data.get_by_role("status", name="Export")).to_contain_text("being prepared")
    page_button = data.get_by_role("button", name="Download as a page")
    await expect(page_button).to_be_visible()

    async with ana.page.expect_download() as downloading:
        await page_button.click()
    page_file = await downloading.value
    assert page_file.suggested_filename.endswith(".html")
    html = (await page_file.path()).read_text(encoding="utf-8")
    assert "My &lt;b&gt;own&lt;/b&gt; words" in html and "<script" not in html

    async with ana.page.expect_download() as downloading:
        await data.get_by_role("button", name="Download as JSON").click()
    json_file = await downloading.value
    export = json.loads((await json_file.path()).read_text(encoding="utf-8"))
    assert [message["body"] for message in export["messages"]] == [WORDS]

    erasure = ana.region("Erase my account")
    await erasure.get_by_role("textbox", name="Why (optional, for the admin who decides)").fill(
        "Leaving the program"
    )
    await erasure.get_by_role("button", name="Ask to erase my account").click()
    dialog = ana.page.get_by_role("dialog", name="Ask to erase your account?")
    await expect(dialog).to_contain_text("Removed at the member's request.")
    await expect(dialog).to_contain_text("Nothing happens until an admin decides.")
    await dialog.get_by_role("button", name="Ask to erase my account").click()
    await expect(dialog).to_be_hidden()
    await expect(erasure.get_by_role("list", name="Your erasure requests")).to_contain_text(
        "Waiting for an admin's decision"
    )
    await expect(erasure.get_by_role("button", name="Ask to erase my account")).to_be_disabled()

    # An admin sees it on Ana's page, to decide.
    admin = await browse(desktop=True)
    await admin.sign_in(c.admin)
    await admin.open_people()
    await admin.open_person("Ana")
    section = admin.region("Data export and erasure")
    requests = section.get_by_role("list", name="Erasure requests")
    await expect(requests).to_contain_text("Leaving the program")
    await expect(requests.get_by_role("button", name="Approve and erase")).to_be_visible()
    listed = await api.get("/api/erasure-requests", c.admin.token)
    assert [r["reason"] for r in listed.body["requests"]] == ["Leaving the program"]
