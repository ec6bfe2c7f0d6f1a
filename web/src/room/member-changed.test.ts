// `member_changed` in the room reducer: someone's new alias, pronouns or line reach every place
// the open room shows them, and nothing of anyone else changes.
import { describe, expect, it } from "vitest";
import type { MemberChangedEvent, PublicUser, Room } from "../types";
import { initialRoomState, reduce, type RoomAction, type RoomState } from "./state";
import { ROOM_ID, messageBy } from "./test-builders";

const NOW = Date.parse("2026-03-01T12:00:00Z");
const ana: PublicUser = { id: 1, display_name: "Ana", role: "patient" };
const bo: PublicUser = { id: 2, display_name: "Bo", role: "patient" };
const ROOM: Room = {
  id: ROOM_ID,
  name: "Evening group",
  kind: "group",
  audience: "cohort",
  cohort_id: 1,
  topic: null,
  locked: false,
  slow_mode_s: 0,
  online_count: 0,
};
const RENAMED: MemberChangedEvent = { user_id: bo.id, display_name: "Zed", pronouns: "he/him", line: "Back again" };

function run(state: RoomState, ...actions: RoomAction[]): RoomState {
  return actions.reduce(reduce, state);
}

function room(): RoomState {
  const byBo = messageBy(bo, 10, { mentions: [ana] });
  const replyToBo = messageBy(ana, 11, {
    reply_to: { id: 10, author: bo, excerpt: "message 10", deleted: false, hidden: false },
    mentions: [bo],
  });
  return run(
    initialRoomState({ roomId: ROOM_ID, meId: ana.id, room: null, reactionChoices: ["👍"], now: NOW }),
    { type: "join_started" },
    { type: "join_page_received", reply: { room: ROOM, online: [ana, bo], messages: [byBo, replyToBo], has_more: false }, since: null },
    { type: "join_completed" },
    { type: "typing_seen", event: { room_id: ROOM_ID, user: bo }, now: NOW },
  );
}

describe("member_changed", () => {
  it("renames the person on their messages, quotes and mentions, and in who is here and typing", () => {
    const next = reduce(room(), { type: "member_changed", event: RENAMED });
    const [byBo, replyToBo] = next.messages;
    expect(byBo.author.display_name).toBe("Zed");
    expect(byBo.mentions).toEqual([ana]);
    expect(replyToBo.author).toEqual(ana);
    expect(replyToBo.reply_to?.author?.display_name).toBe("Zed");
    expect(replyToBo.mentions?.map((user) => user.display_name)).toEqual(["Zed"]);
    // Sorted by name again, with the pronouns and line beside the name.
    expect(next.online).toEqual([ana, { ...bo, display_name: "Zed", pronouns: "he/him", line: "Back again" }]);
    expect(next.typists.map((typist) => typist.name)).toEqual(["Zed"]);
  });

  it("takes pronouns and a line away", () => {
    const shown = reduce(room(), { type: "member_changed", event: RENAMED });
    const next = reduce(shown, { type: "member_changed", event: { ...RENAMED, pronouns: null, line: null } });
    expect(next.online[1]).toEqual({ ...bo, display_name: "Zed", pronouns: null, line: null });
  });

  it("leaves the view as it is for someone it does not show", () => {
    const before = room();
    const next = reduce(before, { type: "member_changed", event: { ...RENAMED, user_id: 99 } });
    expect(next.messages).toBe(before.messages);
    expect(next.online).toBe(before.online);
    expect(next.typists).toBe(before.typists);
  });
});
