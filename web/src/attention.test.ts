// The tab title and the bookkeeping behind it: unread counts from the server and from live
// events, and the alerts staff have not seen yet.
import { describe, expect, it } from "vitest";
import {
  activityArrived,
  activityCounts,
  alertAttention,
  announcement,
  countsFetched,
  countText,
  desktopAlert,
  mentionArrived,
  messageArrived,
  messageCounts,
  pendingAfter,
  roomRead,
  screenTitle,
  tabTitle,
  totalMentions,
  totalUnread,
  type UnreadEntry,
} from "./attention";
import type { Alert, Message } from "./types";

const ME = 1;
const GROUP = 10;
const COMMONS = 11;

function entries(counts: Record<number, number>): Map<number, UnreadEntry> {
  return new Map(Object.entries(counts).map(([id, count]) => [Number(id), { count, changed: 0, read: 0 }]));
}

function counts(map: ReadonlyMap<number, UnreadEntry>): Record<number, number> {
  return Object.fromEntries([...map].map(([id, entry]) => [id, entry.count]));
}

function message(roomId: number, authorId: number, extra: Partial<Message> = {}): Message {
  return {
    id: 100,
    room_id: roomId,
    author: { id: authorId, display_name: `person ${authorId}`, role: "patient" },
    body: "hello",
    client_id: null,
    created_at: "2026-03-01T12:00:00Z",
    edited_at: null,
    deleted: false,
    reactions: {},
    ...extra,
  };
}

function alert(id: number, kind: Alert["kind"], raise_count = 1): Alert {
  return { id, kind, room_id: GROUP, message_id: null, user: null, excerpt: "", created_at: "2026-03-01T12:00:00Z", raise_count };
}

describe("the tab title", () => {
  it("is the screen's own title while nothing waits", () => {
    expect(tabTitle("Rooms – peerrooms", 0, null)).toBe("Rooms – peerrooms");
  });

  it("starts with the unread count above zero", () => {
    expect(tabTitle("Rooms – peerrooms", 3, null)).toBe("(3) Rooms – peerrooms");
    expect(tabTitle("Group A – peerrooms", 250, null)).toBe("(99+) Group A – peerrooms");
  });

  it("starts with a crisis alert before anything else, or a report", () => {
    expect(tabTitle("Rooms – peerrooms", 0, "crisis")).toBe("⚠ Crisis alert – Rooms – peerrooms");
    expect(tabTitle("Rooms – peerrooms", 2, "crisis")).toBe("⚠ Crisis alert – (2) Rooms – peerrooms");
    expect(tabTitle("People – peerrooms", 0, "report")).toBe("⚠ Reported message – People – peerrooms");
  });

  it("gives back the screen's own title from any title it made", () => {
    for (const made of [
      "Group A – peerrooms",
      "(3) Group A – peerrooms",
      "(99+) Group A – peerrooms",
      "⚠ Crisis alert – (3) Group A – peerrooms",
      "⚠ Reported message – Group A – peerrooms",
    ]) {
      expect(screenTitle(made)).toBe("Group A – peerrooms");
    }
  });

  it("marks the count when some unread message mentions me or replies to me", () => {
    expect(tabTitle("Rooms – peerrooms", 3, null, 1)).toBe("(@3) Rooms – peerrooms");
    expect(tabTitle("Rooms – peerrooms", 0, null, 1)).toBe("Rooms – peerrooms");
    expect(tabTitle("Rooms – peerrooms", 2, "crisis", 2)).toBe("⚠ Crisis alert – (@2) Rooms – peerrooms");
    expect(screenTitle("⚠ Crisis alert – (@2) Group A – peerrooms")).toBe("Group A – peerrooms");
    expect(screenTitle("(@99+) Group A – peerrooms")).toBe("Group A – peerrooms");
  });

  it("says counts as badges do", () => {
    expect(countText(0)).toBe("0");
    expect(countText(99)).toBe("99");
    expect(countText(100)).toBe("99+");
  });
});

