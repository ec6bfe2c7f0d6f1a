// Talks to the server for one open room: joins it (and catches up with `since` after every
// reconnect), turns socket events and outbox events into actions, loads older pages, marks the
// room read, and carries out what the person does to a message. Everything it learns goes
// through `dispatch`; it keeps only timers and the connection's subscriptions.
import { post } from "../api";
import { backoffMs } from "../backoff";
import { connection } from "../connection";
import { describe } from "../errors";
import { removeBanner } from "../notices";
import { outbox, type OutboxEvent } from "../outbox";
import { rooms as roomCache, unread } from "../state";
import { askToConfirm } from "../views/common";
import type {
  HistoryReply,
  JoinReply,
  MemberChangedEvent,
  Message,
  MessageDeletedEvent,
  MessageReply,
  Notice,
  PresenceEvent,
  ReactReply,
  ReactionsEvent,
  Room,
  TypingEvent,
  WireError,
} from "../types";
import { lastMarkedRead, rememberMute } from "./memory";
import type { PinsEvent, PinsReply } from "./pins";
import type { MessageList } from "./render";
import { jumpStep } from "./replies";
import { openReportDialog } from "./report";
import {
  CONNECTING_NOTE,
  OFFLINE_NOTE,
  findMessage,
  isJoinRetried,
  isMine,
  messageToMarkRead,
  newestId,
  oldestId,
  type RoomAction,
  type RoomState,
} from "./state";

const HISTORY_PAGE = 50;
// A `join` with `since` returns at most 200; follow up this many times before giving up.
const MAX_CATCH_UP_ROUNDS = 50;
// After a `join` that got no answer (or a server busy restarting), try again this soon,
// longer after each failure in a row (backoff.ts).
const JOIN_RETRY_MS = 2_000;
const JOIN_RETRY_MOST_MS = 15_000;
// Mark the room read this long after its newest message came into view.
const READ_DEBOUNCE_MS = 800;
// While someone is typing, look this often whether they stopped.
const TYPING_TICK_MS = 1_000;
// Going to a reply's original pages back at most this many times (a page holds 50).
const MAX_PAGES_TO_ORIGINAL = 40;
// While a page of older messages is on its way, look again this soon.
const LOADING_WAIT_MS = 100;
export const ORIGINAL_GONE_NOTE = "The message this replies to can no longer be shown.";
// Look again this long after a mute's end, so it has surely ended.
const MUTE_END_GRACE_MS = 500;
const MAX_TIMEOUT_MS = 2 ** 31 - 1;
// A confirmed deletion waits this long, shown as "Deleted · Undo", before it is sent.
export const UNDO_DELETE_MS = 5_000;

export interface RoomControllerDeps {
  roomId: number;
  state(): RoomState;
  dispatch(action: RoomAction): void;
  list: MessageList;
  focusComposer(): void;
  /** Kicked or banned: forget the room and leave its view. */
  removed(reason: "kicked" | "banned"): void;
}

export interface RoomController {
  start(): void;
  stop(): void;
  /** Called after every state change, to keep the clock-driven timers in step. */
  stateChanged(prev: RoomState, next: RoomState): void;
  loadOlder(): Promise<void>;
  /** Go to a reply's original (or a pinned message): load older pages until it is there, then
   * highlight it; `goneNote` says why it cannot be (by default, as a reply's original). */
  goToOriginal(originalId: number, goneNote?: string): Promise<void>;
  /** Staff pin a message to the room's header (or unpin it). */
  pin(messageId: number, pinned: boolean): Promise<void>;
  react(messageId: number, emoji: string): Promise<void>;
  remove(messageId: number): Promise<void>;
  saveEdit(original: Message, text: string): Promise<void>;
  report(message: Message): void;
  retry(clientId: string): void;
  discard(clientId: string): void;
  scrolled(position: { atBottom: boolean; nearTop: boolean }): void;
  note(text: string): void;
}

