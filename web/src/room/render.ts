// The message log: one article per message, the messages still on their way below them, and
// what the top says (loading, "Load older messages", the start of the room). DOM only: it draws
// the state it is given and hands clicks to the handlers; it owns nothing but scroll position,
// which menu is open, and which of my deletions can still be undone.
// What can be done to a message sits behind one "More" button (or a long press), so that a
// phone shows ten short messages rather than four rows of buttons.
import { fullTime, shortTime } from "../format";
import { h, replaceChildren, srOnly, uid, type Child } from "../h";
import { menuButton, type MenuButton, type MenuItem } from "../menu";
import type { Outgoing } from "../outbox";
import { isStaff } from "../session";
import type { Me, Message, PublicUser, ReplyTo } from "../types";
import { button } from "../views/common";
import { linked } from "./links";
import { isPinned } from "./pins";
import { addressesMe, quoteOf, quoteText, segmentsOf } from "./replies";
import { MAX_BODY, findMessage, type LogTop, type RoomState } from "./state";

// Within this many pixels of an edge counts as "at" it.
const EDGE_PX = 48;
// How long a message gone to from a reply's quote stays highlighted.
const HIGHLIGHT_MS = 2_500;
// A press held this long on a message opens its menu (iOS Safari sends no `contextmenu`);
// a finger that moves further than this is scrolling instead.
const LONG_PRESS_MS = 500;
const LONG_PRESS_SLOP_PX = 10;

export interface MessageListContext {
  me: Me | null;
  staff: boolean;
  /** The control that opens the moderation menu for a member (staff only). */
  memberMenu(user: PublicUser, visibleLabel?: string): HTMLElement;
}

export interface MessageListHandlers {
  react(messageId: number, emoji: string): void;
  report(message: Message): void;
  /** The composer's next message replies to this one. */
  reply(messageId: number): void;
  /** A reply's quote was chosen: go to its original (loading older pages as needed). */
  goToOriginal(originalId: number): void;
  startEdit(messageId: number): void;
  /** Resolves once the edit is saved, refused or found unchanged. */
  saveEdit(original: Message, text: string): Promise<void>;
  cancelEdit(messageId: number): void;
  remove(messageId: number): void;
  /** Staff pin a message to the room's header, or unpin it. */
  pin(messageId: number, pinned: boolean): void;
  retry(clientId: string): void;
  discard(clientId: string): void;
  loadOlder(): void;
  scrolled(position: { atBottom: boolean; nearTop: boolean }): void;
}

export interface MessageList {
  node: HTMLElement;
  render(prev: RoomState | null, next: RoomState): void;
  scrollToBottom(): void;
  /** Whether the person is reading the newest messages (so new ones keep them in view). */
  isFollowing(): boolean;
  atBottom(): boolean;
  /** Run `change` (older messages landing above) without moving what the person reads. */
  keepReadingPlace(change: () => void): void;
  /** Scroll a message into view, highlight it briefly and focus it; false if it is not drawn. */
  highlight(messageId: number): boolean;
  /** My deletion of a message waits: it shows as "Deleted · Undo" (focus on Undo) until
   * `clearDeleting`; Undo calls `undo`. */
  showDeleting(messageId: number, undo: () => void): void;
  clearDeleting(messageId: number): void;
  stop(): void;
}