describe("unread counts", () => {
  it("add up over every room", () => {
    expect(totalUnread(entries({ [GROUP]: 2, [COMMONS]: 3 }))).toBe(5);
    expect(totalUnread(new Map())).toBe(0);
  });

  it("count another person's message, not mine, not a deleted one, not one in the room being read", () => {
    const here = { meId: ME, readingRoomId: COMMONS };
    expect(messageCounts(message(GROUP, 2), here)).toBe(true);
    expect(messageCounts(message(GROUP, ME), here)).toBe(false);
    expect(messageCounts(message(GROUP, 2, { deleted: true }), here)).toBe(false);
    expect(messageCounts(message(COMMONS, 2), here)).toBe(false);
    // The open room, but not on screen (or scrolled up): it counts.
    expect(messageCounts(message(COMMONS, 2), { meId: ME, readingRoomId: null })).toBe(true);
  });

  it("rise with each message and fall to none once read", () => {
    let now = entries({ [GROUP]: 1 });
    now = messageArrived(now, GROUP, 1);
    now = messageArrived(now, COMMONS, 2);
    expect(counts(now)).toEqual({ [GROUP]: 2, [COMMONS]: 1 });
    now = roomRead(now, GROUP, 3);
    expect(counts(now)).toEqual({ [GROUP]: 0, [COMMONS]: 1 });
  });

  it("count the messages that mention me apart, from the server and live, until read", () => {
    let now = countsFetched(new Map(), [{ id: GROUP, unread_count: 3, mention_count: 1 }], 0);
    expect(totalMentions(now)).toBe(1);
    now = messageArrived(now, GROUP, 1, true);
    now = messageArrived(now, COMMONS, 2);
    expect(totalMentions(now)).toBe(2);
    expect(totalUnread(now)).toBe(5);
    now = roomRead(now, GROUP, 3);
    expect(totalMentions(now)).toBe(0);
  });

  it("take the server's figures for rooms that did not change since the fetch was sent", () => {
    const before = messageArrived(entries({ [GROUP]: 1, [COMMONS]: 0 }), GROUP, 1);
    const fetched = countsFetched(before, [{ id: GROUP, unread_count: 5 }, { id: COMMONS, unread_count: 2 }, { id: 12 }], 1);
    expect(counts(fetched)).toEqual({ [GROUP]: 5, [COMMONS]: 2, 12: 0 });
  });

  it("keep a read made while the fetch was on its way", () => {
    const since = 0;
    const read = roomRead(entries({ [GROUP]: 4 }), GROUP, 1);
    const after = messageArrived(read, GROUP, 2);
    // The answer was read before the room was: its 4 is old news.
    expect(counts(countsFetched(after, [{ id: GROUP, unread_count: 4 }], since))).toEqual({ [GROUP]: 1 });
  });

  it("take the larger figure when messages came while the fetch was on its way", () => {
    const came = messageArrived(entries({ [GROUP]: 1 }), GROUP, 1);
    // The answer may hold the new message (2) or not (1): never counted twice, never lost.
    expect(counts(countsFetched(came, [{ id: GROUP, unread_count: 2 }], 0))).toEqual({ [GROUP]: 2 });
    expect(counts(countsFetched(came, [{ id: GROUP, unread_count: 1 }], 0))).toEqual({ [GROUP]: 2 });
  });

  it("forget rooms no longer in the list", () => {
    const fetched = countsFetched(entries({ [GROUP]: 3, [COMMONS]: 1 }), [{ id: COMMONS, unread_count: 1 }], 0);
    expect(counts(fetched)).toEqual({ [COMMONS]: 1 });
  });
});

