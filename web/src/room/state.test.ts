// The room reducer, action by action: what each one changes, and what it must leave alone.
import { describe, expect, it } from "vitest";
import type { Outgoing } from "../outbox";
import type { Message, PublicUser, Room } from "../types";
import {
  OFFLINE_NOTE,
  TYPING_SHOW_MS,
  WAITING_NOTE,
  initialRoomState,
  messageToMarkRead,
  reduce,
  type RoomAction,
  type RoomInit,
  type RoomState,
} from "./state";
import { ROOM_ID, messageBy } from "./test-builders";

const NOW = Date.parse("2026-03-01T12:00:00Z");
const ana: PublicUser = { id: 1, display_name: "Ana", role: "patient" };
const bo: PublicUser = { id: 2, display_name: "Bo", role: "patient" };
const cy: PublicUser = { id: 3, display_name: "Cy", role: "moderator" };
const ME = ana;

function room(extra: Partial<Room> = {}): Room {
  return {
    id: ROOM_ID,
    name: "Evening group",
    kind: "group",
    audience: "cohort",
    cohort_id: 1,
    topic: null,
    locked: false,
    slow_mode_s: 0,
    online_count: 0,
    ...extra,
  };
}

function message(id: number, extra: Partial<Message> = {}): Message {
  return messageBy(bo, id, extra);
}

function outgoing(clientId: string, extra: Partial<Outgoing> = {}): Outgoing {
  return { client_id: clientId, room_id: ROOM_ID, body: `draft ${clientId}`, created_at: "2026-03-01T11:59:00Z", state: "sending", ...extra };
}

function start(init: Partial<RoomInit> = {}): RoomState {
  return initialRoomState({ roomId: ROOM_ID, meId: ME.id, room: null, reactionChoices: ["👍", "❤️"], now: NOW, ...init });
}

function run(state: RoomState, ...actions: RoomAction[]): RoomState {
  return actions.reduce(reduce, state);
}

/** A room joined for the first time, holding `messages`. */
function joined(messages: Message[] = [], hasMore = false, init: Partial<RoomInit> = {}): RoomState {
  return run(
    start(init),
    { type: "join_started" },
    { type: "join_page_received", reply: { room: room(), online: [ana, bo], messages, has_more: hasMore }, since: null },
    { type: "join_completed" },
  );
}

const ids = (state: RoomState): number[] => state.messages.map((m) => m.id);

describe("the initial state", () => {
  it("says it is loading when nothing is remembered", () => {
    const state = start();
    expect(state.top).toEqual({ kind: "loading" });
    expect(state.status).toBe("disconnected");
    expect(state.busy).toBe(true);
    expect(state.hasMore).toBe(true);
  });

  it("offers older messages when remembered messages are shown before joining", () => {
    const state = start({ messages: [message(4), message(5)], hasMore: true });
    expect(state.top).toEqual({ kind: "older", loading: false });
    expect(ids(state)).toEqual([4, 5]);
  });

  it("keeps a mute only while its end is in the future", () => {
    expect(start({ mutedUntil: new Date(NOW + 60_000).toISOString() }).mutedUntil).not.toBeNull();
    expect(start({ mutedUntil: new Date(NOW - 1).toISOString() }).mutedUntil).toBeNull();
  });

  it("copies the outbox entries it starts with", () => {
    const item = outgoing("a");
    const state = start({ outbox: [item] });
    item.state = "failed";
    expect(state.outbox[0].state).toBe("sending");
  });
});

