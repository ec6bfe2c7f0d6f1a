"""A report and its alert are one item in the moderators' queue: whichever of the two is
handled, the other is closed with it (docs/moderation.md)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import PeerFactory
from tests.support import Api, Community, joined, send


async def reported(api: Api, c: Community, peer: PeerFactory) -> tuple[int, int]:
    """A message of Avi's that Ana reports: the report's id and its alert's id."""
    avi = await peer(c.pat_avi.token)
    await joined(avi, c.group_a)
    message = await send(avi, c.group_a, "you are all pathetic")
    reply = await api.post(
        f"/api/messages/{message['id']}/reports", {"reason": "rude"}, c.pat_ana.token
    )
    assert reply.status == 201, reply.body
    report_id = reply.body["report"]["id"]
    alerts = await api.get("/api/alerts?status=open", token=c.mod_lee.token)
    [alert] = [a for a in alerts.body["alerts"] if a["report_id"] == report_id]
    return report_id, alert["id"]


async def report_of(api: Api, c: Community, report_id: int) -> dict[str, Any]:
    reply = await api.get("/api/reports?status=all", token=c.mod_lee.token)
    [report] = [r for r in reply.body["reports"] if r["id"] == report_id]
    return dict(report)


@pytest.mark.parametrize(
    ("outcome", "resolution"),
    [("not_a_crisis", "dismissed"), ("reached_out", "actioned"), (None, "actioned")],
)
async def test_acknowledging_a_reports_alert_resolves_the_report(
    api: Api, community: Community, peer: PeerFactory, outcome: str | None, resolution: str
) -> None:
    c = community
    report_id, alert_id = await reported(api, c, peer)
    body = {"note": "spoke with Avi"} | ({"outcome": outcome} if outcome else {})
    acked = await api.post(f"/api/alerts/{alert_id}/ack", body, c.mod_lee.token)
    assert acked.status == 200, acked.body
    report = await report_of(api, c, report_id)
    assert report["status"] == resolution and report["note"] == "spoke with Avi", report
    again = await api.post(
        f"/api/reports/{report_id}/resolve", {"resolution": "actioned"}, c.mod_lee.token
    )
    assert again.status == 409 and again.error_code == "conflict", again.body


async def test_resolving_a_report_acknowledges_its_alert(
    api: Api, community: Community, peer: PeerFactory
) -> None:
    c = community
    report_id, alert_id = await reported(api, c, peer)
    resolved = await api.post(
        f"/api/reports/{report_id}/resolve", {"resolution": "dismissed"}, c.mod_lee.token
    )
    assert resolved.status == 200, resolved.body
    open_alerts = await api.get("/api/alerts?status=open", token=c.mod_lee.token)
    assert alert_id not in [a["id"] for a in open_alerts.body["alerts"]]
    again = await api.post(f"/api/alerts/{alert_id}/ack", {}, c.mod_lee.token)
    assert again.status == 409 and again.error_code == "conflict", again.body
