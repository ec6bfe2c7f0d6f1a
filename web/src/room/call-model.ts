// The video call as plain values: what Janus's video room says (publishers, their streams,
// who left, who talks, who a moderator muted) turned into participants; which streams to
// subscribe to; who is shown large on a phone; the order of raised hands; which session of a
// meeting the meeting page is about. No DOM and no janus.js here (tests: call-model.test.ts).
import type { Occurrence, VideoCallState, VideoHandEvent } from "../types";

// ----- what Janus says -----

/** A stream in a publisher's `streams` list (Janus 1.x video room). */
export interface JanusStream {
  type: string;
  mid: string;
  mindex?: number;
  /** Inactive for now: codec and the rest are missing, and it cannot be subscribed to. */
  disabled?: boolean;
  codec?: string;
  /** A moderator muted this stream (the `moderate` request). */
  moderated?: boolean;
  talking?: boolean;
}

/** An entry of a `publishers` list (in `joined` and in later events). */
export interface JanusPublisher {
  id: number;
  display?: string;
  dummy?: boolean;
  streams?: JanusStream[];
  talking?: boolean;
}

/** A stream of the subscription, as `attached` and `updated` list them. */
export interface SubscriberStream {
  mid: string;
  type?: string;
  feed_id?: number;
  feed_mid?: string;
  feed_display?: string;
  active?: boolean;
}

/** One feed and one of its streams, as `join`/`subscribe`/`unsubscribe` name them. */
export interface StreamRef {
  feed: number;
  mid: string;
}

// ----- participants -----

export interface Participant {
  feedId: number;
  display: string;
  /** This browser's own feed. */
  self: boolean;
  /** The publisher's audio stream mid: what a moderator's mute names. */
  audioMid: string | null;
  videoMid: string | null;
  /** Its microphone was muted by a moderator (enforced by Janus). */
  moderated: boolean;
  talking: boolean;
  /** When it last started talking (a counter; 0: never heard), for the active speaker. */
  spokeAt: number;
}

/** The mid of the first usable stream of a kind in a publisher's list (null: none). */
export function streamMid(streams: readonly JanusStream[] | undefined, type: "audio" | "video"): string | null {
  const usable = (streams ?? []).find((stream) => stream.type === type && !stream.disabled);
  return usable ? usable.mid : null;
}

/** The publisher's audio stream mid, which the moderators' mute request names. */
export function publisherAudioMid(streams: readonly JanusStream[] | undefined): string | null {
  return streamMid(streams, "audio");
}

function audioModerated(streams: readonly JanusStream[] | undefined): boolean {
  return (streams ?? []).some((stream) => stream.type === "audio" && stream.moderated === true);
}

function talkingIn(publisher: JanusPublisher): boolean {
  return publisher.talking === true || (publisher.streams ?? []).some((stream) => stream.talking === true);
}

/** The participants after a `publishers` list: known ones updated in place (their order is the
 * order they first published in), new ones added at the end, dummy publishers left out. */
export function mergePublishers(current: readonly Participant[], list: readonly JanusPublisher[], selfId: number | null): Participant[] {
  const next = [...current];
  for (const publisher of list) {
    if (publisher.dummy || typeof publisher.id !== "number") continue;
    const index = next.findIndex((p) => p.feedId === publisher.id);
    const known = index >= 0 ? next[index] : undefined;
    const merged: Participant = {
      feedId: publisher.id,
      display: publisher.display || known?.display || "Someone",
      self: publisher.id === selfId,
      audioMid: publisherAudioMid(publisher.streams),
      videoMid: streamMid(publisher.streams, "video"),
      moderated: audioModerated(publisher.streams),
      talking: talkingIn(publisher),
      spokeAt: known?.spokeAt ?? 0,
    };
    if (known) next[index] = merged;
    else next.push(merged);
  }
  return next;
}

/** This browser's own tile, first in the list. */
export function withSelf(current: readonly Participant[], feedId: number, display: string): Participant[] {
  const known = current.find((p) => p.feedId === feedId);
  const self: Participant = {
    feedId,
    display,
    self: true,
    audioMid: known?.audioMid ?? null,
    videoMid: known?.videoMid ?? null,
    moderated: known?.moderated ?? false,
    talking: known?.talking ?? false,
    spokeAt: known?.spokeAt ?? 0,
  };
  return [self, ...current.filter((p) => p.feedId !== feedId)];
}

export function withoutParticipant(current: readonly Participant[], feedId: number): Participant[] {
  return current.filter((p) => p.feedId !== feedId);
}

