// Replies and mentions, as pure functions (no DOM, no I/O): what a reply's quote says, how far
// to page back to find its original, who may be mentioned, what the person is typing after
// `@`, and where mentions sit in a message's text. The server's rules are in
// server/rooms/replies.py: a mention is `@` + a display name, as a word of its own, any case.
import type { Message, PublicUser, ReplyTo } from "../types";

/** The quote's length, as the server cuts it. */
export const EXCERPT_CHARS = 120;
/** Suggestions shown at once while typing a mention. */
export const MAX_SUGGESTIONS = 8;
/** A mention being typed is at most this long (a display name is at most 40 characters). */
const MAX_QUERY_CHARS = 40;

// A word character, in any script (Python's \w, which the server uses).
const WORD = String.raw`[\p{L}\p{N}_]`;

// ----- quotes -----

/** A quote on one line: at most EXCERPT_CHARS characters, `…` where it was cut. */
export function excerptOf(text: string): string {
  const flat = text.split(/\s+/).filter(Boolean).join(" ");
  return flat.length <= EXCERPT_CHARS ? flat : `${flat.slice(0, EXCERPT_CHARS).trimEnd()}…`;
}

export type QuoteState = "shown" | "deleted" | "hidden";

export interface Quote {
  id: number;
  author: string | null;
  text: string;
  state: QuoteState;
}

/** What a reply shows of its original. The original as this view holds it wins (an edit or a
 * deletion shows at once, and a live event that could not quote it for everyone is filled in):
 * the view holds only what the server let this person read. */
export function quoteOf(reply: ReplyTo, messages: readonly Message[]): Quote {
  const original = messages.find((message) => message.id === reply.id);
  if (original) return quoteOfOriginal(original);
  const author = reply.author?.display_name ?? null;
  if (reply.hidden) return { id: reply.id, author: null, text: "", state: "hidden" };
  if (reply.deleted) return { id: reply.id, author, text: "", state: "deleted" };
  return { id: reply.id, author, text: reply.excerpt, state: "shown" };
}

/** The quote of a message this view holds. */
export function quoteOfOriginal(original: Message): Quote {
  const author = original.author.display_name;
  return original.deleted
    ? { id: original.id, author, text: "", state: "deleted" }
    : { id: original.id, author, text: excerptOf(original.body), state: "shown" };
}

/** The quote's words: "Ana: I made it…", "Ana: message deleted", "an earlier message". */
export function quoteText(quote: Quote): string {
  if (quote.state === "hidden") return "an earlier message";
  if (quote.state === "deleted") return quote.author ? `${quote.author}: message deleted` : "a deleted message";
  return `${quote.author ?? "Someone"}: ${quote.text}`;
}

/** A message merged with a copy the server sent to the whole room, which may quote its
 * original as `hidden` where this person's own answer quoted it: the better quote stays. */
export function keepBetterQuote(known: Message | undefined, incoming: Message): Message {
  const kept = known?.reply_to;
  const fresh = incoming.reply_to;
  if (!kept || !fresh || kept.id !== fresh.id || kept.hidden || !fresh.hidden) return incoming;
  return { ...incoming, reply_to: kept };
}

// ----- going to an original -----

export type JumpStep = "found" | "load_older" | "gone";

/** The next step towards a reply's original: it is on the page, or older pages may hold it,
 * or it can no longer be shown (deleted by retention, or before what this person may read). */
export function jumpStep(
  state: { messages: readonly Message[]; hasMore: boolean },
  originalId: number,
): JumpStep {
  if (state.messages.some((message) => message.id === originalId)) return "found";
  const oldest = state.messages[0]?.id;
  if (state.hasMore && (oldest === undefined || originalId < oldest)) return "load_older";
  return "gone";
}

// ----- who is addressed -----

/** Whether a message mentions me or replies to one of mine (never one of my own). */
export function addressesMe(message: Pick<Message, "author" | "mentions" | "reply_to" | "deleted">, meId: number | null): boolean {
  if (meId === null || message.deleted || message.author?.id === meId) return false;
  if (message.mentions?.some((user) => user.id === meId)) return true;
  return message.reply_to?.author?.id === meId && !message.reply_to.deleted;
}

