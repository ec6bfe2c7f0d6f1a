// A room: its messages (kept by id, so a reconnect or an overlap never shows one twice), who is
// here, who is typing, and the box to write in.
import { post } from "../api";
import { connection } from "../connection";
import { openDialog } from "../dialog";
import { describe, describeAny } from "../errors";
import { fullTime, pluralize, shortTime, untilPhrase } from "../format";
import { h, replaceChildren, uid } from "../h";
import { removeBanner } from "../notices";
import { outbox, type Outgoing } from "../outbox";
import { currentUser, isStaff, store } from "../session";
import { rooms as roomCache } from "../state";
import type { Ack, Message, Notice, PublicUser, Room } from "../types";
import { button, errorBox, field, heading, statusBox, type View } from "./common";
import { moderateButton } from "./moderate";

// The configured reaction set: the server's defaults for `reaction_emojis`, replaced by the
// list a `join` ack carries when the server sends one (`reaction_emojis`).
let REACTIONS = ["👍", "❤️", "🙏", "💪", "🤗", "😢", "😂", "🎉"];

// Send `typing` at most this often while someone types.
const TYPING_EMIT_MS = 2_000;
// Forget a typist this long after their last `typing` (the server re-sends every ~3 s).
const TYPING_SHOW_MS = 5_000;
// Mark the room read this long after its newest message came into view.
const READ_DEBOUNCE_MS = 800;
// Said wherever posting is held back (a mute, a locked room): nobody in crisis is silenced, since
// the server lets a post with crisis language through to staff and answers with support.
const STILL_WRITE = "If you are struggling, you can still write here and staff will see it.";
// Within this many pixels of an edge counts as "at" it.
const EDGE_PX = 48;
const HISTORY_PAGE = 50;
// A `join` with `since` returns at most 200; follow up this many times before giving up.
const MAX_CATCH_UP_ROUNDS = 50;
const MAX_BODY = 4000;
// After a `join` that got no answer (or a server busy restarting), try again this soon.
const JOIN_RETRY_MS = 2_000;
const OFFLINE_NOTE = "You are offline. Messages you write now are queued and sent when you are back online.";

interface RoomCache {
  messages: Map<number, Message>;
  hasMore: boolean;
}

// Kept while the tab lives, so coming back to a room re-joins with `since`.
const caches = new Map<number, RoomCache>();
const lastRead = new Map<number, number>();

/** Mutes I know of, by room: ISO end time. */
function mutedUntil(roomId: number): Date | null {
  const iso = store.get<Record<string, string>>("mutes", {})[roomId];
  if (!iso) return null;
  const until = new Date(iso);
  return until.getTime() > Date.now() ? until : null;
}

export function rememberMute(roomId: number, until: string | null | undefined): void {
  const mutes = store.get<Record<string, string>>("mutes", {});
  if (until) mutes[roomId] = until;
  else delete mutes[roomId];
  store.set("mutes", mutes);
}

let openRoomId: number | null = null;
export function currentRoomId(): number | null {
  return openRoomId;
}

