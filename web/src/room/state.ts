// Everything the room view shows, as one value, and the one function that changes it.
// No DOM and no I/O here: the controller turns socket events and acks into actions, the
// renderers draw the result. Whatever needs the clock gets `now` in its action.
import { pluralize } from "../format";
import type { Outgoing } from "../outbox";
import type {
  HistoryReply,
  JoinReply,
  MemberChangedEvent,
  Message,
  MessageDeletedEvent,
  PresenceEvent,
  PublicUser,
  ReactionsEvent,
  Room,
  TypingEvent,
  WireError,
} from "../types";
import { pinsAfterDeletion, pinsAfterEdit, type Pin, type PinsEvent } from "./pins";
import { keepBetterQuote } from "./replies";

// The longest message body the server takes.
export const MAX_BODY = 4000;
// Forget a typist this long after their last `typing` (the server re-sends every ~3 s).
export const TYPING_SHOW_MS = 5_000;
export const OFFLINE_NOTE = "You are offline. Messages you write now are queued and sent when you are back online.";
export const CONNECTING_NOTE = "Connecting…";
export const WAITING_NOTE = "Waiting for the connection to open this room…";

// A join refused for these may work a moment later (no connection, no answer, a server busy
// restarting): it is tried again rather than said as a refusal.
const JOIN_RETRIED = new Set(["network", "timeout", "unavailable", "internal"]);

export function isJoinRetried(code: string): boolean {
  return JOIN_RETRIED.has(code);
}

/** Whether the room has us in it right now; "catching_up" while a join (and its follow-ups) runs. */
export type JoinStatus = "disconnected" | "catching_up" | "joined";

/** What the top of the log shows. */
export type LogTop =
  | { kind: "loading" }
  | { kind: "older"; loading: boolean }
  | { kind: "start" }
  | { kind: "empty" }
  | { kind: "closed" };

/** Something said once. A new object every time, so the same words said again are announced again. */
export interface Note {
  text: string;
}

export interface Typist {
  userId: number;
  name: string;
  /** ms since epoch after which they no longer count as typing */
  until: number;
}

export interface RoomState {
  roomId: number;
  meId: number | null;
  room: Room | null;
  /** Sorted by id, each id once (so a reconnect or an overlap never shows one twice). */
  messages: readonly Message[];
  /** Older messages exist on the server. */
  hasMore: boolean;
  loadingOlder: boolean;
  /** This room's messages still on their way (a copy of the outbox's), in sending order. */
  outbox: readonly Outgoing[];
  /** Ids of messages whose editor is open. */
  editing: readonly number[];
  /** The message the composer's next message replies to. */
  replyingTo: number | null;
  reactionChoices: readonly string[];
  /** Sorted by display name. */
  online: readonly PublicUser[];
  /** The room's pinned messages, the latest pinned first (room/pins.ts). */
  pins: readonly Pin[];
  /** In the order they started typing. */
  typists: readonly Typist[];
  status: JoinStatus;
  everJoined: boolean;
  /** The log is busy until the first join ends one way or the other. */
  busy: boolean;
  top: LogTop;
  /** Once the room refused us, there is no box to write in (for as long as the view lives). */
  composerHidden: boolean;
  /** ISO end of my mute here, while it lasts. */
  mutedUntil: string | null;
  /** A send was refused for the mute; said in the muted alert until one of mine gets through. */
  refusedWhileMuted: boolean;
  error: Note | null;
  note: Note | null;
}

export interface RoomInit {
  roomId: number;
  meId: number | null;
  room: Room | null;
  messages?: readonly Message[];
  hasMore?: boolean;
  outbox?: readonly Outgoing[];
  reactionChoices: readonly string[];
  mutedUntil?: string | null;
  now: number;
}

