"""A disconnect costs the rooms its socket is in, not the process's socket count
(server/realtime/delivery.py, `IndexedRoomsManager`): python-socketio's own manager asks every
room of the namespace (one per socket, its sid room) whether the socket is in it, so a mass
disconnect was quadratic. The managers keep the rooms of each socket beside the library's
rooms; these tests check that the two agree, on a real server and against the library's own
manager, and that a disconnect asks only the socket's own rooms."""

from __future__ import annotations

import random
from collections.abc import Hashable, Iterator
from typing import TYPE_CHECKING

import socketio
from bidict import bidict

from server.app import CORE
from server.realtime.delivery import IndexedRoomsManager, LocalManager, PendingSids
from server.realtime.hub import room_channel
from tests.conftest import PeerFactory
from tests.support import (
    Community,
    Peer,
    RunningServer,
    barrier,
    close,
    joined,
    message_ids,
    ok,
    send,
    with_id,
)
from tests.test_socketio_internals import as_lists

if TYPE_CHECKING:
    from _collections_abc import dict_items, dict_keys, dict_values

NAMESPACE = "/"


def rooms_by_scanning(manager: IndexedRoomsManager, namespace: str) -> dict[str, set[Hashable]]:
    """Each socket's rooms (None, its connection, among them) the library's way: by asking
    every room."""
    found: dict[str, set[Hashable]] = {}
    for room, members in manager.rooms.get(namespace, {}).items():
        for sid in members:
            found.setdefault(sid, set()).add(room)
    return found


def rooms_indexed(manager: IndexedRoomsManager, namespace: str) -> dict[str, set[Hashable]]:
    return {sid: set(rooms) for sid, rooms in manager._rooms_of.get(namespace, {}).items()}


def assert_index_agrees(manager: IndexedRoomsManager) -> None:
    """The index holds exactly the library's rooms, in every namespace, and no empty entry."""
    assert set(manager._rooms_of) == set(manager.rooms)
    for namespace in manager.rooms:
        assert rooms_indexed(manager, namespace) == rooms_by_scanning(manager, namespace)
        for sid in manager._rooms_of[namespace]:
            assert set(manager.get_rooms(sid, namespace)) == (
                rooms_by_scanning(manager, namespace)[sid] - {None}
            )
    for rooms in manager.rooms.values():
        assert all(len(members) > 0 for members in rooms.values())


def sid_of(peer: Peer) -> str:
    sid = peer.client.get_sid(NAMESPACE)
    assert sid is not None
    return str(sid)


async def test_after_sockets_leave_the_rooms_hold_exactly_the_connected_ones(
    server: RunningServer, community: Community, peer: PeerFactory
) -> None:
    manager = server.app[CORE].sio.manager
    assert isinstance(manager, IndexedRoomsManager)
    ana = await peer(community.pat_ana.token)
    ana_tab = await peer(community.pat_ana.token)
    avi = await peer(community.pat_avi.token)
    bo = await peer(community.pat_bo.token)
    dee = await peer(community.alum_dee.token)
    for each in (ana, ana_tab, avi):
        await joined(each, community.group_a)
    for each in (ana, ana_tab, avi, bo, dee):
        await joined(each, community.commons)
    everyone = [ana, ana_tab, avi, bo, dee]
    assert set(manager.rooms[NAMESPACE][None]) == {sid_of(each) for each in everyone}
    assert_index_agrees(manager)

    # Ana's other tab leaves the commons; one of Ana's two tabs, and Bo, go away (Ana's user
    # room keeps her other tab).
    ok(await ana_tab.call("leave", {"room_id": community.commons}))
    assert room_channel(community.commons) not in manager.get_rooms(sid_of(ana_tab), NAMESPACE)
    for leaving in (ana, bo):
        await close(server, leaving)
    staying = [ana_tab, avi, dee]
    connected = {sid_of(each) for each in staying}

    assert_index_agrees(manager)
    assert set(manager.rooms[NAMESPACE][None]) == connected
    assert set(manager._rooms_of[NAMESPACE]) == connected
    in_any_room = {sid for members in manager.rooms[NAMESPACE].values() for sid in members}
    assert in_any_room == connected
    assert set(manager.rooms[NAMESPACE][f"user:{community.pat_ana.id}"]) == {sid_of(ana_tab)}
    for each in staying:
        assert sid_of(each) in manager.get_rooms(sid_of(each), NAMESPACE)
    # Dee is in her own room, her user's and the room she joined (and the channels of the
    # audiences she belongs to).
    dee_in = {sid_of(dee), f"user:{community.alum_dee.id}", room_channel(community.commons)}
    assert dee_in <= set(manager.get_rooms(sid_of(dee), NAMESPACE))
    assert manager.callbacks.keys() <= connected
    assert NAMESPACE not in manager.pending_disconnect

    # A message to each room reaches exactly the sockets still in it.
    in_group = {
        sid for sid, _ in manager.get_participants(NAMESPACE, room_channel(community.group_a))
    }
    assert in_group == {sid_of(ana_tab), sid_of(avi)}
    to_group = await send(avi, community.group_a, "after the others left")
    to_commons = await send(dee, community.commons, "to whoever is here")
    for each in (avi, dee):
        await each.wait_for("message", with_id(to_commons["id"]))
    for each in (ana_tab, avi):
        await each.wait_for("message", with_id(to_group["id"]))
    await barrier(*staying)
    assert message_ids(ana_tab) == [to_group["id"]]
    assert sorted(message_ids(avi)) == sorted([to_group["id"], to_commons["id"]])
    assert message_ids(dee) == [to_commons["id"]]

    for leaving in staying:
        await close(server, leaving)
    assert manager.rooms.get(NAMESPACE, {}) == {}
    assert manager._rooms_of == {}