export function createMessageList(context: MessageListContext, handlers: MessageListHandlers): MessageList {
  const { me, staff } = context;
  const top = h("div", { class: "log-top" });
  const items = h("div", { class: "log-items" });
  const pendingItems = h("div", { class: "pending" });
  const log = h("div", { role: "log", "aria-label": "Messages", class: "log", tabindex: "0", "aria-busy": "true" });
  log.append(top, items, pendingItems);
  const articles = new Map<number, HTMLElement>();
  const menus = new Map<number, MenuButton>();
  const deleting = new Map<number, () => void>();
  // The state last drawn, for what is drawn again between states (a deletion waiting).
  let drawn: RoomState | null = null;
  // One button kept across pages (not disabled while loading, which would drop focus).
  const olderButton = button("Load older messages", { class: "small" });
  olderButton.addEventListener("click", () => handlers.loadOlder());
  // Whether the person is reading the newest messages: then new ones, a log that changes size
  // (an alert above it, the keyboard on a phone) and messages that grow after they are drawn
  // (a font that arrives late, a larger text size) keep them in view.
  let following = true;

  const atBottom = (): boolean => log.scrollHeight - log.scrollTop - log.clientHeight < EDGE_PX;
  const scrollToBottom = (): void => {
    following = true;
    log.scrollTop = log.scrollHeight;
  };

  log.addEventListener("scroll", () => {
    following = atBottom();
    handlers.scrolled({ atBottom: following, nearTop: log.scrollTop < EDGE_PX });
  });
  let resize: ResizeObserver | null = null;
  if (typeof ResizeObserver !== "undefined") {
    resize = new ResizeObserver(() => {
      if (following) scrollToBottom();
    });
    for (const box of [log, top, items, pendingItems]) resize.observe(box);
  }

  // ----- one message -----
  function messageArticle(message: Message, state: RoomState): HTMLElement {
    const mine = me !== null && message.author.id === me.id;
    const forMe = addressesMe(message, me?.id ?? null);
    const headId = uid("msg");
    const pinned = !message.deleted && isPinned(state.pins, message.id);
    const article = h("article", {
      class: `msg${mine ? " own" : ""}${message.deleted ? " deleted" : ""}${forMe ? " for-me" : ""}${pinned ? " pinned" : ""}`,
      "aria-labelledby": headId,
      "data-id": String(message.id),
    });
    article.append(messageHead(message, mine, headId, forMe, pinned));
    menus.delete(message.id);
    if (message.deleted) {
      article.append(h("p", { class: "body deleted-text" }, "Message deleted"));
      return article;
    }
    const undo = deleting.get(message.id);
    if (undo) {
      article.classList.add("deleting");
      const undoButton = button("Undo", { class: "link-button undo" });
      undoButton.addEventListener("click", undo);
      article.append(h("p", { class: "body deleted-text" }, "Deleted", h("span", { "aria-hidden": "true" }, " · "), undoButton));
      return article;
    }
    if (message.reply_to) article.append(quoteButton(message.reply_to, state));
    article.append(messageBody(message));
    const counts = Object.entries(message.reactions ?? {}).filter(([, n]) => n > 0);
    if (counts.length) {
      article.append(
        h("ul", { class: "reactions", "aria-label": "Reactions" }, ...counts.map(([emoji, n]) => h("li", { class: "reaction" }, `${emoji} ${n}`))),
      );
    }
    const panel = reactPanel(message, state.reactionChoices);
    const menu = messageMenu(message, mine, pinned, headId, panel);
    menus.set(message.id, menu);
    article.append(panel.node, menu.node);
    openOnLongPress(article, menu);
    return article;
  }

  /** The start of the message replied to; choosing it goes there. */
  function quoteButton(reply: ReplyTo, state: RoomState): HTMLElement {
    const quote = quoteOf(reply, state.messages);
    const control = button("", { class: `quote quote-${quote.state}` }, srOnly("In reply to "), quoteText(quote));
    control.addEventListener("click", () => handlers.goToOriginal(reply.id));
    return control;
  }

  /** The text, its web addresses as links (room/links.ts) and each mention in the rest marked
   * (mine the more so); text stays text. */
  function messageBody(message: Message): HTMLElement {
    const withMentions = (text: string): Child =>
      segmentsOf(text, message.mentions ?? []).map((segment) =>
        segment.mention
          ? h("span", { class: segment.mention.id === me?.id ? "mention mention-me" : "mention" }, segment.text)
          : segment.text,
      );
    return h("p", { class: "body" }, ...linked(message.body, withMentions));
  }

  function messageHead(message: Message, mine: boolean, headId: string, forMe: boolean, pinned: boolean): HTMLElement {
    const authorIsStaff = isStaff(message.author);
    const author =
      staff && !mine && !authorIsStaff && !message.deleted
        ? context.memberMenu(message.author, message.author.display_name)
        : h("span", { class: "author" }, message.author.display_name);
    return h(
      "p",
      { class: "msg-head", id: headId },
      author,
      authorIsStaff ? h("span", { class: "tag" }, "Staff") : null,
      mine ? h("span", { class: "tag mine" }, "You") : null,
      h("time", { datetime: message.created_at, title: fullTime(message.created_at) }, shortTime(message.created_at)),
      message.edited_at && !message.deleted ? h("span", { class: "edited" }, "(edited)") : null,
      forMe ? h("span", { class: "tag for-me-tag" }, message.mentions?.some((user) => user.id === me?.id) ? "Mentions you" : "Replies to you") : null,
      pinned ? h("span", { class: "tag pinned-tag" }, "Pinned") : null,
    );
  }

  /** The one "More" button of a message and the menu it opens: what I may do to it. */
  function messageMenu(message: Message, mine: boolean, pinned: boolean, headId: string, panel: ReactPanel): MenuButton {
    const author = message.author;
    const moderate = staff && !mine && !isStaff(author);
    return menuButton({
      label: "More",
      visible: h("span", { class: "more-dots", "aria-hidden": "true" }, "⋯"),
      className: "msg-more",
      describedBy: headId,
      menuLabel: () => (mine ? "Your message" : `${author.display_name}'s message`),
      items: () => {
        const items: MenuItem[] = [
          { label: "React", run: () => panel.open() },
          { label: "Reply", run: () => handlers.reply(message.id) },
        ];
        if (mine) items.push({ label: "Edit", run: () => handlers.startEdit(message.id) });
        if (!mine) items.push({ label: "Report", opensDialog: true, run: () => handlers.report(message) });
        if (staff) items.push({ label: pinned ? "Unpin" : "Pin", run: () => handlers.pin(message.id, !pinned) });
        if (moderate) items.push({ label: `Moderate ${author.display_name}`, opensDialog: true, run: () => openMemberMenu(author) });
        if (mine || staff) items.push({ label: "Delete", opensDialog: true, danger: true, run: () => handlers.remove(message.id) });
        return items;
      },
    });
  }

  /** The member menu's dialog, from a message's menu: the control its author's name is (which
   * opens that dialog) pressed for them. */
  function openMemberMenu(user: PublicUser): void {
    context.memberMenu(user).click();
  }

  interface ReactPanel {
    node: HTMLElement;
    open(): void;
  }

  /** The reactions to choose from, under the message; closing it gives focus back to More. */
  function reactPanel(message: Message, reactionChoices: readonly string[]): ReactPanel {
    const panel = h("div", { class: "react-panel", hidden: true, role: "group", "aria-label": "Reactions to choose from" });
    const closePanel = (): void => {
      panel.hidden = true;
      menus.get(message.id)?.button.focus();
    };
    for (const emoji of reactionChoices) {
      const choice = button(emoji, { class: "emoji", "aria-label": `React with ${emoji}` });
      choice.addEventListener("click", () => {
        closePanel();
        handlers.react(message.id, emoji);
      });
      panel.append(choice);
    }
    panel.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.preventDefault();
        closePanel();
      }
    });
    return {
      node: panel,
      open() {
        panel.hidden = false;
        (panel.firstElementChild as HTMLElement | null)?.focus();
        panel.scrollIntoView({ block: "nearest" });
      },
    };
  }

  // ----- editing in place -----
  function openEditor(article: HTMLElement, message: Message): void {
    const body = article.querySelector<HTMLElement>(".body");
    const menu = menus.get(message.id);
    if (!body || !menu) return;
    const editor = h("textarea", { class: "edit-box", "aria-label": "Edit message", rows: "3", maxlength: String(MAX_BODY) });
    editor.value = message.body;
    const save = button("Save", { class: "primary small" });
    const cancel = button("Cancel", { class: "small" });
    body.replaceWith(h("div", { class: "edit-form" }, editor, h("div", { class: "msg-actions" }, save, cancel)));
    menu.close(false);
    menu.node.hidden = true;
    article.querySelector(".react-panel")?.setAttribute("hidden", "");
    editor.focus();
    const submit = async (): Promise<void> => {
      save.disabled = true;
      try {
        await handlers.saveEdit(message, editor.value);
      } finally {
        save.disabled = false;
      }
    };
    save.addEventListener("click", () => void submit());
    cancel.addEventListener("click", () => handlers.cancelEdit(message.id));
    editor.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        void submit();
      } else if (event.key === "Escape") {
        event.preventDefault();
        handlers.cancelEdit(message.id);
      }
    });
  }

  // ----- the list -----
  function drawAllMessages(state: RoomState): void {
    replaceChildren(items);
    articles.clear();
    for (const message of state.messages) {
      const article = messageArticle(message, state);
      articles.set(message.id, article);
      items.append(article);
      if (state.editing.includes(message.id)) openEditor(article, message);
    }
  }

  function updateMessages(prev: RoomState, next: RoomState): void {
    const before = new Map(prev.messages.map((message) => [message.id, message]));
    // Messages drawn anew, come or gone: a reply quoting one of them is drawn again too.
    const touched = new Set<number>();
    const drawn = new Set<number>();
    for (const message of next.messages) {
      const old = before.get(message.id);
      before.delete(message.id);
      const wasEditing = prev.editing.includes(message.id);
      const isEditing = next.editing.includes(message.id);
      if (old !== message) touched.add(message.id);
      if (!old) {
        insertArticle(message, next);
      } else if (isEditing && !wasEditing) {
        const article = articles.get(message.id);
        if (article) openEditor(article, message);
      } else if (wasEditing && !isEditing) {
        // Finishing an edit shows the message as it is now, and focus goes back to its menu.
        replaceArticle(message, next);
        menus.get(message.id)?.button.focus();
      } else if (old !== message && !isEditing) {
        // While being edited the editor stays; finishing the edit draws what the state holds then.
        replaceArticle(message, next);
      } else {
        continue;
      }
      drawn.add(message.id);
    }
    for (const id of before.keys()) {
      touched.add(id);
      articles.get(id)?.remove();
      articles.delete(id);
    }
    for (const message of next.messages) {
      const original = message.reply_to?.id;
      if (original !== undefined && touched.has(original) && !drawn.has(message.id) && !next.editing.includes(message.id)) {
        replaceArticle(message, next);
      }
    }
  }

  /** A new message in its place by id; most are newest, so look from the end. */
  function insertArticle(message: Message, state: RoomState): void {
    const article = messageArticle(message, state);
    articles.set(message.id, article);
    let before: Element | null = null;
    for (let el = items.lastElementChild; el; el = el.previousElementSibling) {
      if (Number((el as HTMLElement).dataset.id) > message.id) before = el;
      else break;
    }
    items.insertBefore(article, before);
  }

  /** A changed message drawn again, keeping focus, an open menu and an open reaction panel
   * where they were. */
  function replaceArticle(message: Message, state: RoomState): void {
    const existing = articles.get(message.id);
    if (!existing) return insertArticle(message, state);
    const oldMenu = menus.get(message.id);
    const menuOpen = oldMenu?.isOpen() ?? false;
    const menuItem = oldMenu?.focusedItem() ?? null;
    oldMenu?.close(false);
    const next = messageArticle(message, state);
    articles.set(message.id, next);
    const focused = existing.contains(document.activeElement) ? (document.activeElement as HTMLElement) : null;
    const panelOpen = existing.querySelector(".react-panel:not([hidden])") !== null;
    existing.replaceWith(next);
    if (panelOpen) {
      const panel = next.querySelector<HTMLElement>(".react-panel");
      if (panel) panel.hidden = false;
    }
    const menu = menus.get(message.id);
    if (menuOpen && menu) menu.open(menuItem ?? "first");
    else if (focused) sameControl(next, focused)?.focus();
  }

  /** Messages pinned or unpinned since: drawn again with their tag (their menu says Pin or
   * Unpin when it next opens). */
  function redrawPinned(prev: RoomState, next: RoomState): void {
    for (const message of next.messages) {
      if (isPinned(prev.pins, message.id) === isPinned(next.pins, message.id) || next.editing.includes(message.id)) continue;
      replaceArticle(message, next);
    }
  }

  /** A deletion waiting (or no longer): the message drawn again, focus on Undo while it waits
   * and back on its menu after. */
  function redrawDeleting(messageId: number, focus: "undo" | "menu"): void {
    const message = drawn?.messages.find((one) => one.id === messageId);
    const article = articles.get(messageId);
    if (!drawn || !message || !article || drawn.editing.includes(messageId)) return;
    const hadFocus = article.contains(document.activeElement);
    replaceArticle(message, drawn);
    if (focus === "undo") articles.get(messageId)?.querySelector<HTMLElement>(".undo")?.focus();
    else if (hadFocus) menus.get(messageId)?.button.focus();
  }

  /** The message the person went to from a quote: in view, marked for a moment, focused. */
  function highlight(messageId: number): boolean {
    const article = articles.get(messageId);
    if (!article) return false;
    following = false;
    article.scrollIntoView({ block: "center" });
    article.setAttribute("tabindex", "-1");
    article.focus({ preventScroll: true });
    article.classList.add("highlighted");
    window.setTimeout(() => article.classList.remove("highlighted"), HIGHLIGHT_MS);
    return true;
  }

  // ----- messages on their way -----
  function drawPending(state: RoomState): void {
    replaceChildren(pendingItems, ...state.outbox.map((item) => pendingArticle(item, state)));
  }

  function pendingArticle(item: Outgoing, state: RoomState): HTMLElement {
    const headId = uid("pending");
    const stateText = {
      failed: `Not sent: ${item.error ?? "the server refused it."}`,
      queued: "Queued",
      waiting: "Waiting to send (slow mode or too many messages at once)",
      sending: "Sending…",
    }[item.state];
    const article = h(
      "article",
      { class: `msg own pending ${item.state}`, "aria-labelledby": headId },
      h("p", { class: "msg-head", id: headId }, h("span", { class: "author" }, me?.display_name ?? "You"), h("span", { class: "tag mine" }, "You")),
      item.reply_to === undefined ? null : quoteButton(pendingReply(item.reply_to), state),
      h("p", { class: "body" }, item.body),
      h("p", { class: "msg-state" }, stateText),
    );
    if (item.state === "failed") {
      article.append(
        h(
          "div",
          { class: "msg-actions" },
          actionButton("Try again", {}, () => handlers.retry(item.client_id)),
          actionButton("Discard", {}, () => handlers.discard(item.client_id)),
        ),
      );
    }
    return article;
  }

  // ----- the top of the log -----
  function drawTop(state: RoomState): void {
    const shown: LogTop = state.top;
    if (shown.kind === "loading") {
      replaceChildren(top, note("Loading messages…"));
    } else if (shown.kind === "older") {
      olderButton.textContent = shown.loading ? "Loading older messages…" : "Load older messages";
      olderButton.setAttribute("aria-disabled", String(shown.loading));
      if (olderButton.parentElement !== top) replaceChildren(top, olderButton);
    } else if (shown.kind === "closed") {
      replaceChildren(top, note("This room cannot be opened."));
    } else {
      const focusMoves = top.contains(document.activeElement);
      replaceChildren(top, note(shown.kind === "start" ? "This is the start of the room." : "No messages yet. Say hello."));
      if (focusMoves) log.focus();
    }
  }

  return {
    node: log,
    render(prev, next) {
      drawn = next;
      if (!prev || prev.reactionChoices !== next.reactionChoices) {
        // The reaction set changed: every message is drawn again with it.
        drawAllMessages(next);
        drawPending(next);
      } else {
        if (prev.messages !== next.messages || prev.editing !== next.editing) updateMessages(prev, next);
        if (prev.pins !== next.pins) redrawPinned(prev, next);
        if (prev.outbox !== next.outbox || pendingQuotesChanged(prev, next)) drawPending(next);
      }
      if (!prev || prev.top !== next.top) drawTop(next);
      if (!prev || prev.busy !== next.busy) log.setAttribute("aria-busy", String(next.busy));
    },
    scrollToBottom,
    isFollowing: () => following,
    atBottom,
    highlight,
    showDeleting(messageId, undo) {
      deleting.set(messageId, undo);
      redrawDeleting(messageId, "undo");
    },
    clearDeleting(messageId) {
      if (deleting.delete(messageId)) redrawDeleting(messageId, "menu");
    },
    keepReadingPlace(change) {
      const oldHeight = log.scrollHeight;
      const oldTop = log.scrollTop;
      change();
      log.scrollTop = oldTop + (log.scrollHeight - oldHeight);
    },
    stop() {
      resize?.disconnect();
    },
  };
}

