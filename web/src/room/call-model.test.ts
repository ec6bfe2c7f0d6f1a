// The video call's pure logic: Janus's publisher lists and events turned into participants,
// what to subscribe to, who is shown large, raised hands, and which session a page is about.
import { describe, expect, it } from "vitest";
import type { Occurrence } from "../types";
import {
  activeSpeaker,
  applyHand,
  currentOccurrence,
  feedsByMid,
  handsFromCall,
  handsWithout,
  layoutFor,
  mergePublishers,
  publisherAudioMid,
  readPublisherEvent,
  sessionPhase,
  streamKey,
  streamsToSubscribe,
  tileOrder,
  withModeration,
  withSelf,
  withTalking,
  withoutParticipant,
  type JanusPublisher,
  type Participant,
} from "./call-model";

const ME = 10;

function publisher(id: number, display: string, extra: Partial<JanusPublisher> = {}): JanusPublisher {
  return {
    id,
    display,
    streams: [
      { type: "audio", mid: "0", mindex: 0, codec: "opus" },
      { type: "video", mid: "1", mindex: 1, codec: "vp8" },
    ],
    ...extra,
  };
}

const ana = publisher(11, "Ana");
const bo = publisher(12, "Bo");
const cy = publisher(13, "Cy", { streams: [{ type: "audio", mid: "0", codec: "opus" }] });

function people(...list: JanusPublisher[]): Participant[] {
  return withSelf(mergePublishers([], list, ME), ME, "Me");
}

describe("publisherAudioMid", () => {
  it("is the mid of the publisher's audio stream, wherever it is in the list", () => {
    expect(publisherAudioMid([{ type: "video", mid: "v" }, { type: "audio", mid: "a" }])).toBe("a");
  });

  it("skips a disabled audio stream and is null when there is no usable one", () => {
    expect(publisherAudioMid([{ type: "audio", mid: "0", disabled: true }, { type: "audio", mid: "2" }])).toBe("2");
    expect(publisherAudioMid([{ type: "video", mid: "1" }, { type: "data", mid: "2" }])).toBeNull();
    expect(publisherAudioMid(undefined)).toBeNull();
  });
});

describe("mergePublishers", () => {
  it("turns a publishers list into participants with their audio and video mids", () => {
    const list = mergePublishers([], [ana, cy], ME);
    expect(list.map((p) => [p.feedId, p.display, p.audioMid, p.videoMid, p.self])).toEqual([
      [11, "Ana", "0", "1", false],
      [13, "Cy", "0", null, false],
    ]);
  });

  it("keeps the order people first published in and updates known ones in place", () => {
    const first = mergePublishers([], [ana, bo], ME);
    const spoke = withTalking(first, 11, true, 5);
    const next = mergePublishers(spoke, [cy, publisher(11, "Ana", { streams: [{ type: "audio", mid: "3" }] })], ME);
    expect(next.map((p) => p.feedId)).toEqual([11, 12, 13]);
    expect(next[0]!.audioMid).toBe("3");
    expect(next[0]!.videoMid).toBeNull();
    // When someone last talked is kept across a new list.
    expect(next[0]!.spokeAt).toBe(5);
  });

  it("leaves dummy publishers out and reads a moderator's mute from the streams", () => {
    const list = mergePublishers(
      [],
      [publisher(20, "dummy", { dummy: true }), publisher(21, "Di", { streams: [{ type: "audio", mid: "0", moderated: true }] })],
      ME,
    );
    expect(list.map((p) => [p.feedId, p.moderated])).toEqual([[21, true]]);
  });

  it("puts oneself first with withSelf, once", () => {
    const list = withSelf(withSelf(mergePublishers([], [ana], ME), ME, "Me"), ME, "Me");
    expect(list.map((p) => [p.feedId, p.self])).toEqual([
      [ME, true],
      [11, false],
    ]);
  });

  it("drops someone who left", () => {
    expect(withoutParticipant(people(ana, bo), 11).map((p) => p.feedId)).toEqual([ME, 12]);
  });
});

describe("withModeration", () => {
  it("mutes the tile when the moderated mid is the participant's audio", () => {
    const list = withModeration(people(ana), 11, "0", true);
    expect(list.find((p) => p.feedId === 11)!.moderated).toBe(true);
  });

  it("ignores a moderation of another stream", () => {
    const list = withModeration(people(ana), 11, "1", true);
    expect(list.find((p) => p.feedId === 11)!.moderated).toBe(false);
  });

  it("applies to oneself, whose mids this browser does not list", () => {
    const list = withModeration(people(ana), ME, "0", true);
    expect(list.find((p) => p.self)!.moderated).toBe(true);
    expect(withModeration(list, ME, "0", false).find((p) => p.self)!.moderated).toBe(false);
  });
});