/** A `talking` / `stopped-talking` event. `tick` orders who started talking last. */
export function withTalking(current: readonly Participant[], feedId: number, talking: boolean, tick: number): Participant[] {
  return current.map((p) =>
    p.feedId === feedId ? { ...p, talking, spokeAt: talking ? tick : p.spokeAt } : p,
  );
}

/** A `moderation` event: only a mute of the participant's audio stream mutes their tile. */
export function withModeration(current: readonly Participant[], feedId: number, mid: string | null, muted: boolean): Participant[] {
  return current.map((p) =>
    p.feedId === feedId && (mid === null || p.audioMid === null || p.audioMid === mid)
      ? { ...p, moderated: muted }
      : p,
  );
}

// ----- subscribing -----

export const streamKey = (feed: number, mid: string): string => `${feed}/${mid}`;

/** The streams of these publishers still to subscribe to: never one already asked for, never
 * a disabled one or a data channel, and no video when the person joined with audio only. */
export function streamsToSubscribe(
  list: readonly JanusPublisher[],
  subscribed: ReadonlySet<string>,
  options: { audioOnly: boolean; selfId: number | null },
): StreamRef[] {
  const wanted: StreamRef[] = [];
  for (const publisher of list) {
    if (publisher.dummy || publisher.id === options.selfId) continue;
    for (const stream of publisher.streams ?? []) {
      if (stream.disabled || !stream.mid) continue;
      if (stream.type !== "audio" && stream.type !== "video") continue;
      if (stream.type === "video" && options.audioOnly) continue;
      if (subscribed.has(streamKey(publisher.id, stream.mid))) continue;
      wanted.push({ feed: publisher.id, mid: stream.mid });
    }
  }
  return wanted;
}

/** Which publisher each mid of the subscription carries (from `attached` / `updated`). */
export function feedsByMid(streams: readonly SubscriberStream[] | undefined): Map<string, number> {
  const map = new Map<string, number>();
  for (const stream of streams ?? []) {
    if (typeof stream.feed_id === "number" && stream.mid !== undefined && stream.active !== false) {
      map.set(String(stream.mid), stream.feed_id);
    }
  }
  return map;
}

// ----- the publisher handle's events -----

export type PublisherEvent =
  | { kind: "joined"; id: number; privateId: number | null; publishers: JanusPublisher[] }
  | { kind: "publishers"; publishers: JanusPublisher[] }
  /** Another participant left the call, stopped publishing, or was removed from it. */
  | { kind: "gone"; feedId: number }
  /** This browser was removed by a moderator (Janus kicked it). */
  | { kind: "removed" }
  /** This browser's own leave went through. */
  | { kind: "left" }
  /** The room is gone (the session ended). */
  | { kind: "destroyed" }
  | { kind: "talking"; feedId: number; talking: boolean }
  | { kind: "moderated"; feedId: number; mid: string | null; muted: boolean }
  | { kind: "error"; code: number | null; text: string }
  | { kind: "other" };

type Message = Record<string, unknown>;

const asNumber = (value: unknown): number | null => (typeof value === "number" && Number.isFinite(value) ? value : null);

/** What one message on the publisher handle means. `selfId` is this browser's feed id. */
export function readPublisherEvent(msg: Message, selfId: number | null): PublisherEvent {
  const event = msg.videoroom;
  if (typeof msg.error === "string" || msg.error_code !== undefined) {
    return { kind: "error", code: asNumber(msg.error_code), text: typeof msg.error === "string" ? msg.error : "" };
  }
  if (event === "joined") {
    return {
      kind: "joined",
      id: asNumber(msg.id) ?? selfId ?? 0,
      privateId: asNumber(msg.private_id),
      publishers: Array.isArray(msg.publishers) ? (msg.publishers as JanusPublisher[]) : [],
    };
  }
  if (event === "destroyed") return { kind: "destroyed" };
  if (event === "talking" || event === "stopped-talking") {
    const feedId = asNumber(msg.id);
    return feedId === null ? { kind: "other" } : { kind: "talking", feedId, talking: event === "talking" };
  }
  if (event !== "event") return { kind: "other" };
  // Janus tells the kicked participant `leaving: "ok"` with `reason: "kicked"`, and everyone
  // else `kicked: <id>`.
  if (msg.leaving === "ok") return msg.reason === "kicked" ? { kind: "removed" } : { kind: "left" };
  const kicked = asNumber(msg.kicked);
  if (kicked !== null) return kicked === selfId ? { kind: "removed" } : { kind: "gone", feedId: kicked };
  const leaving = asNumber(msg.leaving);
  if (leaving !== null) return leaving === selfId ? { kind: "left" } : { kind: "gone", feedId: leaving };
  const unpublished = asNumber(msg.unpublished);
  if (unpublished !== null) return { kind: "gone", feedId: unpublished };
  if (msg.moderation === "muted" || msg.moderation === "unmuted") {
    const feedId = asNumber(msg.id);
    if (feedId === null) return { kind: "other" };
    return { kind: "moderated", feedId, mid: typeof msg.mid === "string" ? msg.mid : null, muted: msg.moderation === "muted" };
  }
  if (Array.isArray(msg.publishers)) return { kind: "publishers", publishers: msg.publishers as JanusPublisher[] };
  return { kind: "other" };
}

