// Replies and mentions, the pure parts: quotes, going back to an original, who is addressed,
// what is being typed after `@`, and where mentions sit in a text.
import { describe, expect, it } from "vitest";
import type { Message, PublicUser, ReplyTo } from "../types";
import {
  EXCERPT_CHARS,
  MAX_SUGGESTIONS,
  addressesMe,
  excerptOf,
  insertMention,
  jumpStep,
  keepBetterQuote,
  mentionCandidates,
  mentionQueryAt,
  mentionsIn,
  quoteOf,
  quoteText,
  segmentsOf,
  suggestionsFor,
} from "./replies";
import { initialRoomState, mergeMessages, reduce } from "./state";
import { messageBy } from "./test-builders";

const ana: PublicUser = { id: 1, display_name: "Ana", role: "patient" };
const bo: PublicUser = { id: 2, display_name: "Bo Lin", role: "patient" };
const lee: PublicUser = { id: 3, display_name: "Lee", role: "moderator" };
const anabel: PublicUser = { id: 4, display_name: "Anabel", role: "patient" };

function message(id: number, extra: Partial<Message> = {}): Message {
  return messageBy(bo, id, { reply_to: null, mentions: [], ...extra });
}

function replyTo(id: number, extra: Partial<ReplyTo> = {}): ReplyTo {
  return { id, author: ana, excerpt: "the start", deleted: false, hidden: false, ...extra };
}

describe("quotes", () => {
  it("cut a long text to one line of at most 120 characters", () => {
    expect(excerptOf("  one\n two   three ")).toBe("one two three");
    const long = "word ".repeat(40);
    const cut = excerptOf(long);
    expect(cut.endsWith("…")).toBe(true);
    expect(cut.length).toBeLessThanOrEqual(EXCERPT_CHARS + 1);
    expect(excerptOf("x".repeat(EXCERPT_CHARS))).toBe("x".repeat(EXCERPT_CHARS));
  });

  it("say what the server quoted when the original is not in view", () => {
    expect(quoteText(quoteOf(replyTo(5), []))).toBe("Ana: the start");
    expect(quoteText(quoteOf(replyTo(5, { deleted: true, excerpt: "" }), []))).toBe("Ana: message deleted");
    expect(quoteText(quoteOf(replyTo(5, { deleted: true, author: null }), []))).toBe("a deleted message");
    const hidden = quoteOf(replyTo(5, { hidden: true, author: null, excerpt: "" }), []);
    expect(hidden.state).toBe("hidden");
    expect(quoteText(hidden)).toBe("an earlier message");
  });

  it("take the original in view over the server's quote: edits, deletions and hidden quotes", () => {
    const original = message(5, { author: ana, body: "edited since" });
    expect(quoteText(quoteOf(replyTo(5), [original]))).toBe("Ana: edited since");
    expect(quoteOf(replyTo(5), [{ ...original, deleted: true, body: "" }]).state).toBe("deleted");
    expect(quoteText(quoteOf(replyTo(5, { hidden: true, author: null }), [original]))).toBe("Ana: edited since");
  });

  it("keep a better quote when the room's copy of a message could only say it is hidden", () => {
    const mine = message(9, { reply_to: replyTo(5) });
    const roomCopy = message(9, { reply_to: replyTo(5, { hidden: true, author: null, excerpt: "" }) });
    expect(keepBetterQuote(mine, roomCopy).reply_to).toEqual(replyTo(5));
    expect(keepBetterQuote(undefined, roomCopy)).toBe(roomCopy);
    expect(keepBetterQuote(roomCopy, mine)).toBe(mine);
    const merged = mergeMessages([mine], [roomCopy]);
    expect(merged[0].reply_to).toEqual(replyTo(5));
  });
});

describe("going to an original", () => {
  const page = [message(60), message(62), message(63)];

  it("finds it on the page, pages back for an older one, or gives up", () => {
    expect(jumpStep({ messages: page, hasMore: true }, 62)).toBe("found");
    expect(jumpStep({ messages: page, hasMore: true }, 12)).toBe("load_older");
    expect(jumpStep({ messages: page, hasMore: false }, 12)).toBe("gone");
    // Not older than the page yet missing from it: gone for good (retention).
    expect(jumpStep({ messages: page, hasMore: true }, 61)).toBe("gone");
  });
});

describe("who is addressed", () => {
  it("is me when mentioned or replied to, never for my own messages or deleted ones", () => {
    expect(addressesMe(message(1, { mentions: [ana] }), ana.id)).toBe(true);
    expect(addressesMe(message(1, { reply_to: replyTo(5) }), ana.id)).toBe(true);
    expect(addressesMe(message(1, { reply_to: replyTo(5, { author: lee }) }), ana.id)).toBe(false);
    expect(addressesMe(message(1, { author: ana, mentions: [ana] }), ana.id)).toBe(false);
    expect(addressesMe(message(1, { mentions: [ana], deleted: true }), ana.id)).toBe(false);
    expect(addressesMe(message(1, { mentions: [ana] }), null)).toBe(false);
  });
});

