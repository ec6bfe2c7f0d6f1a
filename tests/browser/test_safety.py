"""Safety in a real browser: crisis language brings up support for the writer and an alert in
the moderator console; moderators mute, kick and handle reports from the screens; people's
words are shown as text and never run (docs/web-client.md)."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from tests.browser.conftest import PeerFactory, TabFactory
from tests.browser.pages import (
    RECONNECT_MS,
    ana_and_lee_in_group_a,
    ana_in_group_a_and_lee_at_the_console,
    history,
    lee_at_the_console,
    message_action,
    open_alerts,
    open_reports,
)
from tests.crisis_corpus import SHOULD_ALERT
from tests.support import Api, Community, audit, eventually, joined, send

pytestmark = pytest.mark.asyncio(loop_scope="session")

CRISIS = "i want to end my life"
CRISIS_WHILE_MUTED = "i keep thinking about ending it all"
CRISIS_WHILE_LOCKED = "feeling really suicidal tonight"
# Said wherever posting is held back (a mute, a paused room).
STILL_WRITE = "If you are struggling, you can still write here and staff will see it."
# What a suicide-category message is shown (settings: crisis_resources_by_category).
RESOURCES = (
    "988 Suicide & Crisis Lifeline",
    "Call or text 988",
    "Crisis Text Line",
    "Call 911",
)


async def test_crisis_alert_is_acknowledged_and_a_muted_patient_can_still_reach_staff(
    browse: TabFactory, api: Api, community: Community
) -> None:
    assert {CRISIS, CRISIS_WHILE_MUTED, CRISIS_WHILE_LOCKED} <= set(SHOULD_ALERT)
    c = community
    patient, console = await ana_in_group_a_and_lee_at_the_console(browse, c)
    alerts = console.region("Alerts")
    await expect(alerts).to_be_visible()
    await expect(alerts.get_by_role("button", name="Acknowledge")).to_have_count(0)
    # Lee goes on duty from the console.
    await expect(alerts).to_contain_text("Nobody is on duty")
    await alerts.get_by_role("checkbox", name="I am on duty").check()
    await expect(alerts.get_by_role("status", name="Staff on duty")).to_contain_text("Lee")

    # The writer gets support at once, in words and numbers they can use, and is told the
    # truth about who knows: staff on duty.
    await patient.send(CRISIS)
    support = patient.page.get_by_role("dialog", name="Support is available right now")
    await expect(support).to_be_visible()
    await expect(support).to_contain_text("A member of staff on duty has been alerted")
    await expect(support).to_contain_text("988")
    for resource in RESOURCES:
        await expect(support).to_contain_text(resource)
    await support.get_by_role("button", name="Close").click()
    await expect(support).to_be_hidden()
    # Nobody in crisis is silenced: the message is in the room as usual.
    await expect(patient.message(CRISIS)).to_have_count(1)

    # The console shows the alert live, who wrote it, and takes an acknowledgement.
    await expect(alerts).to_contain_text(CRISIS)
    await expect(alerts).to_contain_text("Ana")
    await expect(alerts).to_contain_text("Suicide")
    await expect(alerts).to_contain_text("Staff on duty were online")
    [alert] = await open_alerts(api, c.mod_lee)
    assert alert["kind"] == "crisis" and alert["user"]["id"] == c.pat_ana.id, alert
    # What was done is asked for, and kept with the note.
    await alerts.get_by_role("button", name="Acknowledge").click()
    await expect(alerts.get_by_role("alert")).to_contain_text("Choose what was done")
    await expect(alerts).to_contain_text(CRISIS)
    await alerts.get_by_label("What was done").select_option(label="Reached out to them")
    await alerts.get_by_label("Note").fill("Messaged Ana; she is with her sister.")
    await alerts.get_by_role("button", name="Acknowledge").click()
    await expect(alerts).not_to_contain_text(CRISIS)
    await eventually(
        lambda: _none_open(api, c), "the alert to be acknowledged on the server", timeout=10
    )
    entries = await audit(api, c.mod_lee)
    [acked] = [e for e in entries if e["action"] == "alert_acknowledged"]
    assert acked["reason"] == "outcome: reached_out; Messaged Ana; she is with her sister."

    # The moderator reads the room and mutes Ana from her name.
    await console.open_room(c.group_a, "Group A")
    await expect(console.message(CRISIS)).to_have_count(1)
    dialog = await console.moderate("Ana")
    await dialog.get_by_label("Minutes").fill("30")
    await dialog.get_by_label("Reason").fill("Taking a pause while staff reach out")
    await dialog.get_by_role("button", name="Mute").click()
    await expect(dialog).to_be_hidden()

    # Ana is told, calmly, once, and the box to write in stays: a muted person in crisis
    # must still be able to reach staff.
    muted = patient.alert("You are muted")
    await expect(muted).to_be_visible()
    await expect(muted).to_contain_text(STILL_WRITE)
    await expect(patient.page.get_by_role("alert")).to_have_count(1)
    await expect(patient.composer).to_be_enabled()
    entries = await audit(api, c.mod_lee, c.group_a)
    assert any(e["action"] == "mute" and e["target_user"]["id"] == c.pat_ana.id for e in entries)

    # The mute holds across a reload.
    await patient.page.reload()
    await patient.in_room("Group A")
    await expect(muted).to_be_visible()
    await expect(patient.composer).to_be_enabled()

    # An ordinary message is refused, kept as Not sent, and said in the one alert.
    await patient.send("can I still talk?")
    await expect(patient.message("can I still talk?")).to_contain_text("Not sent")
    await expect(muted).to_contain_text("Your message was not sent")
    await expect(patient.page.get_by_role("alert")).to_have_count(1)

    # Crisis language gets through the mute: delivered to the room, staff alerted, and the
    # writer gets support.
    await patient.send(CRISIS_WHILE_MUTED)
    await expect(support).to_be_visible()
    await expect(support).to_contain_text("988")
    await expect(console.message(CRISIS_WHILE_MUTED)).to_have_count(1)
    await support.get_by_role("button", name="Close").click()
    await expect(patient.message(CRISIS_WHILE_MUTED)).not_to_contain_text(
        re.compile("Sending|Not sent")
    )
    [alert] = await eventually(lambda: open_alerts(api, c.mod_lee), "a second crisis alert")
    assert alert["kind"] == "crisis" and alert["excerpt"] == CRISIS_WHILE_MUTED, alert
    await expect(muted).not_to_contain_text("Your message was not sent")
    await expect(patient.composer).to_be_enabled()

    # On another device, which never got the notice, a send is refused and says why, once.
    desktop = await browse(desktop=True)
    await desktop.sign_in(c.pat_ana)
    await desktop.open_room(c.group_a, "Group A")
    await expect(desktop.composer).to_be_enabled()
    await desktop.send("is this thing on?")
    await expect(desktop.message("is this thing on?")).to_contain_text("Not sent")
    await expect(desktop.alert("You are muted")).to_contain_text(STILL_WRITE)
    await expect(desktop.page.get_by_role("alert")).to_have_count(1)
    await expect(desktop.composer).to_be_enabled()
    await console.send("Ana, I'll message you directly.")
    await expect(desktop.message("I'll message you directly")).to_have_count(1)
    for refused in ("can I still talk?", "is this thing on?"):
        await expect(console.message(refused)).to_have_count(0)
    assert [m["body"] for m in await history(api, c.mod_lee, c.group_a)] == [
        CRISIS,
        CRISIS_WHILE_MUTED,
        "Ana, I'll message you directly.",
    ]

    # Lifted early, the mute is over on both devices at once: they are told, and posts go.
    lifted = await api.call(
        "DELETE", f"/api/rooms/{c.group_a}/mutes/{c.pat_ana.id}", token=c.mod_lee.token
    )
    assert lifted.status == 204, lifted.body
    for device in (patient, desktop):
        await expect(device.alert("You are muted")).to_have_count(0)
    await patient.send("thank you for checking on me")
    await expect(console.message("thank you for checking on me")).to_have_count(1)


async def _none_open(api: Api, c: Community) -> bool:
    return not await open_alerts(api, c.mod_lee)


async def test_message_text_is_shown_as_text_and_never_runs(
    browse: TabFactory, api: Api, community: Community
) -> None:
    c = community
    payloads = [
        "<img src=x onerror=alert(1)>",
        '<img src=x onerror="window.__pwned=1">',
        "<script>window.__pwned=2</script>",
        '<a href="javascript:window.__pwned=3">click me</a>',
        "<b>bold</b> &amp; <i>italic</i>",
    ]
    # A topic with markup, set by staff, is text too.
    topic = '<img src=x onerror="window.__pwned=4">'
    reply = await api.call(
        "PATCH", f"/api/rooms/{c.group_a}", token=c.mod_lee.token, json={"topic": topic}
    )
    assert reply.status == 200, reply.body

    requested: list[str] = []
    patient = await browse()
    moderator = await browse(desktop=True)
    for tab in (patient, moderator):
        tab.page.on("request", lambda request: requested.append(request.url))
    await patient.sign_in(c.pat_ana)
    await patient.open_room(c.group_a, "Group A")
    await moderator.sign_in(c.mod_lee)
    await moderator.open_room(c.group_a, "Group A")

    for payload in payloads:
        await patient.send(payload)
    await patient.send("and that is all")
    await expect(moderator.message("and that is all")).to_have_count(1)

    for tab in (moderator, patient):
        for payload in payloads:
            await expect(tab.log.get_by_text(payload, exact=True)).to_have_count(1)
        await expect(tab.log.locator("img, script, iframe, object, embed")).to_have_count(0)
        await expect(tab.log.locator("a[href^='javascript:']")).to_have_count(0)
        await expect(tab.log.locator("b, i")).to_have_count(0)
        assert await tab.page.evaluate("() => window.__pwned") is None
    assert [m["body"] for m in await history(api, c.mod_lee, c.group_a)] == [
        *payloads,
        "and that is all",
    ]
    assert not [url for url in requested if re.search(r"/x($|\?)", url)], requested
    assert patient.dialogs == [] and moderator.dialogs == []


async def test_a_report_reaches_the_console_and_is_resolved(
    browse: TabFactory, api: Api, peer: PeerFactory, community: Community
) -> None:
    c = community
    avi = await peer(c.pat_avi.token)
    await joined(avi, c.group_a)
    await send(avi, c.group_a, "anyone want to skip group and go drinking after")

    console = await lee_at_the_console(browse, c)
    reports = console.region("Reports")
    await expect(reports).to_be_visible()

    patient = await browse(accept_dialogs=True)
    await patient.sign_in(c.pat_ana)
    await patient.open_room(c.group_a, "Group A")
    reported = patient.message("go drinking after")
    await message_action(reported, "Report")
    form = patient.page.get_by_role("dialog")
    if await form.count():
        await form.get_by_role("textbox").first.fill("Encouraging drinking")
        await form.get_by_role("button", name=re.compile("^(Report|Send)")).click()
        await expect(form).to_be_hidden()

    await eventually(lambda: open_reports(api, c.mod_lee), "the report to be stored")
    await expect(reports).to_contain_text("go drinking after", timeout=RECONNECT_MS)
    await reports.get_by_role("button", name="Action taken").click()
    await expect(reports).not_to_contain_text("go drinking after")
    assert await eventually(
        lambda: _no_open_reports(api, c), "the report to be resolved on the server"
    )


async def _no_open_reports(api: Api, c: Community) -> bool:
    return not await open_reports(api, c.mod_lee)


async def test_a_kicked_patient_leaves_the_room_view(
    browse: TabFactory, api: Api, community: Community
) -> None:
    c = community
    patient, moderator = await ana_and_lee_in_group_a(browse, c)
    await expect(moderator.whos_here).to_contain_text("Ana")

    dialog = await moderator.moderate("Ana")
    await dialog.get_by_label("Reason").fill("Stepping out for a call with staff")
    await dialog.get_by_role("button", name="Kick").click()
    await expect(dialog).to_be_hidden()

    # Ana is out of the room: its log and composer are gone from her screen, she is told,
    # and she no longer shows in the room.
    await expect(patient.log).to_be_hidden()
    await expect(patient.composer).to_be_hidden()
    await expect(patient.alert(re.compile("removed|kicked", re.IGNORECASE))).to_be_visible()
    await expect(moderator.whos_here).not_to_contain_text("Ana")
    await moderator.send("Ana will be back shortly")
    entries = await audit(api, c.mod_lee, c.group_a)
    assert any(e["action"] == "kick" and e["target_user"]["id"] == c.pat_ana.id for e in entries)

    # The console's audit log shows what was done, by whom, to whom and why.
    await moderator.open_console()
    rows = moderator.region("Audit log").get_by_role("row")
    kick = rows.filter(has_text="Stepping out for a call with staff")
    await expect(kick).to_have_count(1)
    await expect(kick).to_contain_text("Ana")
    await expect(kick).to_contain_text("Lee")
    await expect(kick).to_contain_text(re.compile("kick|removed", re.IGNORECASE))


async def test_room_settings_from_the_console_lock_the_room_for_patients(
    browse: TabFactory, api: Api, community: Community
) -> None:
    c = community
    patient, console = await ana_in_group_a_and_lee_at_the_console(browse, c)
    settings = console.region("Room settings")
    await settings.get_by_role("combobox", name="Room").select_option(label="Group A")
    await settings.get_by_role("checkbox", name="Locked").check()
    await settings.get_by_role("spinbutton", name="Slow mode (seconds)").fill("30")
    await settings.get_by_role("button", name="Save room settings").click()

    async def saved() -> bool:
        reply = await api.get("/api/rooms", c.mod_lee.token)
        [room] = [r for r in reply.body["rooms"] if r["id"] == c.group_a]
        return bool(room["locked"] and room["slow_mode_s"] == 30)

    await eventually(saved, "the room settings to be saved")
    # The patient's open room learns it live and says so calmly; the box to write in stays.
    paused = patient.page.get_by_role("status").filter(has_text="A moderator has paused this room")
    await expect(paused).to_be_visible()
    await expect(paused).to_contain_text(STILL_WRITE)
    await expect(patient.page.get_by_text(re.compile("slow mode", re.I)).first).to_be_visible()
    await expect(patient.composer).to_be_enabled()
    # An ordinary post is refused, visibly; crisis language gets through to staff.
    await patient.send("is anyone there?")
    await expect(patient.message("is anyone there?")).to_contain_text("Not sent")
    await patient.send(CRISIS_WHILE_LOCKED)
    support = patient.page.get_by_role("dialog", name="Support is available right now")
    await expect(support).to_contain_text("988")
    await support.get_by_role("button", name="Close").click()
    await expect(patient.message(CRISIS_WHILE_LOCKED)).not_to_contain_text(
        re.compile("Sending|Not sent")
    )
    # The room was empty when it opened; it is not any more.
    await expect(patient.log).not_to_contain_text("No messages yet")
    [alert] = await eventually(lambda: open_alerts(api, c.mod_lee), "a crisis alert")
    assert alert["kind"] == "crisis" and alert["excerpt"] == CRISIS_WHILE_LOCKED, alert

    await settings.get_by_role("checkbox", name="Locked").uncheck()
    await settings.get_by_role("spinbutton", name="Slow mode (seconds)").fill("0")
    await settings.get_by_role("button", name="Save room settings").click()
    await expect(patient.page.get_by_text(re.compile("slow mode", re.I))).to_have_count(0)
    await expect(paused).to_have_count(0)
    await patient.send("back open")
    await expect(patient.message("back open")).not_to_contain_text(re.compile("Sending|Not sent"))
    assert [m["body"] for m in await history(api, c.mod_lee, c.group_a)] == [
        CRISIS_WHILE_LOCKED,
        "back open",
    ]


async def test_a_banned_patient_cannot_come_back_into_the_room(
    browse: TabFactory, api: Api, community: Community
) -> None:
    c = community
    patient, moderator = await ana_and_lee_in_group_a(browse, c)

    dialog = await moderator.moderate("Ana")
    await dialog.get_by_label("Minutes").fill("60")
    await dialog.get_by_label("Reason").fill("Repeated harassment after warnings")
    await dialog.get_by_role("button", name="Ban").click()
    await expect(dialog).to_be_hidden()
    await expect(patient.log).to_be_hidden()
    await expect(patient.alert(re.compile("banned", re.IGNORECASE)).first).to_be_visible()

    # Going back by address shows why, not the room, in one alert (the banner goes).
    await patient.page.goto(f"/#/rooms/{c.group_a}")
    await expect(patient.alert("You are banned from this room")).to_be_visible()
    await expect(patient.page.get_by_role("alert")).to_have_count(1)
    await expect(patient.log.get_by_role("article")).to_have_count(0)
    await expect(patient.composer).to_have_count(0)
    await moderator.send("Everyone else: we're continuing.")
    await expect(patient.page.get_by_text("we're continuing")).to_have_count(0)
    entries = await audit(api, c.mod_lee, c.group_a)
    assert any(e["action"] == "ban" and e["target_user"]["id"] == c.pat_ana.id for e in entries)


async def test_a_crisis_message_is_never_held_behind_one_that_slow_mode_holds(
    browse: TabFactory, api: Api, community: Community
) -> None:
    """Slow mode at its longest: the message held back waits on its own, and crisis language
    written after it reaches the server, the room and staff at once."""
    c = community
    reply = await api.call(
        "PATCH", f"/api/rooms/{c.group_a}", token=c.mod_lee.token, json={"slow_mode_s": 3600}
    )
    assert reply.status == 200, reply.body
    patient, moderator = await ana_and_lee_in_group_a(browse, c)

    await patient.send("first message of the hour")
    await expect(moderator.message("first message of the hour")).to_have_count(1)
    await patient.send("a second one, too soon")
    await expect(patient.message("a second one, too soon")).to_contain_text("Waiting to send")

    await patient.send(CRISIS)
    support = patient.page.get_by_role("dialog", name="Support is available right now")
    await expect(support).to_contain_text("988")
    await expect(moderator.message(CRISIS)).to_have_count(1)
    await support.get_by_role("button", name="Close").click()
    await expect(patient.message(CRISIS)).not_to_contain_text(
        re.compile("Sending|Waiting|Not sent")
    )
    [alert] = await eventually(lambda: open_alerts(api, c.mod_lee), "a crisis alert")
    assert alert["excerpt"] == CRISIS, alert
    # The one slow mode holds is still waiting, kept, not lost, not sent out of turn.
    await expect(patient.message("a second one, too soon")).to_contain_text("Waiting to send")
    assert [m["body"] for m in await history(api, c.mod_lee, c.group_a)] == [
        "first message of the hour",
        CRISIS,
    ]


async def test_staff_open_a_private_conversation_from_a_crisis_alert(
    browse: TabFactory, api: Api, community: Community
) -> None:
    """From the alert, Lee talks with Ana where only she and staff can read it; Ana is told
    someone is there and goes to it; Avi, in her group, never sees it."""
    c = community
    patient, console = await ana_in_group_a_and_lee_at_the_console(browse, c)
    await patient.send(CRISIS)
    support = patient.page.get_by_role("dialog", name="Support is available right now")
    await support.get_by_role("button", name="Close").click()
    alerts = console.region("Alerts")
    await expect(alerts).to_contain_text(CRISIS)

    await alerts.get_by_role("button", name="Talk privately").click()
    await console.in_room("Private support: Ana")
    await console.send("Ana, it's Lee. I'm here. Are you safe right now?")

    told = patient.alert("has opened a private conversation with you")
    await expect(told).to_contain_text("Lee")
    await told.get_by_role("link", name="Go to the private conversation").click()
    await patient.in_room("Private support: Ana")
    topic = patient.page.get_by_text("A private conversation: only you and staff")
    await expect(topic).to_be_visible()
    await expect(patient.message("I'm here. Are you safe right now?")).to_have_count(1)
    await patient.send("I'm at home with my sister.")
    await expect(console.message("I'm at home with my sister.")).to_have_count(1)

    # The console shows the alert's conversation, and goes back to it.
    await console.open_console()
    await expect(alerts.get_by_role("link", name="Open private conversation")).to_be_visible()
    await expect(alerts.get_by_role("button", name="Talk privately")).to_have_count(0)

    # Nobody else in the group has it, in the list or by its address.
    avi = await browse()
    await avi.sign_in(c.pat_avi)
    await expect(avi.room_item("Group A")).to_have_count(1)
    await expect(avi.room_item("Private support: Ana")).to_have_count(0)
    [alert] = await open_alerts(api, c.mod_lee)
    await avi.page.goto(f"/#/rooms/{alert['support_room_id']}")
    await expect(avi.page.get_by_role("alert").first).to_be_visible()
    await expect(avi.page.get_by_text("I'm at home with my sister.")).to_have_count(0)