describe("streamsToSubscribe", () => {
  it("asks for every audio and video stream of others, not data and not one's own", () => {
    const mine = publisher(ME, "Me");
    const withData = publisher(11, "Ana", { streams: [{ type: "audio", mid: "0" }, { type: "data", mid: "2" }] });
    expect(streamsToSubscribe([mine, withData, bo], new Set(), { audioOnly: false, selfId: ME })).toEqual([
      { feed: 11, mid: "0" },
      { feed: 12, mid: "0" },
      { feed: 12, mid: "1" },
    ]);
  });

  it("asks for audio only when joined with audio only", () => {
    expect(streamsToSubscribe([ana, bo], new Set(), { audioOnly: true, selfId: ME })).toEqual([
      { feed: 11, mid: "0" },
      { feed: 12, mid: "0" },
    ]);
  });

  it("never asks twice for a stream, nor for a disabled one", () => {
    const subscribed = new Set([streamKey(11, "0"), streamKey(11, "1")]);
    const disabled = publisher(12, "Bo", { streams: [{ type: "audio", mid: "0", disabled: true }, { type: "video", mid: "1" }] });
    expect(streamsToSubscribe([ana, disabled], subscribed, { audioOnly: false, selfId: ME })).toEqual([{ feed: 12, mid: "1" }]);
  });
});

describe("feedsByMid", () => {
  it("maps each mid of the subscription to the publisher it carries", () => {
    const map = feedsByMid([
      { mid: "0", type: "audio", feed_id: 11, feed_mid: "0" },
      { mid: "1", type: "video", feed_id: 11, feed_mid: "1" },
      { mid: "2", type: "audio", feed_id: 12, feed_mid: "0" },
      { mid: "3", type: "audio", active: false },
    ]);
    expect([...map]).toEqual([
      ["0", 11],
      ["1", 11],
      ["2", 12],
    ]);
  });
});

describe("readPublisherEvent", () => {
  it("reads the join: own id, private id and who publishes already", () => {
    const event = readPublisherEvent({ videoroom: "joined", room: 5, id: ME, private_id: 777, publishers: [ana] }, ME);
    expect(event).toEqual({ kind: "joined", id: ME, privateId: 777, publishers: [ana] });
  });

  it("takes leaving ok with reason kicked as this browser removed by a moderator", () => {
    expect(readPublisherEvent({ videoroom: "event", room: 5, leaving: "ok", reason: "kicked" }, ME)).toEqual({ kind: "removed" });
    expect(readPublisherEvent({ videoroom: "event", room: 5, kicked: ME }, ME)).toEqual({ kind: "removed" });
  });

  it("takes leaving ok without a reason as this browser's own leave", () => {
    expect(readPublisherEvent({ videoroom: "event", leaving: "ok" }, ME)).toEqual({ kind: "left" });
  });

  it("reads another participant leaving, unpublishing or kicked as gone", () => {
    expect(readPublisherEvent({ videoroom: "event", leaving: 11 }, ME)).toEqual({ kind: "gone", feedId: 11 });
    expect(readPublisherEvent({ videoroom: "event", unpublished: 12 }, ME)).toEqual({ kind: "gone", feedId: 12 });
    expect(readPublisherEvent({ videoroom: "event", kicked: 13 }, ME)).toEqual({ kind: "gone", feedId: 13 });
  });

  it("reads new publishers, talking, moderation, a destroyed room and errors", () => {
    expect(readPublisherEvent({ videoroom: "event", publishers: [bo] }, ME)).toEqual({ kind: "publishers", publishers: [bo] });
    expect(readPublisherEvent({ videoroom: "talking", id: 11, mid: "0" }, ME)).toEqual({ kind: "talking", feedId: 11, talking: true });
    expect(readPublisherEvent({ videoroom: "stopped-talking", id: 11 }, ME)).toEqual({ kind: "talking", feedId: 11, talking: false });
    expect(readPublisherEvent({ videoroom: "event", id: ME, mid: "0", moderation: "muted" }, ME)).toEqual({
      kind: "moderated",
      feedId: ME,
      mid: "0",
      muted: true,
    });
    expect(readPublisherEvent({ videoroom: "destroyed", room: 5 }, ME)).toEqual({ kind: "destroyed" });
    expect(readPublisherEvent({ videoroom: "event", error_code: 433, error: "Unauthorized (not in the allowed list)" }, ME)).toEqual({
      kind: "error",
      code: 433,
      text: "Unauthorized (not in the allowed list)",
    });
    expect(readPublisherEvent({ videoroom: "event", configured: "ok" }, ME)).toEqual({ kind: "other" });
  });
});