export function createRoomController(deps: RoomControllerDeps): RoomController {
  const { roomId, state, dispatch, list } = deps;
  const unsubscribers: (() => void)[] = [];
  let stopped = false;
  let readTimer: number | undefined;
  let typingTimer: number | undefined;
  let muteTimer: number | undefined;
  let joinRetry: number | undefined;
  let joinFailures = 0;
  // Confirmed deletions not sent yet, each with the timer that sends it.
  const deletions = new Map<number, number>();

  // ----- joining and catching up -----
  async function join(): Promise<void> {
    if (stopped || state().status === "catching_up" || !connection.usable()) return;
    const keepAtBottom = !state().everJoined || list.isFollowing();
    dispatch({ type: "join_started" });
    try {
      if (await catchUp()) {
        joinFailures = 0;
        dispatch({ type: "join_completed" });
        // Pins may have changed while we were away; `pins_changed` keeps them from now on.
        void loadPins();
        if (keepAtBottom) list.scrollToBottom();
        scheduleRead();
      }
    } finally {
      if (!stopped && state().status === "catching_up") dispatch({ type: "join_abandoned" });
    }
  }

  /** Join, then follow up with `since` until nothing is missing. False if it did not get in. */
  async function catchUp(): Promise<boolean> {
    let since = newestId(state());
    for (let round = 0; round < MAX_CATCH_UP_ROUNDS; round += 1) {
      const ack = await connection.request<JoinReply>("join", since === null ? { room_id: roomId } : { room_id: roomId, since });
      if (stopped) return false;
      if (!ack.ok) {
        refuseJoin(ack.error);
        return false;
      }
      dispatch({ type: "join_page_received", reply: ack, since });
      rememberRoom();
      confirmDelivered(ack.messages);
      if (since === null || !ack.has_more) break;
      since = newestId(state());
    }
    return true;
  }

  function refuseJoin(error: WireError): void {
    dispatch({ type: "join_refused", code: error.code, text: describe(error) });
    if (isJoinRetried(error.code)) {
      // Try again shortly (or on the next `connect`); the state says so meanwhile.
      window.clearTimeout(joinRetry);
      joinFailures += 1;
      const wait = backoffMs(joinFailures, JOIN_RETRY_MS, JOIN_RETRY_MOST_MS);
      joinRetry = window.setTimeout(() => void join(), wait);
    } else if (error.code === "banned") {
      // A ban notice's banner says the same: one alert, not two.
      removeBanner(`banned:${roomId}`);
    }
  }

  /** The rooms list shares what this view knows of the room. */
  function rememberRoom(): void {
    const room = state().room;
    if (room) roomCache.set(roomId, { ...room });
  }

  /** My messages that reached the room leave the outbox (the server stored each client_id once). */
  function confirmDelivered(messages: readonly Message[]): void {
    for (const message of messages) {
      if (message.client_id && isMine(state(), message)) outbox.delivered(message);
    }
  }

  // ----- older messages -----
  async function loadOlder(): Promise<void> {
    const before = oldestId(state());
    if (state().loadingOlder || !state().hasMore || before === null) return;
    dispatch({ type: "older_requested" });
    const ack = await connection.request<HistoryReply>("history", { room_id: roomId, before, limit: HISTORY_PAGE });
    if (stopped) return;
    if (!ack.ok) {
      dispatch({ type: "older_failed", text: describe(ack.error) });
      return;
    }
    list.keepReadingPlace(() => {
      dispatch({ type: "older_received", reply: ack });
      confirmDelivered(ack.messages);
    });
  }

  async function loadPins(): Promise<void> {
    const ack = await connection.request<PinsReply>("pins", { room_id: roomId });
    if (!stopped && ack.ok) dispatch({ type: "pins_changed", event: { room_id: roomId, pins: ack.pins } });
  }

  async function goToOriginal(originalId: number, goneNote = ORIGINAL_GONE_NOTE): Promise<void> {
    for (let round = 0; round < MAX_PAGES_TO_ORIGINAL && !stopped; round += 1) {
      const step = jumpStep(state(), originalId);
      if (step === "found") {
        list.highlight(originalId);
        return;
      }
      if (step === "gone") break;
      if (state().loadingOlder) {
        await new Promise((resolve) => window.setTimeout(resolve, LOADING_WAIT_MS));
        continue;
      }
      const oldest = oldestId(state());
      await loadOlder();
      // A page that did not come (its error is shown) ends the search.
      if (oldestId(state()) === oldest && state().hasMore) return;
    }
    if (!stopped) dispatch({ type: "note_shown", text: goneNote });
  }

  // ----- read marker -----
  function markRead(): void {
    window.clearTimeout(readTimer);
    readTimer = undefined;
    const newest = messageToMarkRead(state(), lastMarkedRead.get(roomId));
    if (newest === null || document.visibilityState !== "visible" || !list.atBottom()) return;
    lastMarkedRead.set(roomId, newest);
    dispatch({ type: "read_marked" });
    unread.read(roomId);
    post(`/api/rooms/${roomId}/read`, { message_id: newest }).catch(() => lastMarkedRead.delete(roomId));
  }

  function scheduleRead(): void {
    window.clearTimeout(readTimer);
    readTimer = window.setTimeout(() => {
      if (!stopped) markRead();
    }, READ_DEBOUNCE_MS);
  }

  const onVisible = (): void => {
    if (document.visibilityState === "visible") scheduleRead();
  };

  // ----- the clock: typists fade, mutes end -----
  function scheduleTypingTick(): void {
    window.clearTimeout(typingTimer);
    typingTimer = state().typists.length ? window.setTimeout(typingTick, TYPING_TICK_MS) : undefined;
  }
  function typingTick(): void {
    dispatch({ type: "time_passed", now: Date.now() });
    scheduleTypingTick();
  }

  function scheduleMuteEnd(): void {
    window.clearTimeout(muteTimer);
    const until = state().mutedUntil;
    muteTimer = until
      ? window.setTimeout(muteEndTick, Math.min(Date.parse(until) - Date.now() + MUTE_END_GRACE_MS, MAX_TIMEOUT_MS))
      : undefined;
  }
  function muteEndTick(): void {
    dispatch({ type: "time_passed", now: Date.now() });
    scheduleMuteEnd();
  }

  // ----- live events -----
  function on<T>(event: string, handler: (payload: T) => void): void {
    unsubscribers.push(connection.on(event, handler));
  }

  function subscribe(): void {
    // On connect, and on coming back online with the socket still open: catch up with `since`.
    on("usable", () => {
      dispatch({ type: "connection_usable" });
      void join();
    });
    on("state", () => {
      if (!connection.usable()) dispatch({ type: "connection_lost", offline: !navigator.onLine });
    });
    on<Message>("message", (message) => {
      if (message.room_id !== roomId) return;
      const follow = list.isFollowing() || isMine(state(), message);
      dispatch({ type: "message_received", message });
      confirmDelivered([message]);
      if (follow) list.scrollToBottom();
      scheduleRead();
    });
    on<Message>("message_updated", (message) => dispatch({ type: "message_updated", message }));
    on<MessageDeletedEvent>("message_deleted", (event) => dispatch({ type: "message_deleted", event }));
    on<ReactionsEvent>("reactions", (event) => dispatch({ type: "reactions_changed", event }));
    on<PinsEvent>("pins_changed", (event) => dispatch({ type: "pins_changed", event }));
    on<TypingEvent>("typing", (event) => dispatch({ type: "typing_seen", event, now: Date.now() }));
    on<PresenceEvent>("presence", (event) => {
      if (event.room_id !== roomId) return;
      dispatch({ type: "presence_changed", event });
      const cached = roomCache.get(roomId);
      if (cached) cached.online_count = state().online.length;
    });
    on<MemberChangedEvent>("member_changed", (event) => dispatch({ type: "member_changed", event }));
    on<Room>("room_updated", (room) => {
      if (room.id !== roomId) return;
      dispatch({ type: "room_updated", room });
      rememberRoom();
    });
    on<Notice>("notice", (notice) => {
      if (notice.room_id !== roomId) return;
      if (notice.kind === "muted" || notice.kind === "unmuted") {
        const until = notice.kind === "muted" ? notice.until ?? null : null;
        rememberMute(roomId, until);
        dispatch({ type: "mute_changed", until, now: Date.now() });
      } else if (notice.kind === "kicked" || notice.kind === "banned") {
        deps.removed(notice.kind);
      }
    });
    unsubscribers.push(outbox.subscribe(onOutboxEvent));
    // A message that comes while the room is on screen at its newest is read, not unread.
    unsubscribers.push(unread.watch(roomId, () => document.visibilityState === "visible" && list.isFollowing()));
    document.addEventListener("visibilitychange", onVisible);
    unsubscribers.push(() => document.removeEventListener("visibilitychange", onVisible));
  }

  function onOutboxEvent(event: OutboxEvent): void {
    if (event.type === "changed" && event.room_id === roomId) {
      const follow = list.isFollowing();
      dispatch({ type: "outbox_changed", items: outbox.forRoom(roomId) });
      if (follow) list.scrollToBottom();
    } else if (event.type === "sent" && event.message.room_id === roomId) {
      dispatch({ type: "send_acked", message: event.message, clientId: event.client_id });
      confirmDelivered([event.message]);
      list.scrollToBottom();
      scheduleRead();
    } else if (event.type === "refused" && event.room_id === roomId) {
      const { error } = event;
      if (error.code === "muted") rememberMute(roomId, error.until ?? null);
      dispatch({ type: "send_refused", error, text: describe(error), now: Date.now() });
      // As a refused join: the ban notice's banner says the same.
      if (error.code === "banned") removeBanner(`banned:${roomId}`);
    }
  }

  // ----- what the person does to a message -----
  async function react(messageId: number, emoji: string): Promise<void> {
    const ack = await connection.request<ReactReply>("react", { message_id: messageId, emoji });
    if (!ack.ok) return dispatch({ type: "error_shown", text: describe(ack.error) });
    dispatch({ type: "reactions_changed", event: { message_id: messageId, room_id: roomId, reactions: ack.reactions } });
  }

  /** Asked first (mine or, for staff, someone else's); then a few seconds to undo before the
   * server hears of it, since a deletion cannot be taken back there. */
  async function remove(messageId: number): Promise<void> {
    const message = findMessage(state(), messageId);
    if (!message || message.deleted || deletions.has(messageId)) return;
    const whose = isMine(state(), message) ? "Your message" : `${message.author.display_name}'s message`;
    const confirmed = await askToConfirm({
      title: "Delete this message?",
      text: `${whose} will be removed for everyone in this room. You can undo it for a few seconds.`,
      confirmText: "Delete",
    });
    if (!confirmed || stopped || deletions.has(messageId)) return;
    deletions.set(messageId, window.setTimeout(() => void sendDeletion(messageId), UNDO_DELETE_MS));
    list.showDeleting(messageId, () => {
      window.clearTimeout(deletions.get(messageId));
      deletions.delete(messageId);
      list.clearDeleting(messageId);
    });
  }

  async function sendDeletion(messageId: number): Promise<void> {
    deletions.delete(messageId);
    const ack = await connection.request<object>("delete", { message_id: messageId });
    if (stopped) return;
    if (ack.ok) {
      dispatch({ type: "error_cleared" });
      dispatch({ type: "message_deleted", event: { id: messageId, room_id: roomId } });
    }
    list.clearDeleting(messageId);
    if (!ack.ok) dispatch({ type: "error_shown", text: describe(ack.error) });
    // Focus was on Undo, which went with the message: the box, rather than nowhere.
    if (document.activeElement === document.body || document.activeElement === null) deps.focusComposer();
  }

  async function pin(messageId: number, pinned: boolean): Promise<void> {
    dispatch({ type: "error_cleared" });
    const ack = await connection.request<PinsReply>(pinned ? "pin" : "unpin", { room_id: roomId, message_id: messageId });
    if (!ack.ok) return dispatch({ type: "error_shown", text: describe(ack.error) });
    dispatch({ type: "pins_changed", event: { room_id: roomId, pins: ack.pins } });
    dispatch({ type: "note_shown", text: pinned ? "Message pinned for everyone in this room." : "Message unpinned." });
  }

  async function saveEdit(original: Message, text: string): Promise<void> {
    const body = text.trim();
    if (!body) return dispatch({ type: "error_shown", text: "Message: write something, or delete the message instead." });
    if (body === original.body) return dispatch({ type: "edit_finished", messageId: original.id });
    const ack = await connection.request<MessageReply>("edit", { message_id: original.id, body });
    if (!ack.ok) return dispatch({ type: "error_shown", text: describe(ack.error) });
    dispatch({ type: "error_cleared" });
    dispatch({ type: "message_updated", message: ack.message });
    dispatch({ type: "edit_finished", messageId: original.id });
  }

  return {
    start() {
      subscribe();
      scheduleMuteEnd();
      if (connection.usable()) void join();
      else dispatch({ type: "note_shown", text: navigator.onLine ? CONNECTING_NOTE : OFFLINE_NOTE });
    },
    stop() {
      // Leaving with the newest message in view counts as having read it.
      if (readTimer !== undefined) markRead();
      stopped = true;
      // Leaving the room is letting the time to undo run out: deletions waiting are sent now.
      for (const [messageId, timer] of deletions) {
        window.clearTimeout(timer);
        void connection.request("delete", { message_id: messageId });
      }
      deletions.clear();
      window.clearTimeout(typingTimer);
      window.clearTimeout(muteTimer);
      window.clearTimeout(joinRetry);
      for (const unsubscribe of unsubscribers) unsubscribe();
      if (state().status === "joined") void connection.request("leave", { room_id: roomId });
    },
    stateChanged(prev, next) {
      if (prev.typists !== next.typists) scheduleTypingTick();
      if (prev.mutedUntil !== next.mutedUntil) scheduleMuteEnd();
    },
    loadOlder,
    goToOriginal,
    pin,
    react,
    remove,
    saveEdit,
    report(message) {
      openReportDialog(message, () => dispatch({ type: "note_shown", text: "Thank you. Your report was sent to the moderators." }));
    },
    retry(clientId) {
      outbox.retry(clientId);
    },
    discard(clientId) {
      outbox.discard(clientId);
      deps.focusComposer();
    },
    scrolled({ atBottom, nearTop }) {
      if (nearTop && state().hasMore && state().everJoined) void loadOlder();
      if (atBottom) scheduleRead();
    },
    note(text) {
      dispatch({ type: "note_shown", text });
    },
  };
}