export type RoomAction =
  | { type: "join_started" }
  | { type: "join_page_received"; reply: JoinReply; since: number | null }
  | { type: "join_completed" }
  | { type: "join_refused"; code: string; text: string }
  | { type: "join_abandoned" }
  | { type: "connection_usable" }
  | { type: "connection_lost"; offline: boolean }
  | { type: "older_requested" }
  | { type: "older_received"; reply: HistoryReply }
  | { type: "older_failed"; text: string }
  | { type: "message_received"; message: Message }
  | { type: "message_updated"; message: Message }
  | { type: "message_deleted"; event: MessageDeletedEvent }
  | { type: "reactions_changed"; event: ReactionsEvent }
  | { type: "edit_started"; messageId: number }
  | { type: "edit_finished"; messageId: number }
  | { type: "reply_started"; messageId: number }
  | { type: "reply_cancelled" }
  | { type: "outbox_changed"; items: readonly Outgoing[] }
  | { type: "send_acked"; message: Message; clientId: string }
  | { type: "send_refused"; error: WireError; text: string; now: number }
  | { type: "typing_seen"; event: TypingEvent; now: number }
  | { type: "presence_changed"; event: PresenceEvent }
  | { type: "member_changed"; event: MemberChangedEvent }
  | { type: "room_updated"; room: Room }
  | { type: "pins_changed"; event: PinsEvent }
  | { type: "mute_changed"; until: string | null; now: number }
  | { type: "time_passed"; now: number }
  | { type: "read_marked" }
  | { type: "note_shown"; text: string }
  | { type: "error_shown"; text: string }
  | { type: "error_cleared" };

export function initialRoomState(init: RoomInit): RoomState {
  const state: RoomState = {
    roomId: init.roomId,
    meId: init.meId,
    room: init.room,
    messages: init.messages ?? [],
    hasMore: init.hasMore ?? true,
    loadingOlder: false,
    outbox: copyOutbox(init.outbox ?? []),
    editing: [],
    replyingTo: null,
    reactionChoices: init.reactionChoices,
    online: [],
    pins: [],
    typists: [],
    status: "disconnected",
    everJoined: false,
    busy: true,
    top: { kind: "loading" },
    composerHidden: false,
    mutedUntil: null,
    refusedWhileMuted: false,
    error: null,
    note: null,
  };
  return withTop(withMute(state, init.mutedUntil ?? null, init.now));
}

export function reduce(state: RoomState, action: RoomAction): RoomState {
  switch (action.type) {
    case "join_started":
      return state.status === "catching_up" ? state : { ...state, status: "catching_up" };
    case "join_page_received":
      return applyJoinPage(state, action.reply, action.since);
    case "join_completed":
      return withTop({ ...state, status: "joined", everJoined: true, busy: false, error: null, note: null });
    case "join_refused":
      return refuseJoin(state, action.code, action.text);
    case "join_abandoned":
      return state.status === "catching_up" ? { ...state, status: "disconnected" } : state;
    case "connection_usable":
      return state.status === "joined" ? { ...state, status: "disconnected" } : state;
    case "connection_lost":
      return loseConnection(state, action.offline);
    case "older_requested":
      return state.loadingOlder ? state : withTop({ ...state, loadingOlder: true });
    case "older_received":
      return withTop({
        ...dropDelivered({ ...state, messages: mergeMessages(state.messages, action.reply.messages) }, action.reply.messages),
        hasMore: action.reply.has_more,
        loadingOlder: false,
      });
    case "older_failed":
      return withTop({ ...state, loadingOlder: false, error: { text: action.text } });
    case "message_received":
      return receiveMessage(state, action.message);
    case "message_updated": {
      if (action.message.room_id !== state.roomId) return state;
      const next = replaceMessage(state, action.message.id, (known) => keepBetterQuote(known, action.message));
      return withPins(next, pinsAfterEdit(state.pins, action.message));
    }
    case "message_deleted": {
      if (action.event.room_id !== state.roomId) return state;
      return withPins(replaceMessage(state, action.event.id, deletedCopy), pinsAfterDeletion(state.pins, action.event.id));
    }
    case "reactions_changed": {
      const { event } = action;
      if (event.room_id !== state.roomId) return state;
      return replaceMessage(state, event.message_id, (message) => ({ ...message, reactions: event.reactions }));
    }
    case "edit_started":
      return state.editing.includes(action.messageId) || !findMessage(state, action.messageId)
        ? state
        : { ...state, editing: [...state.editing, action.messageId] };
    case "edit_finished":
      return state.editing.includes(action.messageId)
        ? { ...state, editing: state.editing.filter((id) => id !== action.messageId) }
        : state;
    case "reply_started":
      return state.replyingTo === action.messageId || !findMessage(state, action.messageId)
        ? state
        : { ...state, replyingTo: action.messageId };
    case "reply_cancelled":
      return state.replyingTo === null ? state : { ...state, replyingTo: null };
    case "outbox_changed":
      return { ...state, outbox: copyOutbox(action.items.filter((item) => item.room_id === state.roomId)) };
    case "send_acked":
      return acknowledgeSend(state, action.message, action.clientId);
    case "send_refused":
      return refuseSend(state, action.error, action.text, action.now);
    case "typing_seen":
      return seeTyping(state, action.event, action.now);
    case "presence_changed":
      return changePresence(state, action.event);
    case "member_changed":
      return changeMember(state, action.event);
    case "room_updated": {
      if (action.room.id !== state.roomId) return state;
      return { ...state, room: { ...(state.room ?? action.room), ...action.room } };
    }
    case "pins_changed":
      return action.event.room_id === state.roomId ? { ...state, pins: action.event.pins } : state;
    case "mute_changed": {
      const next = withMute(state, action.until, action.now);
      return next.mutedUntil === null ? { ...next, refusedWhileMuted: false } : next;
    }
    case "time_passed":
      return passTime(state, action.now);
    case "read_marked":
      return state.room ? { ...state, room: { ...state.room, unread_count: 0 } } : state;
    case "note_shown":
      return { ...state, note: { text: action.text } };
    case "error_shown":
      return { ...state, error: { text: action.text } };
    case "error_cleared":
      return state.error === null ? state : { ...state, error: null };
  }
}

