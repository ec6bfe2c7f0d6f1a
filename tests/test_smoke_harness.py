from tests.conftest import PeerFactory
from tests.support import Community, new_client_id


async def test_a_patient_sends_and_a_moderator_receives(
    community: Community, peer: PeerFactory
) -> None:
    ana = await peer(community.pat_ana.token)
    lee = await peer(community.mod_lee.token)
    assert (await ana.call("join", {"room_id": community.group_a}))["ok"]
    assert (await lee.call("join", {"room_id": community.group_a}))["ok"]
    ack = await ana.call(
        "send", {"room_id": community.group_a, "body": "hello", "client_id": new_client_id()}
    )
    assert ack["ok"], ack
    got = await lee.wait_for("message", lambda m: m["id"] == ack["message"]["id"])
    assert got["body"] == "hello"
    assert got["author"] == {"id": community.pat_ana.id, "display_name": "Ana", "role": "patient"}