describe("layout and the active speaker", () => {
  it("uses the speaker layout below 700px and a grid from 700px", () => {
    expect(layoutFor(375)).toBe("speaker");
    expect(layoutFor(699)).toBe("speaker");
    expect(layoutFor(700)).toBe("grid");
    expect(layoutFor(1280)).toBe("grid");
  });

  it("shows the most recent publisher when nobody's talking is reported", () => {
    expect(activeSpeaker(people(ana, bo), null)).toBe(12);
  });

  it("shows whoever started talking last, and keeps them after they stop", () => {
    let list = withTalking(people(ana, bo, cy), 11, true, 1);
    list = withTalking(list, 12, true, 2);
    expect(activeSpeaker(list, null)).toBe(12);
    list = withTalking(list, 12, false, 3);
    expect(activeSpeaker(list, null)).toBe(12);
    list = withTalking(list, 11, true, 4);
    expect(activeSpeaker(list, null)).toBe(11);
  });

  it("never shows oneself large while anyone else is there, even talking", () => {
    const list = withTalking(people(ana), ME, true, 9);
    expect(activeSpeaker(list, null)).toBe(11);
    expect(activeSpeaker(people(), null)).toBe(ME);
    expect(activeSpeaker([], null)).toBeNull();
  });

  it("shows a pinned tile whatever else happens, until it leaves", () => {
    const list = withTalking(people(ana, bo), 12, true, 1);
    expect(activeSpeaker(list, 11)).toBe(11);
    expect(activeSpeaker(withoutParticipant(list, 11), 11)).toBe(12);
  });

  it("orders tiles: oneself first in a grid, the active speaker first on a phone", () => {
    const list = people(ana, bo);
    expect(tileOrder(list, 12, "grid").map((p) => p.feedId)).toEqual([ME, 11, 12]);
    expect(tileOrder(list, 12, "speaker").map((p) => p.feedId)).toEqual([12, ME, 11]);
    expect(tileOrder(list, null, "speaker").map((p) => p.feedId)).toEqual([ME, 11, 12]);
  });
});

describe("raised hands", () => {
  const hand = (user: number, feed: number, name: string, raised = true) => ({ user_id: user, feed_id: feed, display_name: name, raised });

  it("lists hands in the order they went up", () => {
    let hands = applyHand([], hand(1, 11, "Ana"));
    hands = applyHand(hands, hand(2, 12, "Bo"));
    hands = applyHand(hands, hand(3, 13, "Cy"));
    expect(hands.map((h) => h.displayName)).toEqual(["Ana", "Bo", "Cy"]);
  });

  it("keeps one's place when the same hand is raised again", () => {
    let hands = applyHand([], hand(1, 11, "Ana"));
    hands = applyHand(hands, hand(2, 12, "Bo"));
    hands = applyHand(hands, hand(1, 11, "Ana"));
    expect(hands.map((h) => h.userId)).toEqual([1, 2]);
  });

  it("takes a lowered hand out, and a raised one goes to the end again", () => {
    let hands = applyHand([], hand(1, 11, "Ana"));
    hands = applyHand(hands, hand(2, 12, "Bo"));
    hands = applyHand(hands, hand(1, 11, "Ana", false));
    expect(hands.map((h) => h.userId)).toEqual([2]);
    hands = applyHand(hands, hand(1, 11, "Ana"));
    expect(hands.map((h) => h.userId)).toEqual([2, 1]);
  });

  it("forgets the hand of someone who left the call", () => {
    const hands = applyHand(applyHand([], hand(1, 11, "Ana")), hand(2, 12, "Bo"));
    expect(handsWithout(hands, 11).map((h) => h.userId)).toEqual([2]);
  });
});

describe("currentOccurrence and sessionPhase", () => {
  function occ(meeting_id: number, starts_at: string, status: Occurrence["status"]): Occurrence {
    return {
      meeting_id,
      title: "Evening group",
      room_id: 4,
      starts_at,
      ends_at: starts_at,
      lobby_opens_at: starts_at,
      status,
    };
  }

  it("picks the meeting's session in its lobby or live window", () => {
    const list = [occ(1, "2026-03-02T18:00:00Z", "scheduled"), occ(2, "2026-03-01T18:00:00Z", "live"), occ(1, "2026-03-01T18:00:00Z", "lobby")];
    expect(currentOccurrence(list, 1)?.starts_at).toBe("2026-03-01T18:00:00Z");
    expect(sessionPhase(currentOccurrence(list, 1))).toBe("lobby");
  });

  it("else the next scheduled one, never a cancelled one", () => {
    const list = [occ(1, "2026-03-03T18:00:00Z", "scheduled"), occ(1, "2026-03-02T18:00:00Z", "cancelled"), occ(1, "2026-03-04T18:00:00Z", "scheduled")];
    expect(currentOccurrence(list, 1)?.starts_at).toBe("2026-03-03T18:00:00Z");
    expect(sessionPhase(currentOccurrence(list, 1))).toBe("outside");
  });

  it("is null for a meeting with nothing upcoming", () => {
    expect(currentOccurrence([occ(2, "2026-03-01T18:00:00Z", "live")], 1)).toBeNull();
    expect(sessionPhase(null)).toBe("outside");
  });
});

describe("handsFromCall", () => {
  const row = (feed: number, raised: string | null, inCall = true) => ({
    feed_id: feed,
    user_id: feed * 10,
    display_name: `P${feed}`,
    in_call: inCall,
    hand_raised_at: raised,
  });

  it("lists the hands up of those in the call, oldest first", () => {
    const hands = handsFromCall([
      row(1, "2026-12-06T18:05:00.000Z"),
      row(2, null),
      row(3, "2026-12-06T18:01:00.000Z"),
      row(4, "2026-12-06T18:00:00.000Z", false),
    ]);
    expect(hands).toEqual([
      { feedId: 3, userId: 30, displayName: "P3" },
      { feedId: 1, userId: 10, displayName: "P1" },
    ]);
  });
});