// ----- selectors -----

export function newestId(state: RoomState): number | null {
  return state.messages.length ? state.messages[state.messages.length - 1].id : null;
}

export function oldestId(state: RoomState): number | null {
  return state.messages.length ? state.messages[0].id : null;
}

export function findMessage(state: RoomState, id: number): Message | undefined {
  return state.messages.find((message) => message.id === id);
}

export function isMine(state: RoomState, message: Message): boolean {
  return state.meId !== null && message.author.id === state.meId;
}

/** The newest message, when it is newer than the last one marked read (and so should be). */
export function messageToMarkRead(state: RoomState, lastMarked: number | undefined): number | null {
  const newest = newestId(state);
  return newest !== null && newest > (lastMarked ?? 0) ? newest : null;
}

// ----- joining -----

function applyJoinPage(state: RoomState, reply: JoinReply, since: number | null): RoomState {
  let next = state;
  const choices = offeredReactions(reply.reaction_emojis);
  if (choices && choices.join() !== state.reactionChoices.join()) {
    // The whole log is drawn again with the new set; its top is worked out before this page lands.
    next = withTop({ ...next, reactionChoices: choices });
  }
  const online = sortByName(reply.online);
  next = {
    ...next,
    room: { ...reply.room, online_count: online.length },
    online,
    messages: mergeMessages(next.messages, reply.messages),
  };
  next = dropDelivered(next, reply.messages);
  // Only a first join (without `since`) says whether older messages exist.
  return since === null ? { ...next, hasMore: reply.has_more } : next;
}

function offeredReactions(emojis: unknown): string[] | null {
  if (!Array.isArray(emojis) || emojis.length === 0) return null;
  return emojis.filter((emoji): emoji is string => typeof emoji === "string");
}

function refuseJoin(state: RoomState, code: string, text: string): RoomState {
  const next: RoomState = { ...state, status: state.status === "catching_up" ? "disconnected" : state.status };
  if (isJoinRetried(code)) return { ...next, note: { text: WAITING_NOTE } };
  return closeRoom(next, text);
}

/** The room will not have us: said once, in the error alert, and no box to write in. */
function closeRoom(state: RoomState, text: string): RoomState {
  return { ...state, error: { text }, busy: false, top: { kind: "closed" }, composerHidden: true };
}