# Sockets in the process: python-socketio's own disconnect asks this many rooms for each one.
SOCKETS = 3_000
# Membership checks of room bidicts a disconnect may make: a few per room the socket is in
# (here three: its own, the shared one and its user's), whatever the number of sockets.
CHECKS_PER_DISCONNECT = 8


class CheckedRoom(bidict[str, str]):
    """A room's members that counts the times it is asked whether a sid is in it."""

    checks = 0

    def __contains__(self, key: object) -> bool:
        CheckedRoom.checks += 1
        return super().__contains__(key)


class WatchedRooms(dict[Hashable, bidict[str, str]]):
    """A namespace's rooms that record every pass over them (iterating, copying)."""

    def __init__(self, rooms: dict[Hashable, bidict[str, str]]) -> None:
        super().__init__(rooms)
        self.passes: list[str] = []

    def __iter__(self) -> Iterator[Hashable]:
        self.passes.append("iter")
        return super().__iter__()

    def keys(self) -> dict_keys[Hashable, bidict[str, str]]:
        self.passes.append("keys")
        return super().keys()

    def values(self) -> dict_values[Hashable, bidict[str, str]]:
        self.passes.append("values")
        return super().values()

    def items(self) -> dict_items[Hashable, bidict[str, str]]:
        self.passes.append("items")
        return super().items()

    def copy(self) -> dict[Hashable, bidict[str, str]]:
        self.passes.append("copy")
        return dict(super().items())


def server_with(manager: socketio.AsyncManager) -> socketio.AsyncServer:
    """A server for the manager to generate sids with (never started)."""
    return socketio.AsyncServer(async_mode="aiohttp", client_manager=manager)


async def test_each_of_thousands_of_disconnects_asks_only_its_own_rooms() -> None:
    manager = LocalManager()
    server_with(manager)
    sids = []
    for index in range(SOCKETS):
        sid = await manager.connect(f"eio-{index}", NAMESPACE)
        await manager.enter_room(sid, NAMESPACE, "room:1")
        await manager.enter_room(sid, NAMESPACE, f"user:{index % 100}")
        sids.append(sid)
    assert len(manager.rooms[NAMESPACE]) == SOCKETS + 1 + 100 + 1
    watched = WatchedRooms(
        {room: CheckedRoom(members) for room, members in manager.rooms[NAMESPACE].items()}
    )
    manager.rooms[NAMESPACE] = watched
    watched.passes.clear()

    assert set(manager.get_rooms(sids[7], NAMESPACE)) == {sids[7], "room:1", "user:7"}
    assert watched.passes == []

    checks = []
    for sid in sids:
        CheckedRoom.checks = 0
        manager.pre_disconnect(sid, NAMESPACE)
        await manager.disconnect(sid, NAMESPACE)
        checks.append(CheckedRoom.checks)
        assert watched.passes == [], "a disconnect went through every room of the namespace"
    assert max(checks) <= CHECKS_PER_DISCONNECT, max(checks)
    # A disconnect costs the same with 3,000 sockets left as with 100 (the last hundred empty
    # the user rooms, and then the shared room, and cost less).
    assert set(checks[: SOCKETS - 100]) == {checks[0]}

    assert manager.rooms == {}
    assert manager._rooms_of == {}
    assert manager.pending_disconnect == {}
    assert manager.pending_connect == {}