// ----- mentioning -----

/** Who I may mention from this room's view: who is here now and who wrote what I can read,
 * never myself; by name. The server checks again: only people who may be in the room count. */
export function mentionCandidates(
  online: readonly PublicUser[],
  messages: readonly Message[],
  meId: number | null,
): PublicUser[] {
  const byId = new Map<number, PublicUser>();
  for (const message of messages) if (!message.deleted) byId.set(message.author.id, message.author);
  for (const user of online) byId.set(user.id, user);
  if (meId !== null) byId.delete(meId);
  return [...byId.values()].sort((a, b) => a.display_name.localeCompare(b.display_name) || a.id - b.id);
}

export interface MentionQuery {
  /** Where the `@` is. */
  start: number;
  /** What follows it, up to the caret. */
  text: string;
}

/** The mention being typed at the caret: an `@` at the start or after a space or punctuation,
 * then no line break; null when there is none. */
export function mentionQueryAt(value: string, caret: number): MentionQuery | null {
  const before = value.slice(0, caret);
  const at = before.lastIndexOf("@");
  if (at < 0) return null;
  const text = before.slice(at + 1);
  if (text.length > MAX_QUERY_CHARS || /[\n\r@]/.test(text) || text.startsWith(" ")) return null;
  if (at > 0 && new RegExp(WORD, "u").test(before[at - 1])) return null;
  return { start: at, text };
}

/** The people whose name (or a word of it) starts with what was typed, best first. */
export function suggestionsFor(candidates: readonly PublicUser[], typed: string): PublicUser[] {
  const wanted = typed.toLocaleLowerCase();
  const rank = (user: PublicUser): number => {
    const name = user.display_name.toLocaleLowerCase();
    if (name.startsWith(wanted)) return 0;
    return name.split(/\s+/).some((word) => word.startsWith(wanted)) ? 1 : -1;
  };
  return candidates
    .map((user) => ({ user, rank: rank(user) }))
    .filter((entry) => entry.rank >= 0)
    .sort((a, b) => a.rank - b.rank)
    .slice(0, MAX_SUGGESTIONS)
    .map((entry) => entry.user);
}

/** The text with the mention being typed replaced by `@Name ` and where the caret goes. */
export function insertMention(value: string, query: MentionQuery, caret: number, name: string): { value: string; caret: number } {
  const inserted = `@${name} `;
  const after = value.slice(caret).replace(/^ /, "");
  return { value: value.slice(0, query.start) + inserted + after, caret: query.start + inserted.length };
}

function mentionPattern(name: string, flags = "iu"): RegExp {
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`(?<![\\p{L}\\p{N}_@])@${escaped}(?!${WORD})`, flags);
}

/** Of the people picked while writing, those the text still names: what `send` carries. */
export function mentionsIn(body: string, picked: readonly PublicUser[]): number[] {
  const ids = picked.filter((user) => mentionPattern(user.display_name).test(body)).map((user) => user.id);
  return [...new Set(ids)];
}

export interface Segment {
  text: string;
  /** The person this `@name` names, for a mention. */
  mention?: PublicUser;
}

/** A message's text cut into plain runs and its mentions, in order, so each `@name` can be
 * shown as a mention (the text stays text). */
export function segmentsOf(body: string, mentions: readonly PublicUser[]): Segment[] {
  const found: { start: number; end: number; user: PublicUser }[] = [];
  // Longer names first, so "@Ana Maria" is not taken as "@Ana".
  const people = [...mentions].sort((a, b) => b.display_name.length - a.display_name.length);
  for (const user of people) {
    for (const match of body.matchAll(mentionPattern(user.display_name, "giu"))) {
      const start = match.index ?? 0;
      const end = start + match[0].length;
      if (!found.some((other) => start < other.end && other.start < end)) found.push({ start, end, user });
    }
  }
  found.sort((a, b) => a.start - b.start);
  const segments: Segment[] = [];
  let at = 0;
  for (const { start, end, user } of found) {
    if (start > at) segments.push({ text: body.slice(at, start) });
    segments.push({ text: body.slice(start, end), mention: user });
    at = end;
  }
  if (at < body.length || segments.length === 0) segments.push({ text: body.slice(at) });
  return segments;
}