describe("mentioning", () => {
  it("offers who is here and who wrote, never me, by name", () => {
    const people = mentionCandidates([lee, ana], [message(1, { author: bo }), message(2, { author: anabel, deleted: true })], ana.id);
    expect(people.map((user) => user.display_name)).toEqual(["Bo Lin", "Lee"]);
  });

  it("sees a mention being typed after an @ that starts a word", () => {
    expect(mentionQueryAt("hi @An", 6)).toEqual({ start: 3, text: "An" });
    expect(mentionQueryAt("@", 1)).toEqual({ start: 0, text: "" });
    expect(mentionQueryAt("(@Bo L", 6)).toEqual({ start: 1, text: "Bo L" });
    expect(mentionQueryAt("mail ana@exa", 12)).toBeNull();
    expect(mentionQueryAt("@ana\nnext", 9)).toBeNull();
    expect(mentionQueryAt("@ spaced", 8)).toBeNull();
    expect(mentionQueryAt("no at here", 10)).toBeNull();
  });

  it("suggests names, or a word of them, starting with what was typed", () => {
    const people = [ana, anabel, bo, lee];
    expect(suggestionsFor(people, "an").map((user) => user.id)).toEqual([ana.id, anabel.id]);
    expect(suggestionsFor(people, "LIN").map((user) => user.id)).toEqual([bo.id]);
    expect(suggestionsFor(people, "")).toHaveLength(4);
    expect(suggestionsFor(people, "zz")).toEqual([]);
    const many: PublicUser[] = Array.from({ length: 20 }, (_, n) => ({ id: 100 + n, display_name: `Sam ${n}`, role: "patient" }));
    expect(suggestionsFor(many, "sam")).toHaveLength(MAX_SUGGESTIONS);
  });

  it("puts the picked name in place of what was typed", () => {
    const text = "thanks @bo see you";
    const query = mentionQueryAt(text, 10);
    expect(query).not.toBeNull();
    expect(insertMention(text, query!, 10, "Bo Lin")).toEqual({ value: "thanks @Bo Lin see you", caret: 15 });
    expect(insertMention("@a", { start: 0, text: "a" }, 2, "Ana")).toEqual({ value: "@Ana ", caret: 5 });
  });

  it("sends only the people the text still names, as whole words", () => {
    const picked = [ana, bo, lee];
    expect(mentionsIn("@ana and @Bo Lin!", picked)).toEqual([ana.id, bo.id]);
    expect(mentionsIn("@Anabel hi, mail lee@example.org", picked)).toEqual([]);
    expect(mentionsIn("nobody", [])).toEqual([]);
  });

  it("cuts a text into plain runs and mentions, longest names first", () => {
    const segments = segmentsOf("hi @Ana and @anabel, @Bo Lin.", [ana, anabel, bo]);
    expect(segments).toEqual([
      { text: "hi " },
      { text: "@Ana", mention: ana },
      { text: " and " },
      { text: "@anabel", mention: anabel },
      { text: ", " },
      { text: "@Bo Lin", mention: bo },
      { text: "." },
    ]);
    expect(segmentsOf("plain", [])).toEqual([{ text: "plain" }]);
    expect(segmentsOf("", [ana])).toEqual([{ text: "" }]);
  });
});

describe("the room's reply state", () => {
  const start = () =>
    initialRoomState({ roomId: 7, meId: ana.id, room: null, reactionChoices: [], now: 0, messages: [message(5), message(6)] });

  it("replies to a message it holds, until cancelled", () => {
    const replying = reduce(start(), { type: "reply_started", messageId: 5 });
    expect(replying.replyingTo).toBe(5);
    expect(reduce(replying, { type: "reply_started", messageId: 5 })).toBe(replying);
    expect(reduce(start(), { type: "reply_started", messageId: 99 }).replyingTo).toBeNull();
    expect(reduce(replying, { type: "reply_cancelled" }).replyingTo).toBeNull();
  });

  it("forgets a deleted message's quote and mentions", () => {
    const state = initialRoomState({
      roomId: 7,
      meId: ana.id,
      room: null,
      reactionChoices: [],
      now: 0,
      messages: [message(5, { reply_to: replyTo(4), mentions: [ana] })],
    });
    const deleted = reduce(state, { type: "message_deleted", event: { id: 5, room_id: 7 } });
    expect(deleted.messages[0].reply_to).toBeNull();
    expect(deleted.messages[0].mentions).toEqual([]);
  });
});