async def test_the_index_follows_the_librarys_rooms_through_any_mix_of_changes() -> None:
    """Random connects, joins, leaves, room closes, acks and disconnects, on the indexed
    manager and on python-socketio's own: both end every step with the same rooms, pending
    lists and callbacks, the same rooms for each socket, and the same answer to whether each
    is connected or still connecting."""
    ours = LocalManager()
    theirs = socketio.AsyncManager()
    for each in (ours, theirs):
        server = server_with(each)
        # The same sids for both (the engine.io server makes up random ones).
        made = iter(range(10**6))
        server.eio.generate_id = lambda made=made: f"sid-{next(made)}"
    rng = random.Random(20240611)
    shared = ["room:1", "room:2", "user:1", "staff"]

    async def step(manager: socketio.AsyncManager, choice: int, pick: random.Random) -> None:
        namespace = pick.choice(["/", "/admin"])
        connected = sorted(manager.rooms.get(namespace, {}).get(None, {}))
        if choice == 0 or not connected:
            eio_sid = f"eio-{pick.randrange(10**9)}"
            if pick.random() < 0.8:
                await manager.connect(eio_sid, namespace)
            else:
                await manager.pre_connect(eio_sid, namespace)
            return
        sid = pick.choice(connected)
        if choice == 1:
            await manager.enter_room(sid, namespace, pick.choice(shared))
        elif choice == 2:
            # Any room but its connection, found by scanning (not by the index under test).
            rooms = manager.rooms[namespace]
            inside = sorted(room for room in rooms if room is not None and sid in rooms[room])
            if inside:
                await manager.leave_room(sid, namespace, pick.choice(inside))
        elif choice == 3:
            await manager.close_room(pick.choice(shared), namespace)
        elif choice == 4:
            manager._generate_ack_id(sid, print)
        else:
            if pick.random() < 0.5:
                manager.pre_disconnect(sid, namespace)
            await manager.disconnect(sid, namespace)

    for _ in range(3_000):
        choice = rng.choice([0, 0, 1, 1, 1, 2, 3, 4, 5, 5, 5])
        seed = rng.randrange(10**9)
        for manager in (ours, theirs):
            await step(manager, choice, random.Random(seed))
        assert ours.rooms == theirs.rooms
        assert as_lists(ours.pending_connect) == theirs.pending_connect
        assert as_lists(ours.pending_disconnect) == theirs.pending_disconnect
        assert ours.callbacks.keys() == theirs.callbacks.keys()
        for namespace, rooms in theirs.rooms.items():
            for sid in rooms.get(None, {}):
                assert set(ours.get_rooms(sid, namespace)) == set(theirs.get_rooms(sid, namespace))
                for state in ("is_connected", "is_pre_connected"):
                    asked = (getattr(m, state)(sid, namespace) for m in (ours, theirs))
                    assert len(set(asked)) == 1, (state, sid)
        assert_index_agrees(ours)


async def test_sockets_still_connecting_are_found_by_sid_not_by_scanning() -> None:
    """Thousands of sockets wait in their connect handler in a reconnect storm, and each
    event asks whether its socket is among them: ours keeps them by sid, in order."""
    manager = LocalManager()
    server_with(manager)
    sids = [await manager.pre_connect(f"eio-{n}", "/") for n in range(3)]
    waiting = manager.pending_connect["/"]
    assert isinstance(waiting, PendingSids)
    assert list(waiting) == sids
    assert [manager.is_connected(sid, "/") for sid in sids] == [False] * 3

    await manager.connect(sids[1], "/")
    assert list(manager.pending_connect["/"]) == [sids[0], sids[2]]
    assert [manager.is_connected(sid, "/") for sid in sids] == [False, True, False]
    manager.pre_disconnect(sids[1], "/")
    assert isinstance(manager.pending_disconnect["/"], PendingSids)
    assert not manager.is_connected(sids[1], "/")
    await manager.disconnect(sids[1], "/")
    assert "/" not in manager.pending_disconnect