export function roomView(roomId: number, onLeave: (reason: string) => void): View {
  const me = currentUser();
  const staff = isStaff(me);
  const cache = caches.get(roomId) ?? { messages: new Map<number, Message>(), hasMore: true };
  caches.set(roomId, cache);
  const articles = new Map<number, HTMLElement>();
  const editing = new Set<number>();
  const online = new Map<number, PublicUser>();
  const typers = new Map<number, { name: string; until: number }>();
  const cleanups: (() => void)[] = [];
  let room: Room | null = roomCache.get(roomId) ?? null;
  let joined = false;
  let joining = false;
  let loadingOlder = false;
  let everJoined = false;
  let lastTypingSent = 0;
  let readTimer: number | undefined;
  let typingTimer: number | undefined;
  let muteTimer: number | undefined;
  let joinRetry: number | undefined;
  let stopped = false;
  openRoomId = roomId;

  // ----- the page -----
  const title = heading(room?.name ?? "Room");
  const topic = h("p", { class: "room-topic" });
  const flags = h("p", { class: "room-flags" });
  const errors = errorBox();
  const info = statusBox();
  // The one place a mute is said in the room (its notice, a refused send): one alert, not two.
  const mutedBox = h("div", { role: "alert", class: "muted-box", hidden: true });
  // A locked room, said calmly (a status, not an alert); the composer stays for the same reason.
  const pausedBox = h("p", { role: "status", class: "paused-box" });
  const top = h("div", { class: "log-top" });
  const pendingList = h("div", { class: "pending" });
  const log = h("div", {
    role: "log",
    "aria-label": "Messages",
    class: "log",
    tabindex: "0",
    "aria-busy": "true",
  });
  const list = h("div", { class: "log-items" });
  log.append(top, list, pendingList);
  const typing = h("div", { role: "status", "aria-label": "Typing", class: "typing" });
  const textarea = h("textarea", {
    id: uid("message"),
    rows: "1",
    maxlength: String(MAX_BODY),
    placeholder: "Write a message…",
    autocomplete: "off",
    enterkeyhint: "send",
  });
  const sendButton = h("button", { type: "submit", class: "primary send" }, "Send");
  const composer = h(
    "form",
    { class: "composer", novalidate: true },
    h("label", { for: textarea.id, class: "sr-only" }, "Message"),
    textarea,
    sendButton,
  );
  const composerHint = h("p", { class: "hint composer-hint", id: uid("hint") }, "Enter sends. Shift+Enter starts a new line.");
  textarea.setAttribute("aria-describedby", composerHint.id);
  const peopleTitleId = uid("people");
  const peopleList = h("ul", { class: "people-list", "aria-labelledby": peopleTitleId });
  const peopleCount = h("span", { class: "count" });
  const people = h(
    "section",
    { class: "people", "aria-labelledby": peopleTitleId },
    h("h2", { class: "people-title" }, h("span", { id: peopleTitleId }, "Who's here"), " ", peopleCount),
    peopleList,
  );
  const chat = h("section", { class: "chat", "aria-label": "Conversation" }, errors.node, mutedBox, pausedBox, info.node, log, typing, composer, composerHint);
  const node = h(
    "div",
    { class: "room-view" },
    h("div", { class: "room-head" }, title, topic, flags),
    h("div", { class: "room-body" }, chat, people),
  );

  // ----- header -----
  const renderHead = (): void => {
    if (!room) return;
    title.textContent = room.name;
    document.title = `${room.name} – peerrooms`;
    topic.textContent = room.topic ?? "";
    topic.hidden = !room.topic;
    renderPaused();
    const parts: string[] = [];
    if (room.slow_mode_s > 0) parts.push(`Slow mode: one message every ${pluralize(room.slow_mode_s, "second")}.`);
    flags.textContent = parts.join(" ");
    flags.hidden = parts.length === 0;
  };
  /** A locked room; the way to reach staff is said once (the muted alert may say it). */
  function renderPaused(): void {
    let paused = "";
    if (room?.locked && staff) paused = "This room is locked: only moderators can post.";
    else if (room?.locked) paused = `A moderator has paused this room.${mutedUntil(roomId) ? "" : ` ${STILL_WRITE}`}`;
    if (pausedBox.textContent !== paused) pausedBox.textContent = paused;
  }
  renderHead();

  // ----- messages -----
  const atBottom = (): boolean => log.scrollHeight - log.scrollTop - log.clientHeight < EDGE_PX;
  // Whether the person is reading the newest messages: then new ones, and a log that changes
  // size (an alert above it, the keyboard on a phone), keep them in view.
  let stick = true;
  const scrollToBottom = (): void => {
    stick = true;
    log.scrollTop = log.scrollHeight;
  };
  const maxId = (): number | null => {
    let max: number | null = null;
    for (const id of cache.messages.keys()) if (max === null || id > max) max = id;
    return max;
  };
  const minId = (): number | null => {
    let min: number | null = null;
    for (const id of cache.messages.keys()) if (min === null || id < min) min = id;
    return min;
  };

  const renderTop = (): void => {
    if (!everJoined && cache.messages.size === 0) {
      replaceChildren(top, h("p", { class: "note" }, "Loading messages…"));
    } else if (cache.hasMore) {
      // One button kept across pages (not disabled while loading, which would drop focus).
      olderButton.textContent = loadingOlder ? "Loading older messages…" : "Load older messages";
      olderButton.setAttribute("aria-disabled", String(loadingOlder));
      if (olderButton.parentElement !== top) replaceChildren(top, olderButton);
    } else {
      const focusMoves = top.contains(document.activeElement);
      replaceChildren(top, h("p", { class: "note" }, cache.messages.size ? "This is the start of the room." : "No messages yet. Say hello."));
      if (focusMoves) log.focus();
    }
  };
  const olderButton = button("Load older messages", { class: "small" });
  olderButton.addEventListener("click", () => void loadOlder());

  const messageArticle = (message: Message): HTMLElement => {
    const mine = me !== null && message.author.id === me.id;
    const authorIsStaff = isStaff(message.author);
    const headId = uid("msg");
    const authorNode =
      staff && !mine && !authorIsStaff && !message.deleted
        ? moderateButton(roomId, message.author, (text) => info.show(text), message.author.display_name)
        : h("span", { class: "author" }, message.author.display_name);
    const head = h(
      "p",
      { class: "msg-head", id: headId },
      authorNode,
      authorIsStaff ? h("span", { class: "tag" }, "Staff") : null,
      mine ? h("span", { class: "tag mine" }, "You") : null,
      h("time", { datetime: message.created_at, title: fullTime(message.created_at) }, shortTime(message.created_at)),
      message.edited_at && !message.deleted ? h("span", { class: "edited" }, "(edited)") : null,
    );
    const article = h("article", {
      class: `msg${mine ? " own" : ""}${message.deleted ? " deleted" : ""}`,
      "aria-labelledby": headId,
      "data-id": String(message.id),
    });
    if (message.deleted) {
      article.append(head, h("p", { class: "body deleted-text" }, "Message deleted"));
      return article;
    }
    const body = h("p", { class: "body" }, message.body);
    article.append(head, body);
    const counts = Object.entries(message.reactions ?? {}).filter(([, n]) => n > 0);
    if (counts.length) {
      article.append(
        h(
          "ul",
          { class: "reactions", "aria-label": "Reactions" },
          ...counts.map(([emoji, n]) => h("li", { class: "reaction" }, `${emoji} ${n}`)),
        ),
      );
    }
    const actions = h("div", { class: "msg-actions" });
    const panelId = uid("react");
    const reactButton = button("React", { class: "small", "aria-expanded": "false", "aria-controls": panelId });
    const panel = h("div", { class: "react-panel", id: panelId, hidden: true, role: "group", "aria-label": "Reactions to choose from" });
    for (const emoji of REACTIONS) {
      const choice = button(emoji, { class: "emoji", "aria-label": `React with ${emoji}` });
      choice.addEventListener("click", () => {
        closePanel();
        void react(message.id, emoji);
      });
      panel.append(choice);
    }
    const closePanel = (): void => {
      panel.hidden = true;
      reactButton.setAttribute("aria-expanded", "false");
      reactButton.focus();
    };
    panel.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.preventDefault();
        closePanel();
      }
    });
    reactButton.addEventListener("click", () => {
      const opening = panel.hidden;
      panel.hidden = !opening;
      reactButton.setAttribute("aria-expanded", String(opening));
      if (opening) (panel.firstElementChild as HTMLElement | null)?.focus();
    });
    actions.append(reactButton);
    if (!mine) {
      const report = button("Report", { class: "small", "aria-haspopup": "dialog" });
      report.addEventListener("click", () => openReportDialog(message));
      actions.append(report);
    }
    if (mine) {
      const edit = button("Edit", { class: "small" });
      edit.addEventListener("click", () => startEdit(message, article, body, actions));
      actions.append(edit);
    }
    if (mine || staff) {
      const del = button("Delete", { class: "small danger-text" });
      del.addEventListener("click", () => void remove(message.id));
      actions.append(del);
    }
    article.append(actions, panel);
    return article;
  };

  /** Put a message in its place by id (or refresh it). */
  const upsert = (message: Message): void => {
    cache.messages.set(message.id, message);
    const next = messageArticle(message);
    const existing = articles.get(message.id);
    if (existing) {
      // Being edited: the editor stays; finishing the edit renders what the cache holds then.
      if (editing.has(message.id)) return;
      const focused = existing.contains(document.activeElement) ? (document.activeElement as HTMLElement) : null;
      const panelOpen = existing.querySelector(".react-panel:not([hidden])") !== null;
      existing.replaceWith(next);
      articles.set(message.id, next);
      if (panelOpen) {
        const panel = next.querySelector<HTMLElement>(".react-panel");
        if (panel) panel.hidden = false;
        next.querySelector("[aria-expanded]")?.setAttribute("aria-expanded", "true");
      }
      if (focused) sameControl(next, focused)?.focus();
      return;
    }
    articles.set(message.id, next);
    // Find the first article with a larger id; most messages are newest, so look from the end.
    let before: Element | null = null;
    for (let el = list.lastElementChild; el; el = el.previousElementSibling) {
      const id = Number((el as HTMLElement).dataset.id);
      if (id > message.id) before = el;
      else break;
    }
    list.insertBefore(next, before);
  };

  const mergeAll = (messages: Message[]): void => {
    for (const message of messages) {
      upsert(message);
      if (message.client_id && me && message.author.id === me.id) outbox.delivered(message);
    }
  };

  const renderPending = (): void => {
    const items = outbox.forRoom(roomId);
    replaceChildren(pendingList, ...items.map(pendingArticle));
  };

  const pendingArticle = (item: Outgoing): HTMLElement => {
    const headId = uid("pending");
    const stateText =
      item.state === "failed" ? `Not sent: ${item.error ?? "the server refused it."}` : item.state === "queued" ? "Queued" : "Sending…";
    const article = h(
      "article",
      { class: `msg own pending ${item.state}`, "aria-labelledby": headId },
      h("p", { class: "msg-head", id: headId }, h("span", { class: "author" }, me?.display_name ?? "You"), h("span", { class: "tag mine" }, "You")),
      h("p", { class: "body" }, item.body),
      h("p", { class: "msg-state" }, stateText),
    );
    if (item.state === "failed") {
      const retry = button("Try again", { class: "small" });
      retry.addEventListener("click", () => outbox.retry(item.client_id));
      const discard = button("Discard", { class: "small" });
      discard.addEventListener("click", () => {
        outbox.discard(item.client_id);
        textarea.focus();
      });
      article.append(h("div", { class: "msg-actions" }, retry, discard));
    }
    return article;
  };

  const renderAll = (): void => {
    replaceChildren(list);
    articles.clear();
    const sorted = [...cache.messages.values()].sort((a, b) => a.id - b.id);
    for (const message of sorted) {
      const el = messageArticle(message);
      articles.set(message.id, el);
      list.append(el);
    }
    renderPending();
    renderTop();
  };

  // ----- joining and catching up -----
  const join = async (): Promise<void> => {
    if (joining || stopped) return;
    if (!connection.usable()) return;
    joining = true;
    const wasAtBottom = !everJoined || stick;
    try {
      let since = maxId();
      for (let round = 0; round < MAX_CATCH_UP_ROUNDS; round += 1) {
        const payload = since === null ? { room_id: roomId } : { room_id: roomId, since };
        const ack = await connection.request<{
          room: Room;
          online: PublicUser[];
          messages: Message[];
          has_more: boolean;
          reaction_emojis?: string[];
        }>("join", payload);
        if (stopped) return;
        if (!ack.ok) {
          joinRefused(ack.error.code, describe(ack.error));
          return;
        }
        if (Array.isArray(ack.reaction_emojis) && ack.reaction_emojis.length > 0 && ack.reaction_emojis.join() !== REACTIONS.join()) {
          REACTIONS = ack.reaction_emojis.filter((emoji) => typeof emoji === "string");
          renderAll();
        }
        room = ack.room;
        roomCache.set(roomId, room);
        renderHead();
        online.clear();
        for (const user of ack.online) online.set(user.id, user);
        renderPeople();
        mergeAll(ack.messages);
        if (since === null) {
          cache.hasMore = ack.has_more;
          break;
        }
        if (!ack.has_more) break;
        since = maxId();
      }
      joined = true;
      everJoined = true;
      errors.clear();
      info.clear();
      log.setAttribute("aria-busy", "false");
      renderTop();
      if (wasAtBottom) scrollToBottom();
      scheduleRead();
    } finally {
      joining = false;
    }
  };

  const joinRefused = (code: string, text: string): void => {
    if (code === "network" || code === "timeout" || code === "unavailable" || code === "internal") {
      // Try again shortly (or on the next `connect`); say so meanwhile.
      info.show("Waiting for the connection to open this room…");
      window.clearTimeout(joinRetry);
      joinRetry = window.setTimeout(() => void join(), JOIN_RETRY_MS);
      return;
    }
    errors.show(text);
    // A ban notice's banner says the same: one alert, not two.
    if (code === "banned") removeBanner(`banned:${roomId}`);
    log.setAttribute("aria-busy", "false");
    replaceChildren(top, h("p", { class: "note" }, "This room cannot be opened."));
    composer.hidden = true;
    composerHint.hidden = true;
  };

  const loadOlder = async (): Promise<void> => {
    const before = minId();
    if (loadingOlder || !cache.hasMore || before === null) return;
    loadingOlder = true;
    renderTop();
    const ack = await connection.request<{ messages: Message[]; has_more: boolean }>("history", {
      room_id: roomId,
      before,
      limit: HISTORY_PAGE,
    });
    loadingOlder = false;
    if (stopped) return;
    if (!ack.ok) {
      renderTop();
      errors.show(describe(ack.error));
      return;
    }
    // Keep what the person was reading where it was.
    const oldHeight = log.scrollHeight;
    const oldTop = log.scrollTop;
    mergeAll(ack.messages);
    cache.hasMore = ack.has_more;
    renderTop();
    log.scrollTop = oldTop + (log.scrollHeight - oldHeight);
  };

  // ----- read marker -----
  const markRead = (): void => {
    window.clearTimeout(readTimer);
    readTimer = undefined;
    const newest = maxId();
    if (newest === null || document.visibilityState !== "visible" || !atBottom()) return;
    if (newest <= (lastRead.get(roomId) ?? 0)) return;
    lastRead.set(roomId, newest);
    const cached = roomCache.get(roomId);
    if (cached) cached.unread_count = 0;
    post(`/api/rooms/${roomId}/read`, { message_id: newest }).catch(() => lastRead.delete(roomId));
  };
  const scheduleRead = (): void => {
    window.clearTimeout(readTimer);
    readTimer = window.setTimeout(() => {
      if (!stopped) markRead();
    }, READ_DEBOUNCE_MS);
  };

  // ----- actions on messages -----
  const react = async (messageId: number, emoji: string): Promise<void> => {
    const ack = await connection.request<{ reactions: Record<string, number> }>("react", { message_id: messageId, emoji });
    if (!ack.ok) return errors.show(describe(ack.error));
    const message = cache.messages.get(messageId);
    if (message) upsert({ ...message, reactions: ack.reactions });
  };

  const remove = async (messageId: number): Promise<void> => {
    errors.clear();
    const ack = await connection.request<object>("delete", { message_id: messageId });
    if (!ack.ok) return errors.show(describe(ack.error));
    const message = cache.messages.get(messageId);
    if (message) upsert({ ...message, deleted: true, body: "", reactions: {} });
    textarea.focus();
  };

  const startEdit = (message: Message, article: HTMLElement, body: HTMLElement, actions: HTMLElement): void => {
    const editor = h("textarea", { class: "edit-box", "aria-label": "Edit message", rows: "3", maxlength: String(MAX_BODY) });
    editor.value = message.body;
    const save = button("Save", { class: "primary small" });
    const cancel = button("Cancel", { class: "small" });
    const form = h("div", { class: "edit-form" }, editor, h("div", { class: "msg-actions" }, save, cancel));
    body.replaceWith(form);
    actions.hidden = true;
    article.querySelector(".react-panel")?.setAttribute("hidden", "");
    editing.add(message.id);
    editor.focus();
    const finish = (): void => {
      editing.delete(message.id);
      const current = cache.messages.get(message.id);
      if (current) upsert(current);
      (articles.get(message.id)?.querySelector("button") as HTMLElement | null)?.focus();
    };
    const submit = async (): Promise<void> => {
      const text = editor.value.trim();
      if (!text) return errors.show("Message: write something, or delete the message instead.");
      if (text === message.body) return finish();
      save.disabled = true;
      const ack = await connection.request<{ message: Message }>("edit", { message_id: message.id, body: text });
      save.disabled = false;
      if (!ack.ok) {
        errors.show(describe(ack.error));
        return;
      }
      errors.clear();
      cache.messages.set(ack.message.id, ack.message);
      finish();
    };
    save.addEventListener("click", () => void submit());
    cancel.addEventListener("click", finish);
    editor.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        void submit();
      } else if (event.key === "Escape") {
        event.preventDefault();
        finish();
      }
    });
  };

  const openReportDialog = (message: Message): void => {
    const reason = h("textarea", { rows: "3", maxlength: "500", required: true });
    const dialogErrors = errorBox();
    const send = button("Send report", { class: "primary" });
    const cancel = button("Cancel");
    const handle = openDialog({
      title: "Report message",
      content: [
        h("p", { class: "hint" }, `Moderators will look at this message from ${message.author.display_name}. They will not tell them who reported it.`),
        h("blockquote", { class: "quote" }, message.body),
        field("Reason", reason, "What is wrong with it? Moderators see this."),
        dialogErrors.node,
        h("div", { class: "dialog-actions" }, send, cancel),
      ],
    });
    cancel.addEventListener("click", () => handle.close());
    send.addEventListener("click", async () => {
      dialogErrors.clear();
      if (!reason.value.trim()) {
        dialogErrors.show("Reason: say briefly what is wrong with the message.");
        reason.focus();
        return;
      }
      send.disabled = true;
      try {
        await post(`/api/messages/${message.id}/reports`, { reason: reason.value.trim() });
        handle.close();
        info.show("Thank you. Your report was sent to the moderators.");
      } catch (err) {
        dialogErrors.show(describeAny(err));
        send.disabled = false;
      }
    });
  };

  // ----- who's here and who is typing -----
  const renderPeople = (): void => {
    const users = [...online.values()].sort((a, b) => a.display_name.localeCompare(b.display_name));
    peopleCount.textContent = `(${users.length})`;
    replaceChildren(
      peopleList,
      ...users.map((user) => {
        const isMe = me !== null && user.id === me.id;
        return h(
          "li",
          { class: "person" },
          h("span", { class: "person-name" }, user.display_name),
          isMe ? h("span", { class: "tag mine" }, "You") : null,
          isStaff(user) ? h("span", { class: "tag" }, "Staff") : null,
          staff && !isMe && !isStaff(user) ? moderateButton(roomId, user, (text) => info.show(text)) : null,
        );
      }),
    );
    if (room) room.online_count = users.length;
  };

  const renderTyping = (): void => {
    const now = Date.now();
    for (const [id, entry] of typers) if (entry.until <= now) typers.delete(id);
    const names = [...typers.values()].map((entry) => entry.name);
    let text = "";
    if (names.length === 1) text = `${names[0]} is typing…`;
    else if (names.length === 2) text = `${names[0]} and ${names[1]} are typing…`;
    else if (names.length > 2) text = "Several people are typing…";
    if (typing.textContent !== text) typing.textContent = text;
    window.clearTimeout(typingTimer);
    if (typers.size) typingTimer = window.setTimeout(renderTyping, 1_000);
  };

  // ----- muted -----
  // `Message` stays enabled while muted: a post with crisis language gets through to staff.
  // Set when a send was refused for the mute, until one gets through.
  let refusedWhileMuted = false;
  const renderMuted = (): void => {
    window.clearTimeout(muteTimer);
    const until = mutedUntil(roomId);
    if (until) {
      const text = [
        refusedWhileMuted ? "Your message was not sent." : "",
        `You are muted in this room ${untilPhrase(until.toISOString())}. You can still read.`,
        STILL_WRITE,
      ]
        .filter(Boolean)
        .join(" ");
      if (mutedBox.textContent !== text) mutedBox.textContent = text;
      mutedBox.hidden = false;
      // The banner of the same notice, if it came while another screen was open, goes.
      removeBanner(`muted:${roomId}`);
      muteTimer = window.setTimeout(renderMuted, Math.min(until.getTime() - Date.now() + 500, 2 ** 31 - 1));
    } else {
      refusedWhileMuted = false;
      mutedBox.hidden = true;
      mutedBox.textContent = "";
    }
    renderPaused();
  };
  renderMuted();
  /** One of my messages reached the room (a crisis post goes through a mute). */
  const gotThrough = (): void => {
    if (!refusedWhileMuted) return;
    refusedWhileMuted = false;
    renderMuted();
  };

  // ----- writing -----
  const draftKey = `draft.${roomId}`;
  textarea.value = store.get<string>(draftKey, "");
  const autosize = (): void => {
    textarea.style.height = "auto";
    textarea.style.height = `${Math.min(textarea.scrollHeight, 160)}px`;
  };

  const submit = (): void => {
    const body = textarea.value.trim();
    if (!body) return;
    if (body.length > MAX_BODY) {
      errors.show(`Message: at most ${MAX_BODY} characters; this one has ${body.length}.`);
      return;
    }
    errors.clear();
    outbox.send(roomId, body);
    textarea.value = "";
    store.remove(draftKey);
    autosize();
    scrollToBottom();
    textarea.focus();
  };
  composer.addEventListener("submit", (event) => {
    event.preventDefault();
    submit();
  });
  textarea.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      submit();
    }
  });
  textarea.addEventListener("input", () => {
    store.set(draftKey, textarea.value);
    autosize();
    const now = Date.now();
    if (textarea.value.trim() && joined && now - lastTypingSent >= TYPING_EMIT_MS) {
      lastTypingSent = now;
      connection.emit("typing", { room_id: roomId });
    }
  });

  // ----- live events -----
  const on = (event: string, handler: (payload: any) => void): void => {
    cleanups.push(connection.on(event, handler));
  };
  // On connect, and on coming back online with the socket still open: catch up with `since`.
  on("usable", () => {
    joined = false;
    void join();
  });
  on("state", () => {
    if (connection.usable()) return;
    joined = false;
    if (!navigator.onLine) info.show(OFFLINE_NOTE);
  });
  on("message", (message: Message) => {
    if (message.room_id !== roomId) return;
    const mine = me !== null && message.author.id === me.id;
    const follow = stick || mine;
    if (mine && message.client_id && outbox.forRoom(roomId).some((item) => item.client_id === message.client_id)) gotThrough();
    if (typers.delete(message.author.id)) renderTyping();
    const first = cache.messages.size === 0;
    mergeAll([message]);
    if (first && everJoined) renderTop();
    if (follow) scrollToBottom();
    scheduleRead();
  });
  on("message_updated", (message: Message) => {
    if (message.room_id === roomId && cache.messages.has(message.id)) upsert(message);
  });
  on("message_deleted", (data: { id: number; room_id: number }) => {
    const message = cache.messages.get(data.id);
    if (data.room_id === roomId && message) upsert({ ...message, deleted: true, body: "", reactions: {} });
  });
  on("reactions", (data: { message_id: number; room_id: number; reactions: Record<string, number> }) => {
    const message = cache.messages.get(data.message_id);
    if (data.room_id === roomId && message) upsert({ ...message, reactions: data.reactions });
  });
  on("typing", (data: { room_id: number; user: PublicUser }) => {
    if (data.room_id !== roomId || (me && data.user.id === me.id)) return;
    typers.set(data.user.id, { name: data.user.display_name, until: Date.now() + TYPING_SHOW_MS });
    renderTyping();
  });
  on("presence", (data: { room_id: number; user: PublicUser; status: string }) => {
    if (data.room_id !== roomId) return;
    if (data.status === "online") online.set(data.user.id, data.user);
    else {
      online.delete(data.user.id);
      if (typers.delete(data.user.id)) renderTyping();
    }
    renderPeople();
  });
  on("room_updated", (updated: Room) => {
    if (updated.id !== roomId) return;
    room = { ...(room ?? updated), ...updated };
    roomCache.set(roomId, room);
    renderHead();
  });
  on("notice", (notice: Notice) => {
    if (notice.room_id !== roomId) return;
    if (notice.kind === "muted" || notice.kind === "unmuted") {
      rememberMute(roomId, notice.kind === "muted" ? notice.until : null);
      renderMuted();
    } else if (notice.kind === "kicked" || notice.kind === "banned") {
      caches.delete(roomId);
      onLeave(notice.kind);
    }
  });
  cleanups.push(
    outbox.subscribe((event) => {
      if (event.type === "changed" && event.room_id === roomId) {
        const follow = stick;
        renderPending();
        if (follow) scrollToBottom();
      } else if (event.type === "sent" && event.message.room_id === roomId) {
        gotThrough();
        const first = cache.messages.size === 0;
        mergeAll([event.message]);
        if (first && everJoined) renderTop();
        scrollToBottom();
        scheduleRead();
      } else if (event.type === "refused" && event.room_id === roomId) {
        const error = event.error;
        if (error.code === "muted") {
          rememberMute(roomId, error.until ?? null);
          refusedWhileMuted = true;
          renderMuted();
          // Said once, in the muted alert (a mute with no end time has none: say it here).
          if (!mutedBox.hidden) return;
        }
        if (error.code === "banned") {
          // As a refused join: said once, in the room's error box, and no box to write in.
          joinRefused(error.code, describe(error));
          return;
        }
        if (error.code === "rate_limited") {
          const wait = Math.max(1, Math.ceil(Number(error.retry_after_s ?? 1)));
          errors.show(`You are sending messages too quickly. Wait ${pluralize(wait, "second")}: your message will be sent then.`);
        } else {
          errors.show(describe(error));
        }
      }
    }),
  );

  // ----- scrolling and visibility -----
  log.addEventListener("scroll", () => {
    stick = atBottom();
    if (log.scrollTop < EDGE_PX && cache.hasMore && everJoined) void loadOlder();
    if (stick) scheduleRead();
  });
  if (typeof ResizeObserver !== "undefined") {
    const resize = new ResizeObserver(() => {
      if (stick) scrollToBottom();
    });
    resize.observe(log);
    cleanups.push(() => resize.disconnect());
  }
  const onVisible = (): void => {
    if (document.visibilityState === "visible") scheduleRead();
  };
  document.addEventListener("visibilitychange", onVisible);
  cleanups.push(() => document.removeEventListener("visibilitychange", onVisible));

  // ----- start -----
  renderAll();
  if (connection.usable()) void join();
  else info.show(navigator.onLine ? "Connecting…" : OFFLINE_NOTE);
  // The node is attached after this returns; scroll once it has a size.
  requestAnimationFrame(() => {
    scrollToBottom();
    autosize();
  });

  return {
    title: room?.name ?? "Room",
    node,
    cleanup: () => {
      // Leaving with the newest message in view counts as having read it.
      if (readTimer !== undefined) markRead();
      stopped = true;
      openRoomId = null;
      window.clearTimeout(typingTimer);
      window.clearTimeout(muteTimer);
      window.clearTimeout(joinRetry);
      for (const cleanup of cleanups) cleanup();
      if (joined) void connection.request("leave", { room_id: roomId });
    },
  };
}

/** In a re-rendered article, the control that matches the one that had focus. */
function sameControl(article: HTMLElement, focused: HTMLElement): HTMLElement | null {
  const label = focused.getAttribute("aria-label") ?? focused.textContent;
  for (const control of article.querySelectorAll<HTMLElement>("button")) {
    if ((control.getAttribute("aria-label") ?? control.textContent) === label) return control;
  }
  return article.querySelector<HTMLElement>("button");
}

export function forgetRooms(): void {
  caches.clear();
  lastRead.clear();
  openRoomId = null;
}

export type { Ack };