// ----- layout -----

export type Layout = "speaker" | "grid";

/** Narrower than this (a phone): the active speaker large, the others in a row below. */
export const PHONE_WIDTH = 700;

export function layoutFor(width: number): Layout {
  return width < PHONE_WIDTH ? "speaker" : "grid";
}

/** Who is shown large: the tile the person pinned; else whoever started talking last (when
 * the room reports talking); else the one who published most recently; never oneself while
 * anyone else is there. */
export function activeSpeaker(list: readonly Participant[], pinned: number | null): number | null {
  if (pinned !== null && list.some((p) => p.feedId === pinned)) return pinned;
  const others = list.filter((p) => !p.self);
  if (others.length === 0) return list[0]?.feedId ?? null;
  let speaker: Participant | null = null;
  for (const p of others) if (p.spokeAt > 0 && (!speaker || p.spokeAt > speaker.spokeAt)) speaker = p;
  return (speaker ?? others[others.length - 1]!).feedId;
}

/** The tiles in the order drawn: on a phone the active speaker first; oneself first otherwise. */
export function tileOrder(list: readonly Participant[], active: number | null, layout: Layout): Participant[] {
  const selfFirst = [...list.filter((p) => p.self), ...list.filter((p) => !p.self)];
  if (layout === "grid" || active === null) return selfFirst;
  const lead = selfFirst.find((p) => p.feedId === active);
  return lead ? [lead, ...selfFirst.filter((p) => p !== lead)] : selfFirst;
}

// ----- raised hands -----

export interface RaisedHand {
  feedId: number;
  userId: number;
  displayName: string;
}

/** Hands in the order they went up: raising again keeps one's place; lowering leaves the list. */
export function applyHand(hands: readonly RaisedHand[], event: Pick<VideoHandEvent, "feed_id" | "user_id" | "display_name" | "raised">): RaisedHand[] {
  const rest = hands.filter((hand) => hand.userId !== event.user_id);
  if (!event.raised) return rest;
  const index = hands.findIndex((hand) => hand.userId === event.user_id);
  const hand: RaisedHand = { feedId: event.feed_id, userId: event.user_id, displayName: event.display_name };
  if (index < 0) return [...rest, hand];
  const kept = [...hands];
  kept[index] = hand;
  return kept;
}

/** The hands already up when one joins, oldest first: of those in the call now. */
export function handsFromCall(participants: VideoCallState["participants"]): RaisedHand[] {
  return participants
    .filter((p) => p.in_call && p.hand_raised_at !== null)
    .sort((a, b) => (a.hand_raised_at ?? "").localeCompare(b.hand_raised_at ?? ""))
    .map((p) => ({ feedId: p.feed_id, userId: p.user_id, displayName: p.display_name }));
}

/** Someone who left the call has no hand up any more. */
export function handsWithout(hands: readonly RaisedHand[], feedId: number): RaisedHand[] {
  return hands.filter((hand) => hand.feedId !== feedId);
}

// ----- which session the meeting page is about -----

/** Of a meeting's upcoming occurrences: the one in its lobby or live now, else the next one
 * that is not cancelled; null when there is none. */
export function currentOccurrence(list: readonly Occurrence[], meetingId: number): Occurrence | null {
  const mine = list.filter((occ) => occ.meeting_id === meetingId).sort((a, b) => Date.parse(a.starts_at) - Date.parse(b.starts_at));
  return (
    mine.find((occ) => occ.status === "lobby" || occ.status === "live") ??
    mine.find((occ) => occ.status === "scheduled") ??
    null
  );
}

export type SessionPhase = "outside" | "lobby" | "live" | "ended";

export function sessionPhase(occ: Occurrence | null): SessionPhase {
  if (!occ) return "outside";
  if (occ.status === "lobby" || occ.status === "live" || occ.status === "ended") return occ.status;
  return "outside";
}
