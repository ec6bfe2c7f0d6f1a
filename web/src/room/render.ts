// The message log: one article per message, the messages still on their way below them, and
// what the top says (loading, "Load older messages", the start of the room). DOM only: it draws
// the state it is given and hands clicks to the handlers; it owns nothing but scroll position.
import { fullTime, shortTime } from "../format";
import { h, replaceChildren, srOnly, uid } from "../h";
import type { Outgoing } from "../outbox";
import { isStaff } from "../session";
import type { Me, Message, PublicUser, ReplyTo } from "../types";
import { button } from "../views/common";
import { addressesMe, quoteOf, quoteText, segmentsOf } from "./replies";
import { MAX_BODY, type LogTop, type RoomState } from "./state";

// Within this many pixels of an edge counts as "at" it.
const EDGE_PX = 48;
// How long a message gone to from a reply's quote stays highlighted.
const HIGHLIGHT_MS = 2_500;

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
  // One button kept across pages (not disabled while loading, which would drop focus).
  const olderButton = button("Load older messages", { class: "small" });
  olderButton.addEventListener("click", () => handlers.loadOlder());
  // Whether the person is reading the newest messages: then new ones, and a log that changes
  // size (an alert above it, the keyboard on a phone), keep them in view.
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
    resize.observe(log);
  }

  // ----- one message -----
  function messageArticle(message: Message, state: RoomState): HTMLElement {
    const mine = me !== null && message.author.id === me.id;
    const forMe = addressesMe(message, me?.id ?? null);
    const headId = uid("msg");
    const article = h("article", {
      class: `msg${mine ? " own" : ""}${message.deleted ? " deleted" : ""}${forMe ? " for-me" : ""}`,
      "aria-labelledby": headId,
      "data-id": String(message.id),
    });
    article.append(messageHead(message, mine, headId, forMe));
    if (message.deleted) {
      article.append(h("p", { class: "body deleted-text" }, "Message deleted"));
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
    article.append(...messageActions(message, mine, state.reactionChoices));
    return article;
  }

  /** The start of the message replied to; choosing it goes there. */
  function quoteButton(reply: ReplyTo, state: RoomState): HTMLElement {
    const quote = quoteOf(reply, state.messages);
    const control = button("", { class: `quote quote-${quote.state}` }, srOnly("In reply to "), quoteText(quote));
    control.addEventListener("click", () => handlers.goToOriginal(reply.id));
    return control;
  }

  /** The text, each mention in it marked (mine the more so); text stays text. */
  function messageBody(message: Message): HTMLElement {
    const segments = segmentsOf(message.body, message.mentions ?? []);
    return h(
      "p",
      { class: "body" },
      ...segments.map((segment) =>
        segment.mention
          ? h("span", { class: segment.mention.id === me?.id ? "mention mention-me" : "mention" }, segment.text)
          : segment.text,
      ),
    );
  }

  function messageHead(message: Message, mine: boolean, headId: string, forMe: boolean): HTMLElement {
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
    );
  }

  /** The buttons under a message, and the reaction panel its React button opens. */
  function messageActions(message: Message, mine: boolean, reactionChoices: readonly string[]): HTMLElement[] {
    const actions = h("div", { class: "msg-actions" });
    const panelId = uid("react");
    const reactButton = button("React", { class: "small", "aria-expanded": "false", "aria-controls": panelId });
    const panel = h("div", { class: "react-panel", id: panelId, hidden: true, role: "group", "aria-label": "Reactions to choose from" });
    const closePanel = (): void => {
      panel.hidden = true;
      reactButton.setAttribute("aria-expanded", "false");
      reactButton.focus();
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
    reactButton.addEventListener("click", () => {
      const opening = panel.hidden;
      panel.hidden = !opening;
      reactButton.setAttribute("aria-expanded", String(opening));
      if (opening) (panel.firstElementChild as HTMLElement | null)?.focus();
    });
    actions.append(reactButton);
    actions.append(actionButton("Reply", {}, () => handlers.reply(message.id)));
    if (!mine) actions.append(actionButton("Report", { "aria-haspopup": "dialog" }, () => handlers.report(message)));
    if (mine) actions.append(actionButton("Edit", {}, () => handlers.startEdit(message.id)));
    if (mine || staff) actions.append(actionButton("Delete", { class: "small danger-text" }, () => handlers.remove(message.id)));
    return [actions, panel];
  }

  // ----- editing in place -----
  function openEditor(article: HTMLElement, message: Message): void {
    const body = article.querySelector<HTMLElement>(".body");
    const actions = article.querySelector<HTMLElement>(".msg-actions");
    if (!body || !actions) return;
    const editor = h("textarea", { class: "edit-box", "aria-label": "Edit message", rows: "3", maxlength: String(MAX_BODY) });
    editor.value = message.body;
    const save = button("Save", { class: "primary small" });
    const cancel = button("Cancel", { class: "small" });
    body.replaceWith(h("div", { class: "edit-form" }, editor, h("div", { class: "msg-actions" }, save, cancel)));
    actions.hidden = true;
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
        // Finishing an edit shows the message as it is now, and focus goes back to it.
        replaceArticle(message, next);
        articles.get(message.id)?.querySelector<HTMLElement>("button")?.focus();
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

  /** A changed message drawn again, keeping focus and an open reaction panel where they were. */
  function replaceArticle(message: Message, state: RoomState): void {
    const existing = articles.get(message.id);
    if (!existing) return insertArticle(message, state);
    const next = messageArticle(message, state);
    articles.set(message.id, next);
    const focused = existing.contains(document.activeElement) ? (document.activeElement as HTMLElement) : null;
    const panelOpen = existing.querySelector(".react-panel:not([hidden])") !== null;
    existing.replaceWith(next);
    if (panelOpen) {
      const panel = next.querySelector<HTMLElement>(".react-panel");
      if (panel) panel.hidden = false;
      next.querySelector("[aria-expanded]")?.setAttribute("aria-expanded", "true");
    }
    if (focused) sameControl(next, focused)?.focus();
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
  function drawPending(outbox: readonly Outgoing[]): void {
    replaceChildren(pendingItems, ...outbox.map(pendingArticle));
  }

  function pendingArticle(item: Outgoing): HTMLElement {
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
      if (!prev || prev.reactionChoices !== next.reactionChoices) {
        // The reaction set changed: every message is drawn again with it.
        drawAllMessages(next);
        drawPending(next.outbox);
      } else {
        if (prev.messages !== next.messages || prev.editing !== next.editing) updateMessages(prev, next);
        if (prev.outbox !== next.outbox) drawPending(next.outbox);
      }
      if (!prev || prev.top !== next.top) drawTop(next);
      if (!prev || prev.busy !== next.busy) log.setAttribute("aria-busy", String(next.busy));
    },
    scrollToBottom,
    isFollowing: () => following,
    atBottom,
    highlight,
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