function loseConnection(state: RoomState, offline: boolean): RoomState {
  const next = state.status === "joined" ? { ...state, status: "disconnected" as const } : state;
  return offline ? { ...next, note: { text: OFFLINE_NOTE } } : next;
}

// ----- messages -----

function receiveMessage(state: RoomState, message: Message): RoomState {
  if (message.room_id !== state.roomId) return state;
  let next = state;
  // One of mine that was waiting got through (a crisis post goes through a mute).
  const waiting = isMine(state, message) && message.client_id && state.outbox.some((item) => item.client_id === message.client_id);
  if (waiting && next.refusedWhileMuted) next = { ...next, refusedWhileMuted: false };
  if (next.typists.some((typist) => typist.userId === message.author.id)) {
    next = { ...next, typists: next.typists.filter((typist) => typist.userId !== message.author.id) };
  }
  return landMessage(next, message);
}

function acknowledgeSend(state: RoomState, message: Message, clientId: string): RoomState {
  if (message.room_id !== state.roomId) return state;
  // It got through, so a refusal for the mute no longer needs saying.
  const next = { ...state, refusedWhileMuted: false, outbox: state.outbox.filter((item) => item.client_id !== clientId) };
  return landMessage(next, message);
}

/** A message arriving on its own: the first one also changes what the top of the log says. */
function landMessage(state: RoomState, message: Message): RoomState {
  const first = state.messages.length === 0;
  const next = dropDelivered({ ...state, messages: mergeMessages(state.messages, [message]) }, [message]);
  return first && next.everJoined ? withTop(next) : next;
}

/** My messages that reached the room replace their waiting copies (a failed one stays until
 * the person retries or discards it). */
function dropDelivered(state: RoomState, messages: readonly Message[]): RoomState {
  const delivered = new Set(
    messages.filter((message) => message.client_id && isMine(state, message)).map((message) => message.client_id),
  );
  if (delivered.size === 0) return state;
  const outbox = state.outbox.filter((item) => item.state === "failed" || !delivered.has(item.client_id));
  return outbox.length === state.outbox.length ? state : { ...state, outbox };
}

/** `messages` merged into `list` by id: a known id is replaced, never shown twice (keeping a
 * reply's quote where the new copy could only say it is hidden). */
export function mergeMessages(list: readonly Message[], messages: readonly Message[]): readonly Message[] {
  if (messages.length === 0) return list;
  const byId = new Map(list.map((message) => [message.id, message]));
  for (const message of messages) byId.set(message.id, keepBetterQuote(byId.get(message.id), message));
  return [...byId.values()].sort((a, b) => a.id - b.id);
}

/** A known message changed; an id this view never had is ignored. */
function replaceMessage(state: RoomState, id: number, change: (message: Message) => Message): RoomState {
  const index = state.messages.findIndex((message) => message.id === id);
  if (index < 0) return state;
  const messages = [...state.messages];
  messages[index] = change(messages[index]);
  return { ...state, messages };
}

function withPins(state: RoomState, pins: readonly Pin[]): RoomState {
  return pins === state.pins ? state : { ...state, pins };
}

function deletedCopy(message: Message): Message {
  return { ...message, deleted: true, body: "", reactions: {}, reply_to: null, mentions: [] };
}

// The outbox changes its entries in place; the state keeps copies so it never changes underneath.
function copyOutbox(items: readonly Outgoing[]): Outgoing[] {
  return items.map((item) => ({ ...item }));
}

// ----- sending refused -----

function refuseSend(state: RoomState, error: WireError, text: string, now: number): RoomState {
  if (error.code === "muted") {
    const muted = withMute(state, error.until ?? null, now);
    // Said once, in the muted alert; a mute with no end time in the future has none, so it is said below.
    if (muted.mutedUntil !== null) return { ...muted, refusedWhileMuted: true };
    state = { ...muted, refusedWhileMuted: false };
  }
  if (error.code === "banned") return closeRoom(state, text);
  if (error.code === "rate_limited") {
    const wait = Math.max(1, Math.ceil(Number(error.retry_after_s ?? 1)));
    return {
      ...state,
      error: { text: `You are sending messages too quickly. Wait ${pluralize(wait, "second")}: your message will be sent then.` },
    };
  }
  return { ...state, error: { text } };
}