/** A message on its way quotes what it replies to as the log holds it now: whether that changed
 * (an original loaded, edited or deleted). */
function pendingQuotesChanged(prev: RoomState, next: RoomState): boolean {
  if (prev.messages === next.messages) return false;
  return next.outbox.some(
    (item) => item.reply_to !== undefined && findMessage(prev, item.reply_to) !== findMessage(next, item.reply_to),
  );
}

/** What a message on its way replies to, as a reply from the server would say it: the log's
 * copy of the original fills it in (quoteOf); one not loaded reads as "an earlier message". */
function pendingReply(id: number): ReplyTo {
  return { id, author: null, excerpt: "", deleted: false, hidden: true };
}

/** A press held on a message, or its context menu (a long press on Android, a right click),
 * opens its menu; on a link or in the editor the browser's own menu stays. */
function openOnLongPress(article: HTMLElement, menu: MenuButton): void {
  const forTheMenu = (target: EventTarget | null): boolean =>
    target instanceof Element && target.closest("a, textarea, input, .menu, .react-panel") === null;
  article.addEventListener("contextmenu", (event) => {
    if (!forTheMenu(event.target) || menu.node.hidden) return;
    event.preventDefault();
    if (!menu.isOpen()) menu.open("first");
  });
  let timer: number | undefined;
  let start = { x: 0, y: 0 };
  let opened = false;
  const cancel = (): void => window.clearTimeout(timer);
  article.addEventListener(
    "touchstart",
    (event) => {
      cancel();
      opened = false;
      if (event.touches.length !== 1 || !forTheMenu(event.target) || menu.node.hidden) return;
      start = { x: event.touches[0].clientX, y: event.touches[0].clientY };
      timer = window.setTimeout(() => {
        opened = true;
        if (!menu.isOpen()) menu.open("first");
      }, LONG_PRESS_MS);
    },
    { passive: true },
  );
  article.addEventListener(
    "touchmove",
    (event) => {
      const touch = event.touches[0];
      if (touch && Math.hypot(touch.clientX - start.x, touch.clientY - start.y) > LONG_PRESS_SLOP_PX) cancel();
    },
    { passive: true },
  );
  article.addEventListener("touchcancel", cancel, { passive: true });
  // Lifting the finger after the menu opened is not a tap on whatever item is under it.
  article.addEventListener("touchend", (event) => {
    cancel();
    if (opened) event.preventDefault();
    opened = false;
  });
}

function actionButton(text: string, attrs: Record<string, string>, onClick: () => void): HTMLButtonElement {
  const control = button(text, { class: "small", ...attrs });
  control.addEventListener("click", onClick);
  return control;
}

function note(text: string): HTMLParagraphElement {
  return h("p", { class: "note" }, text);
}

/** In a re-drawn article, the control that matches the one that had focus. */
function sameControl(article: HTMLElement, focused: HTMLElement): HTMLElement | null {
  const label = focused.getAttribute("aria-label") ?? focused.textContent;
  for (const control of article.querySelectorAll<HTMLElement>("button")) {
    if ((control.getAttribute("aria-label") ?? control.textContent) === label) return control;
  }
  return article.querySelector<HTMLElement>("button");
}