describe("activity in the rooms I am not in", () => {
  const listed = countsFetched(new Map(), [{ id: GROUP, unread_count: 2, mention_count: 0, last_message_id: 40 }], 0);

  it("adds the messages it tells of, at once", () => {
    let now = activityArrived(listed, { room_id: GROUP, message_id: 41, count: 3 }, 1);
    now = activityArrived(now, { room_id: COMMONS, message_id: 42, count: 1 }, 2);
    expect(counts(now)).toEqual({ [GROUP]: 5, [COMMONS]: 1 });
    expect(totalUnread(now)).toBe(6);
  });

  it("counts only what the room list did not count already, and not the room being read", () => {
    expect(activityCounts({ room_id: GROUP, message_id: 41 }, listed, null)).toBe(true);
    expect(activityCounts({ room_id: GROUP, message_id: 40 }, listed, null)).toBe(false);
    expect(activityCounts({ room_id: GROUP, message_id: 39 }, listed, null)).toBe(false);
    expect(activityCounts({ room_id: COMMONS, message_id: 1 }, listed, null)).toBe(true);
    expect(activityCounts({ room_id: GROUP, message_id: 41 }, listed, GROUP)).toBe(false);
  });

  it("keeps what the list counted through a read and a fetch that came later", () => {
    const read = roomRead(listed, GROUP, 1);
    expect(activityCounts({ room_id: GROUP, message_id: 40 }, read, null)).toBe(false);
    const refetched = countsFetched(read, [{ id: GROUP, unread_count: 0, last_message_id: 45 }], 1);
    expect(activityCounts({ room_id: GROUP, message_id: 45 }, refetched, null)).toBe(false);
    expect(activityCounts({ room_id: GROUP, message_id: 46 }, refetched, null)).toBe(true);
  });

  it("holds against a fetch that was on its way: the larger figure", () => {
    const came = activityArrived(listed, { room_id: GROUP, message_id: 41, count: 2 }, 1);
    expect(counts(countsFetched(came, [{ id: GROUP, unread_count: 4, last_message_id: 41 }], 0))).toEqual({ [GROUP]: 4 });
    expect(counts(countsFetched(came, [{ id: GROUP, unread_count: 2, last_message_id: 40 }], 0))).toEqual({ [GROUP]: 4 });
  });

  it("counts a mention apart, until the room is read", () => {
    let now = activityArrived(listed, { room_id: GROUP, message_id: 41, count: 1 }, 1);
    now = mentionArrived(now, { room_id: GROUP, message_id: 41 }, 2);
    expect([totalUnread(now), totalMentions(now)]).toEqual([3, 1]);
    now = roomRead(now, GROUP, 3);
    expect([totalUnread(now), totalMentions(now)]).toEqual([0, 0]);
  });
});

describe("alerts staff have not seen", () => {
  it("wait until the console is seen or the alert is closed", () => {
    let pending = pendingAfter(new Map(), [alert(1, "crisis")], alert(1, "crisis"), false);
    expect(alertAttention(pending)).toBe("crisis");
    // Acknowledged (no longer open): gone.
    pending = pendingAfter(pending, [], null, false);
    expect(alertAttention(pending)).toBeNull();
  });

  it("are not pending when they arrive with the console on screen", () => {
    expect(pendingAfter(new Map(), [alert(1, "crisis")], alert(1, "crisis"), true).size).toBe(0);
  });

  it("say a crisis before a report", () => {
    const open = [alert(1, "report"), alert(2, "crisis")];
    let pending = pendingAfter(new Map(), open, alert(1, "report"), false);
    expect(alertAttention(pending)).toBe("report");
    pending = pendingAfter(pending, open, alert(2, "crisis"), false);
    expect(alertAttention(pending)).toBe("crisis");
    pending = pendingAfter(pending, [alert(1, "report")], null, false);
    expect(alertAttention(pending)).toBe("report");
  });

  it("sound and notify for a crisis alert, not for a report", () => {
    expect(announcement([alert(1, "report")])).toEqual({ tone: false, notify: null });
    expect(announcement([])).toEqual({ tone: false, notify: null });
    const { tone, notify } = announcement([alert(1, "report"), alert(2, "crisis")]);
    expect(tone).toBe(true);
    expect(notify?.title).toBe("⚠ Crisis alert – peerrooms");
    expect(notify?.tag).toBe("peerrooms-alert-2-1");
  });

  it("notify without a name or the words written", () => {
    const notice = desktopAlert({ ...alert(3, "crisis", 2), user: { id: 5, display_name: "Ana", role: "patient" }, excerpt: "the words" } as Alert);
    expect(notice.tag).toBe("peerrooms-alert-3-2");
    expect(JSON.stringify(notice)).not.toMatch(/Ana|the words/);
    expect(announcement([alert(3, "crisis"), alert(4, "crisis")]).notify?.body).toMatch(/^2 crisis alerts/);
  });
});
