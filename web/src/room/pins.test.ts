// Pinned messages, the pure parts: the list kept in step with what the room hears, how a pin
// reads on one line, and going to a pin outside what the person may read.
import { describe, expect, it } from "vitest";
import type { PublicUser } from "../types";
import { isPinned, pinLine, pinsAfterDeletion, pinsAfterEdit, type Pin } from "./pins";
import { jumpStep } from "./replies";
import { initialRoomState, reduce, type RoomState } from "./state";
import { ROOM_ID, messageBy } from "./test-builders";

const ana: PublicUser = { id: 1, display_name: "Ana", role: "patient" };
const lee: PublicUser = { id: 3, display_name: "Lee", role: "moderator" };

function pin(messageId: number, extra: Partial<Pin> = {}): Pin {
  return {
    message_id: messageId,
    room_id: ROOM_ID,
    author: ana,
    body: `message ${messageId}`,
    created_at: "2026-03-01T11:00:00Z",
    pinned_by: lee,
    pinned_at: "2026-03-01T11:05:00Z",
    ...extra,
  };
}

function roomWith(pins: Pin[]): RoomState {
  const state = initialRoomState({
    roomId: ROOM_ID,
    meId: ana.id,
    room: null,
    messages: [messageBy(ana, 5), messageBy(ana, 6)],
    reactionChoices: [],
    now: 0,
  });
  return reduce(state, { type: "pins_changed", event: { room_id: ROOM_ID, pins } });
}

describe("the pinned list", () => {
  it("starts empty and takes the room's list as it comes", () => {
    const state = roomWith([]);
    expect(state.pins).toEqual([]);
    const pinned = reduce(state, { type: "pins_changed", event: { room_id: ROOM_ID, pins: [pin(6), pin(5)] } });
    expect(pinned.pins.map((each) => each.message_id)).toEqual([6, 5]);
    expect(isPinned(pinned.pins, 5)).toBe(true);
    expect(isPinned(pinned.pins, 7)).toBe(false);
    // Another room's list changes nothing here.
    expect(reduce(pinned, { type: "pins_changed", event: { room_id: ROOM_ID + 1, pins: [] } })).toBe(pinned);
  });

  it("shows an edit of a pinned message, and leaves the list alone for others", () => {
    const state = roomWith([pin(5)]);
    const edited = reduce(state, { type: "message_updated", message: messageBy(ana, 5, { body: "Our agreements" }) });
    expect(edited.pins[0].body).toBe("Our agreements");
    const other = reduce(state, { type: "message_updated", message: messageBy(ana, 6, { body: "other" }) });
    expect(other.pins).toBe(state.pins);
    expect(pinsAfterEdit(state.pins, messageBy(ana, 5))).toBe(state.pins);
  });

  it("drops a pin whose message is deleted, even one not in the log", () => {
    const state = roomWith([pin(5), pin(2)]);
    const deleted = reduce(state, { type: "message_deleted", event: { id: 2, room_id: ROOM_ID } });
    expect(deleted.pins.map((each) => each.message_id)).toEqual([5]);
    const unpinned = reduce(deleted, { type: "message_deleted", event: { id: 6, room_id: ROOM_ID } });
    expect(unpinned.pins).toBe(deleted.pins);
    expect(pinsAfterDeletion(deleted.pins, 99)).toBe(deleted.pins);
  });

  it("reads on one line, cut where it is long", () => {
    expect(pinLine(pin(5, { body: "Listen\n  without fixing." }))).toBe("Ana: Listen without fixing.");
    const line = pinLine(pin(5, { body: "word ".repeat(60) }));
    expect(line.endsWith("…")).toBe(true);
    expect(line.length).toBeLessThanOrEqual("Ana: ".length + 121);
  });

  it("goes to its message by the reply's way: found, older pages, or out of reach", () => {
    const state = roomWith([pin(5), pin(2)]);
    expect(jumpStep(state, 5)).toBe("found");
    expect(jumpStep({ ...state, hasMore: true }, 2)).toBe("load_older");
    // The history ends where this person's reading begins: the pin is where they read it.
    expect(jumpStep({ ...state, hasMore: false }, 2)).toBe("gone");
  });
});