// ----- mutes, typing, presence and the clock -----

/** A mute counts only while its end is in the future. */
function withMute(state: RoomState, until: string | null, now: number): RoomState {
  const mutedUntil = until && Date.parse(until) > now ? until : null;
  return mutedUntil === state.mutedUntil ? state : { ...state, mutedUntil };
}

function seeTyping(state: RoomState, event: TypingEvent, now: number): RoomState {
  if (event.room_id !== state.roomId || event.user.id === state.meId) return state;
  const typist: Typist = { userId: event.user.id, name: event.user.display_name, until: now + TYPING_SHOW_MS };
  const known = state.typists.some((other) => other.userId === typist.userId);
  const typists = known
    ? state.typists.map((other) => (other.userId === typist.userId ? typist : other))
    : [...state.typists, typist];
  return { ...state, typists: typists.filter((other) => other.until > now) };
}

function changePresence(state: RoomState, event: PresenceEvent): RoomState {
  if (event.room_id !== state.roomId) return state;
  const others = state.online.filter((user) => user.id !== event.user.id);
  const online = event.status === "online" ? sortByName([...others, event.user]) : others;
  const typists = event.status === "online" ? state.typists : state.typists.filter((typist) => typist.userId !== event.user.id);
  const room = state.room ? { ...state.room, online_count: online.length } : null;
  return { ...state, online, typists: typists.length === state.typists.length ? state.typists : typists, room };
}

/** Someone changed their alias, pronouns or line: messages name their author by id, so every
 * place this view shows them (old messages, quotes, mentions, who is here, typing) says the new. */
function changeMember(state: RoomState, event: MemberChangedEvent): RoomState {
  const id = event.user_id;
  const renamed = <U extends PublicUser>(user: U): U => (user.id === id ? { ...user, display_name: event.display_name } : user);
  const touches = (message: Message): boolean =>
    message.author.id === id || message.reply_to?.author?.id === id || (message.mentions ?? []).some((user) => user.id === id);
  const messages = state.messages.some(touches)
    ? state.messages.map((message) =>
        touches(message)
          ? {
              ...message,
              author: renamed(message.author),
              reply_to: message.reply_to?.author ? { ...message.reply_to, author: renamed(message.reply_to.author) } : message.reply_to,
              mentions: message.mentions?.map(renamed),
            }
          : message,
      )
    : state.messages;
  const online = state.online.some((user) => user.id === id)
    ? sortByName(state.online.map((user) => (user.id === id ? { ...user, display_name: event.display_name, pronouns: event.pronouns, line: event.line } : user)))
    : state.online;
  const typists = state.typists.some((typist) => typist.userId === id)
    ? state.typists.map((typist) => (typist.userId === id ? { ...typist, name: event.display_name } : typist))
    : state.typists;
  return { ...state, messages, online, typists };
}

function passTime(state: RoomState, now: number): RoomState {
  let next = state;
  const typists = state.typists.filter((typist) => typist.until > now);
  if (typists.length !== state.typists.length) next = { ...next, typists };
  if (state.mutedUntil !== null && Date.parse(state.mutedUntil) <= now) {
    next = { ...next, mutedUntil: null, refusedWhileMuted: false };
  }
  return next;
}

function sortByName(users: readonly PublicUser[]): PublicUser[] {
  return [...users].sort((a, b) => a.display_name.localeCompare(b.display_name));
}

// ----- the top of the log -----

/** What the top of the log says now. Worked out only where the log's top is meant to change. */
function withTop(state: RoomState): RoomState {
  return { ...state, top: topFor(state) };
}

function topFor(state: RoomState): LogTop {
  if (!state.everJoined && state.messages.length === 0) return { kind: "loading" };
  if (state.hasMore) return { kind: "older", loading: state.loadingOlder };
  return state.messages.length ? { kind: "start" } : { kind: "empty" };
}