describe("joining", () => {
  it("marks a join in flight once", () => {
    const catchingUp = reduce(start(), { type: "join_started" });
    expect(catchingUp.status).toBe("catching_up");
    expect(reduce(catchingUp, { type: "join_started" })).toBe(catchingUp);
  });

  it("takes the room, who is here (by name) and the messages from the first join", () => {
    const state = run(start(), { type: "join_started" }, {
      type: "join_page_received",
      reply: { room: room({ name: "Renamed" }), online: [cy, ana, bo], messages: [message(3), message(1)], has_more: true },
      since: null,
    });
    expect(state.room?.name).toBe("Renamed");
    expect(state.room?.online_count).toBe(3);
    expect(state.online.map((u) => u.display_name)).toEqual(["Ana", "Bo", "Cy"]);
    expect(ids(state)).toEqual([1, 3]);
    expect(state.hasMore).toBe(true);
    // Still catching up until the controller says the join is complete.
    expect(state.status).toBe("catching_up");
    expect(state.top).toEqual({ kind: "loading" });
  });

  it("completes: joined, not busy, notes and errors cleared, the top worked out", () => {
    const before = run(start(), { type: "error_shown", text: "old error" }, { type: "note_shown", text: "Connecting…" });
    const state = run(before, { type: "join_started" }, {
      type: "join_page_received",
      reply: { room: room(), online: [], messages: [], has_more: false },
      since: null,
    }, { type: "join_completed" });
    expect(state.status).toBe("joined");
    expect(state.everJoined).toBe(true);
    expect(state.busy).toBe(false);
    expect(state.error).toBeNull();
    expect(state.note).toBeNull();
    expect(state.top).toEqual({ kind: "empty" });
  });

  it("says the start of the room once every message is here", () => {
    expect(joined([message(1)], false).top).toEqual({ kind: "start" });
    expect(joined([message(1)], true).top).toEqual({ kind: "older", loading: false });
  });

  it("merges catch-up pages without duplicates, in id order, and keeps has_more from the first join", () => {
    const state = joined([message(1), message(2), message(3)], true);
    const caughtUp = run(
      state,
      { type: "connection_usable" },
      { type: "join_started" },
      {
        type: "join_page_received",
        reply: { room: room(), online: [ana], messages: [message(5), message(3, { body: "edited" }), message(4)], has_more: true },
        since: 3,
      },
      {
        type: "join_page_received",
        reply: { room: room(), online: [ana], messages: [message(5), message(6)], has_more: false },
        since: 5,
      },
      { type: "join_completed" },
    );
    expect(ids(caughtUp)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(caughtUp.messages[2].body).toBe("edited");
    // A page after `since` says nothing about older messages.
    expect(caughtUp.hasMore).toBe(true);
    expect(caughtUp.status).toBe("joined");
  });

  it("takes a new reaction set from the join ack, keeping only strings", () => {
    const reply = { room: room(), online: [], messages: [], has_more: false, reaction_emojis: ["🌱", 3, "🙂"] as unknown as string[] };
    const state = run(start(), { type: "join_started" }, { type: "join_page_received", reply, since: null });
    expect(state.reactionChoices).toEqual(["🌱", "🙂"]);
  });

  it("keeps the reaction set (the same array) when the ack offers the same one or none", () => {
    const before = start();
    const same = reduce(before, {
      type: "join_page_received",
      reply: { room: room(), online: [], messages: [], has_more: false, reaction_emojis: ["👍", "❤️"] },
      since: null,
    });
    expect(same.reactionChoices).toBe(before.reactionChoices);
    const none = reduce(before, { type: "join_page_received", reply: { room: room(), online: [], messages: [], has_more: false, reaction_emojis: [] }, since: null });
    expect(none.reactionChoices).toBe(before.reactionChoices);
  });

  it("waits, saying so, after a join that got no answer", () => {
    const state = run(start(), { type: "join_started" }, { type: "join_refused", code: "timeout", text: "The server did not answer in time." });
    expect(state.status).toBe("disconnected");
    expect(state.note?.text).toBe(WAITING_NOTE);
    expect(state.error).toBeNull();
    expect(state.composerHidden).toBe(false);
    expect(state.busy).toBe(true);
  });

  it("closes the room after a join it refused", () => {
    const state = run(start(), { type: "join_started" }, { type: "join_refused", code: "forbidden", text: "You cannot enter this room." });
    expect(state.status).toBe("disconnected");
    expect(state.error?.text).toBe("You cannot enter this room.");
    expect(state.top).toEqual({ kind: "closed" });
    expect(state.composerHidden).toBe(true);
    expect(state.busy).toBe(false);
  });

  it("goes back to catching_up only from a new join after the connection came back", () => {
    const state = joined();
    expect(reduce(state, { type: "connection_usable" }).status).toBe("disconnected");
    const catchingUp = reduce(start(), { type: "join_started" });
    // A join in flight stays in flight; its answer decides.
    expect(reduce(catchingUp, { type: "connection_usable" }).status).toBe("catching_up");
  });

  it("a join that ended without an answer (the view closed) is no longer in flight", () => {
    const state = run(start(), { type: "join_started" }, { type: "join_abandoned" });
    expect(state.status).toBe("disconnected");
  });
});

describe("losing the connection", () => {
  it("leaves the room and says so when the browser is offline", () => {
    const state = reduce(joined(), { type: "connection_lost", offline: true });
    expect(state.status).toBe("disconnected");
    expect(state.note?.text).toBe(OFFLINE_NOTE);
  });

  it("says nothing while the browser is online (it reconnects by itself)", () => {
    const state = reduce(joined(), { type: "connection_lost", offline: false });
    expect(state.status).toBe("disconnected");
    expect(state.note).toBeNull();
  });
});

describe("live messages", () => {
  it("appends a new message and inserts a late one in id order", () => {
    const state = run(joined([message(1), message(4)]), { type: "message_received", message: message(6) }, { type: "message_received", message: message(2) });
    expect(ids(state)).toEqual([1, 2, 4, 6]);
  });

  it("replaces a message it already has instead of showing it twice", () => {
    const state = reduce(joined([message(1), message(2)]), { type: "message_received", message: message(2, { body: "again" }) });
    expect(ids(state)).toEqual([1, 2]);
    expect(state.messages[1].body).toBe("again");
  });

  it("ignores a message for another room", () => {
    const state = joined([message(1)]);
    expect(reduce(state, { type: "message_received", message: message(2, { room_id: ROOM_ID + 1 }) })).toBe(state);
  });

  it("changes the top from 'no messages yet' to 'the start of the room' with the first message", () => {
    const state = joined([], false);
    expect(state.top).toEqual({ kind: "empty" });
    expect(reduce(state, { type: "message_received", message: message(1) }).top).toEqual({ kind: "start" });
  });

  it("stops showing its author as typing", () => {
    const typing = reduce(joined(), { type: "typing_seen", event: { room_id: ROOM_ID, user: bo }, now: NOW });
    expect(typing.typists.map((t) => t.name)).toEqual(["Bo"]);
    expect(reduce(typing, { type: "message_received", message: message(1, { author: bo }) }).typists).toEqual([]);
  });
});

describe("the outbox: pending, sent, failed", () => {
  const mine = (id: number, clientId: string): Message => message(id, { author: ME, client_id: clientId, body: `draft ${clientId}` });

  it("shows this room's waiting messages as copies", () => {
    const item = outgoing("a");
    const state = reduce(joined(), { type: "outbox_changed", items: [item, outgoing("b", { room_id: ROOM_ID + 1 })] });
    expect(state.outbox.map((o) => o.client_id)).toEqual(["a"]);
    item.state = "failed";
    expect(state.outbox[0].state).toBe("sending");
  });

  it("pending → sent: the ack replaces the waiting copy with the stored message", () => {
    const pending = reduce(joined([message(1)]), { type: "outbox_changed", items: [outgoing("a"), outgoing("b")] });
    const sent = reduce(pending, { type: "send_acked", message: mine(2, "a"), clientId: "a" });
    expect(sent.outbox.map((o) => o.client_id)).toEqual(["b"]);
    expect(ids(sent)).toEqual([1, 2]);
    expect(sent.messages[1].client_id).toBe("a");
  });

  it("pending → failed: the entry stays, marked failed with its reason, and the refusal is said", () => {
    const pending = reduce(joined(), { type: "outbox_changed", items: [outgoing("a")] });
    const failed = run(
      pending,
      { type: "outbox_changed", items: [outgoing("a", { state: "failed", error: "This room is locked." })] },
      { type: "send_refused", error: { code: "room_locked", message: "locked" }, text: "This room is locked.", now: NOW },
    );
    expect(failed.outbox).toHaveLength(1);
    expect(failed.outbox[0]).toMatchObject({ client_id: "a", state: "failed", error: "This room is locked." });
    expect(failed.error?.text).toBe("This room is locked.");
    expect(failed.messages).toEqual([]);
  });

  it("my message arriving live with a waiting client_id replaces the waiting copy, not adds to it", () => {
    const pending = reduce(joined(), { type: "outbox_changed", items: [outgoing("a")] });
    const state = reduce(pending, { type: "message_received", message: mine(9, "a") });
    expect(state.outbox).toEqual([]);
    expect(ids(state)).toEqual([9]);
    // The same message again (the ack after the live copy) is still one message.
    const acked = reduce(state, { type: "send_acked", message: mine(9, "a"), clientId: "a" });
    expect(ids(acked)).toEqual([9]);
    expect(acked.outbox).toEqual([]);
  });

  it("keeps a failed entry when a message with its client_id arrives (the person decides)", () => {
    const failed = reduce(joined(), { type: "outbox_changed", items: [outgoing("a", { state: "failed", error: "x" })] });
    expect(reduce(failed, { type: "message_received", message: mine(9, "a") }).outbox).toHaveLength(1);
  });

  it("leaves my waiting copy alone when someone else's message carries the same client_id", () => {
    const pending = reduce(joined(), { type: "outbox_changed", items: [outgoing("a")] });
    const state = reduce(pending, { type: "message_received", message: message(9, { author: bo, client_id: "a" }) });
    expect(state.outbox).toHaveLength(1);
  });

  it("drops waiting copies that a catch-up page shows were stored", () => {
    const pending = reduce(joined([message(1)]), { type: "outbox_changed", items: [outgoing("a"), outgoing("b")] });
    const state = reduce(pending, {
      type: "join_page_received",
      reply: { room: room(), online: [], messages: [mine(2, "a")], has_more: false },
      since: 1,
    });
    expect(state.outbox.map((o) => o.client_id)).toEqual(["b"]);
    expect(ids(state)).toEqual([1, 2]);
  });

  it("does not take a sent message for another room", () => {
    const state = joined();
    expect(reduce(state, { type: "send_acked", message: message(3, { room_id: ROOM_ID + 1 }), clientId: "x" })).toBe(state);
  });
});

describe("sends refused", () => {
  const muted = (until: string | null) => ({ code: "muted", message: "muted", until });

  it("a mute with an end is said in the muted alert only", () => {
    const until = new Date(NOW + 600_000).toISOString();
    const state = reduce(joined(), { type: "send_refused", error: muted(until), text: "You are muted.", now: NOW });
    expect(state.mutedUntil).toBe(until);
    expect(state.refusedWhileMuted).toBe(true);
    expect(state.error).toBeNull();
  });

  it("a mute without an end is said in the error alert", () => {
    const state = reduce(joined(), { type: "send_refused", error: muted(null), text: "You are muted until a moderator lifts it.", now: NOW });
    expect(state.mutedUntil).toBeNull();
    expect(state.refusedWhileMuted).toBe(false);
    expect(state.error?.text).toBe("You are muted until a moderator lifts it.");
  });

  it("one of mine getting through (a crisis post) ends 'your message was not sent'", () => {
    const until = new Date(NOW + 600_000).toISOString();
    const refused = run(
      joined(),
      { type: "outbox_changed", items: [outgoing("a", { state: "failed", error: "muted" })] },
      { type: "send_refused", error: muted(until), text: "You are muted.", now: NOW },
    );
    const through = reduce(refused, {
      type: "message_received",
      message: message(5, { author: ME, client_id: "a" }),
    });
    expect(through.refusedWhileMuted).toBe(false);
    expect(through.mutedUntil).toBe(until);
  });

  it("a ban closes the room like a refused join, while it stays joined", () => {
    const state = reduce(joined(), { type: "send_refused", error: { code: "banned", message: "banned" }, text: "You are banned.", now: NOW });
    expect(state.composerHidden).toBe(true);
    expect(state.top).toEqual({ kind: "closed" });
    expect(state.error?.text).toBe("You are banned.");
    expect(state.status).toBe("joined");
  });

  it("rate limiting says how long until the message goes by itself", () => {
    const state = reduce(joined(), {
      type: "send_refused",
      error: { code: "rate_limited", message: "slow", retry_after_s: 2.2 },
      text: "ignored",
      now: NOW,
    });
    expect(state.error?.text).toBe("You are sending messages too quickly. Wait 3 seconds: your message will be sent then.");
  });
});

describe("edits, deletions and reactions", () => {
  it("updates a known message", () => {
    const state = reduce(joined([message(1), message(2)]), {
      type: "message_updated",
      message: message(2, { body: "fixed", edited_at: "2026-03-01T11:30:00Z" }),
    });
    expect(state.messages[1]).toMatchObject({ body: "fixed", edited_at: "2026-03-01T11:30:00Z" });
    expect(ids(state)).toEqual([1, 2]);
  });

  it("ignores edits, deletions and reactions for ids it never had", () => {
    const state = joined([message(1)]);
    const after = run(
      state,
      { type: "message_updated", message: message(99) },
      { type: "message_deleted", event: { id: 99, room_id: ROOM_ID } },
      { type: "reactions_changed", event: { message_id: 99, room_id: ROOM_ID, reactions: { "👍": 1 } } },
      { type: "edit_started", messageId: 99 },
    );
    expect(after).toBe(state);
  });

  it("ignores them for another room even when the id is known", () => {
    const state = joined([message(1)]);
    const other = ROOM_ID + 1;
    const after = run(
      state,
      { type: "message_updated", message: message(1, { room_id: other, body: "x" }) },
      { type: "message_deleted", event: { id: 1, room_id: other } },
      { type: "reactions_changed", event: { message_id: 1, room_id: other, reactions: { "👍": 1 } } },
    );
    expect(after).toBe(state);
  });

  it("a deleted message keeps its place and loses its text and reactions", () => {
    const state = reduce(joined([message(1, { reactions: { "👍": 2 } }), message(2)]), { type: "message_deleted", event: { id: 1, room_id: ROOM_ID } });
    expect(ids(state)).toEqual([1, 2]);
    expect(state.messages[0]).toMatchObject({ deleted: true, body: "", reactions: {} });
  });

  it("new reaction counts replace the old ones, and leave other messages as they were", () => {
    const before = joined([message(1, { reactions: { "👍": 1 } }), message(2)]);
    const state = reduce(before, { type: "reactions_changed", event: { message_id: 1, room_id: ROOM_ID, reactions: { "❤️": 3 } } });
    expect(state.messages[0].reactions).toEqual({ "❤️": 3 });
    expect(state.messages[1]).toBe(before.messages[1]);
  });

  it("tracks which messages have an editor open", () => {
    const opened = reduce(joined([message(1, { author: ME })]), { type: "edit_started", messageId: 1 });
    expect(opened.editing).toEqual([1]);
    expect(reduce(opened, { type: "edit_started", messageId: 1 })).toBe(opened);
    expect(reduce(opened, { type: "edit_finished", messageId: 1 }).editing).toEqual([]);
  });
});

describe("older messages", () => {
  it("says it is loading, then puts the older page first", () => {
    const state = joined([message(10), message(11)], true);
    const loading = reduce(state, { type: "older_requested" });
    expect(loading.loadingOlder).toBe(true);
    expect(loading.top).toEqual({ kind: "older", loading: true });
    expect(reduce(loading, { type: "older_requested" })).toBe(loading);
    const loaded = reduce(loading, { type: "older_received", reply: { messages: [message(8), message(9), message(10)], has_more: false } });
    expect(ids(loaded)).toEqual([8, 9, 10, 11]);
    expect(loaded.hasMore).toBe(false);
    expect(loaded.loadingOlder).toBe(false);
    expect(loaded.top).toEqual({ kind: "start" });
  });

  it("a failed page leaves the button to try again and says why", () => {
    const state = run(joined([message(10)], true), { type: "older_requested" }, { type: "older_failed", text: "No answer." });
    expect(state.loadingOlder).toBe(false);
    expect(state.top).toEqual({ kind: "older", loading: false });
    expect(state.error?.text).toBe("No answer.");
    expect(ids(state)).toEqual([10]);
  });
});

describe("typing and presence", () => {
  it("shows others typing, in the order they started, for a while after their last `typing`", () => {
    let state = run(
      joined(),
      { type: "typing_seen", event: { room_id: ROOM_ID, user: bo }, now: NOW },
      { type: "typing_seen", event: { room_id: ROOM_ID, user: cy }, now: NOW + 1_000 },
      { type: "typing_seen", event: { room_id: ROOM_ID, user: bo }, now: NOW + 2_000 },
    );
    expect(state.typists.map((t) => t.name)).toEqual(["Bo", "Cy"]);
    expect(state.typists[0].until).toBe(NOW + 2_000 + TYPING_SHOW_MS);
    state = reduce(state, { type: "time_passed", now: NOW + 1_000 + TYPING_SHOW_MS });
    expect(state.typists.map((t) => t.name)).toEqual(["Bo"]);
    state = reduce(state, { type: "time_passed", now: NOW + 2_000 + TYPING_SHOW_MS });
    expect(state.typists).toEqual([]);
  });

  it("ignores my own typing and typing in other rooms", () => {
    const state = joined();
    expect(reduce(state, { type: "typing_seen", event: { room_id: ROOM_ID, user: ME }, now: NOW })).toBe(state);
    expect(reduce(state, { type: "typing_seen", event: { room_id: ROOM_ID + 1, user: bo }, now: NOW })).toBe(state);
  });

  it("adds people who come online in name order, once, and counts them", () => {
    const state = run(
      joined(),
      { type: "presence_changed", event: { room_id: ROOM_ID, user: cy, status: "online" } },
      { type: "presence_changed", event: { room_id: ROOM_ID, user: cy, status: "online" } },
    );
    expect(state.online.map((u) => u.display_name)).toEqual(["Ana", "Bo", "Cy"]);
    expect(state.room?.online_count).toBe(3);
  });

  it("someone going offline leaves the list and stops typing", () => {
    const state = run(
      joined(),
      { type: "typing_seen", event: { room_id: ROOM_ID, user: bo }, now: NOW },
      { type: "presence_changed", event: { room_id: ROOM_ID, user: bo, status: "offline" } },
    );
    expect(state.online.map((u) => u.display_name)).toEqual(["Ana"]);
    expect(state.typists).toEqual([]);
    expect(state.room?.online_count).toBe(1);
  });
});

describe("the room, mutes and read markers", () => {
  it("takes updated settings (lock, slow mode) for this room only", () => {
    const state = reduce(joined(), { type: "room_updated", room: room({ locked: true, slow_mode_s: 30 }) });
    expect(state.room).toMatchObject({ locked: true, slow_mode_s: 30, name: "Evening group" });
    expect(reduce(state, { type: "room_updated", room: room({ id: ROOM_ID + 1, locked: false }) })).toBe(state);
  });

  it("a mute lasts until its end or an unmute, and the unmute forgets the refusal", () => {
    const until = new Date(NOW + 60_000).toISOString();
    const mutedState = run(
      joined(),
      { type: "mute_changed", until, now: NOW },
      { type: "send_refused", error: { code: "muted", message: "m", until }, text: "muted", now: NOW },
    );
    expect(mutedState.mutedUntil).toBe(until);
    expect(reduce(mutedState, { type: "time_passed", now: NOW + 59_999 }).mutedUntil).toBe(until);
    const ended = reduce(mutedState, { type: "time_passed", now: NOW + 60_000 });
    expect(ended.mutedUntil).toBeNull();
    expect(ended.refusedWhileMuted).toBe(false);
    const lifted = reduce(mutedState, { type: "mute_changed", until: null, now: NOW });
    expect(lifted.mutedUntil).toBeNull();
    expect(lifted.refusedWhileMuted).toBe(false);
  });

  it("marking read clears the room's unread count", () => {
    const state = reduce(joined(), { type: "room_updated", room: room({ unread_count: 4 }) });
    expect(reduce(state, { type: "read_marked" }).room?.unread_count).toBe(0);
  });

  it("marks only a newest message that is newer than the last one marked", () => {
    const state = joined([message(3), message(8)]);
    expect(messageToMarkRead(state, undefined)).toBe(8);
    expect(messageToMarkRead(state, 5)).toBe(8);
    expect(messageToMarkRead(state, 8)).toBeNull();
    expect(messageToMarkRead(joined(), undefined)).toBeNull();
  });
});

describe("notes and errors", () => {
  it("says the same words again as a new note, so they are announced again", () => {
    const once = reduce(joined(), { type: "error_shown", text: "Too long." });
    const twice = reduce(once, { type: "error_shown", text: "Too long." });
    expect(twice.error).toEqual(once.error);
    expect(twice.error).not.toBe(once.error);
    expect(reduce(twice, { type: "error_cleared" }).error).toBeNull();
  });
});
