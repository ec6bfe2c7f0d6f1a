// The box to write in: its draft is kept in sessionStorage, Enter sends through the outbox (which
// keeps the message until the server has it), and others are told I am typing. It also says
// which message the next one replies to, and suggests the room's people after `@` (a listbox
// the box points into with aria-activedescendant, so focus never leaves the text).
import { connection } from "../connection";
import { h, replaceChildren, uid } from "../h";
import { outbox } from "../outbox";
import { store } from "../session";
import type { PublicUser } from "../types";
import { button } from "../views/common";
import {
  insertMention,
  mentionCandidates,
  mentionQueryAt,
  mentionsIn,
  quoteOfOriginal,
  quoteText,
  suggestionsFor,
  type MentionQuery,
} from "./replies";
import { findMessage, MAX_BODY, type RoomAction, type RoomState } from "./state";

// Send `typing` at most this often while someone types.
const TYPING_EMIT_MS = 2_000;

export interface ComposerDeps {
  roomId: number;
  state(): RoomState;
  dispatch(action: RoomAction): void;
  /** A message was handed to the outbox: show the newest messages. */
  sent(): void;
}

export interface Composer {
  form: HTMLFormElement;
  hint: HTMLElement;
  focus(): void;
  autosize(): void;
  render(prev: RoomState | null, next: RoomState): void;
}

export function createComposer(deps: ComposerDeps): Composer {
  const { roomId } = deps;
  const draftKey = `draft.${roomId}`;
  // The people picked from the suggestions for the draft: sent as `mentions` while the text
  // still names them.
  const pickedKey = `draft.${roomId}.mentions`;
  const textarea = h("textarea", {
    id: uid("message"),
    rows: "1",
    maxlength: String(MAX_BODY),
    placeholder: "Write a message…",
    autocomplete: "off",
    enterkeyhint: "send",
    "aria-autocomplete": "list",
  });
  const suggestions = createSuggestions(textarea);
  const replyText = h("span", { class: "reply-text", id: uid("replying") });
  const cancelReply = button("Cancel reply", { class: "small", "aria-describedby": replyText.id });
  const replyBanner = h("div", { class: "reply-banner", hidden: true }, replyText, cancelReply);
  const form = h(
    "form",
    { class: "composer", novalidate: true },
    replyBanner,
    h("label", { for: textarea.id, class: "sr-only" }, "Message"),
    h("div", { class: "composer-field" }, textarea, suggestions.node),
    h("button", { type: "submit", class: "primary send" }, "Send"),
  );
  const hint = h(
    "p",
    { class: "hint composer-hint", id: uid("hint") },
    "Enter sends. Shift+Enter starts a new line. Type @ to mention someone here.",
  );
  textarea.setAttribute("aria-describedby", hint.id);
  textarea.value = store.get<string>(draftKey, "");
  let picked: PublicUser[] = store.get<PublicUser[]>(pickedKey, []);
  let lastTypingSent = 0;

  // The box grows with its text up to its max-height (in rem in the stylesheet, so it follows
  // the text size), then scrolls.
  const autosize = (): void => {
    textarea.style.height = "auto";
    textarea.style.height = `${textarea.scrollHeight + textarea.offsetHeight - textarea.clientHeight}px`;
  };

  const keepDraft = (): void => {
    store.set(draftKey, textarea.value);
    store.set(pickedKey, picked);
  };

  const submit = (): void => {
    const body = textarea.value.trim();
    if (!body) return;
    if (body.length > MAX_BODY) {
      deps.dispatch({ type: "error_shown", text: `Message: at most ${MAX_BODY} characters; this one has ${body.length}.` });
      return;
    }
    const state = deps.state();
    deps.dispatch({ type: "error_cleared" });
    outbox.send(roomId, body, {
      reply_to: state.replyingTo ?? undefined,
      mentions: mentionsIn(body, picked),
    });
    textarea.value = "";
    picked = [];
    store.remove(draftKey);
    store.remove(pickedKey);
    suggestions.close();
    deps.dispatch({ type: "reply_cancelled" });
    autosize();
    deps.sent();
    textarea.focus();
  };

  const tellTyping = (): void => {
    const now = Date.now();
    if (textarea.value.trim() && deps.state().status === "joined" && now - lastTypingSent >= TYPING_EMIT_MS) {
      lastTypingSent = now;
      connection.emit("typing", { room_id: roomId });
    }
  };

  // ----- mentions -----
  let query: MentionQuery | null = null;

  const suggest = (): void => {
    const caret = textarea.selectionStart ?? textarea.value.length;
    query = textarea.selectionStart === textarea.selectionEnd ? mentionQueryAt(textarea.value, caret) : null;
    if (!query) return suggestions.close();
    const state = deps.state();
    const people = suggestionsFor(mentionCandidates(state.online, state.messages, state.meId), query.text);
    suggestions.show(people);
  };

  const pick = (user: PublicUser): void => {
    if (!query) return;
    const caret = textarea.selectionStart ?? textarea.value.length;
    const next = insertMention(textarea.value, query, caret, user.display_name);
    textarea.value = next.value;
    textarea.setSelectionRange(next.caret, next.caret);
    if (!picked.some((other) => other.id === user.id)) picked = [...picked, user];
    query = null;
    suggestions.close();
    keepDraft();
    autosize();
    textarea.focus();
  };
  suggestions.onPick(pick);

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit();
  });
  textarea.addEventListener("keydown", (event) => {
    if (suggestions.isOpen() && suggestions.handleKey(event)) return;
    if (event.key === "Escape" && deps.state().replyingTo !== null) {
      event.preventDefault();
      deps.dispatch({ type: "reply_cancelled" });
    } else if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      submit();
    }
  });
  textarea.addEventListener("input", () => {
    keepDraft();
    autosize();
    tellTyping();
    suggest();
  });
  // Moving the caret by click or arrow keys changes what is being typed after `@`.
  textarea.addEventListener("click", suggest);
  textarea.addEventListener("blur", () => suggestions.close());
  cancelReply.addEventListener("click", () => {
    deps.dispatch({ type: "reply_cancelled" });
    textarea.focus();
  });

  // ----- the message replied to -----
  function drawReply(state: RoomState): void {
    const original = state.replyingTo === null ? undefined : findMessage(state, state.replyingTo);
    replyBanner.hidden = !original;
    if (!original) return replaceChildren(replyText);
    replyText.textContent = `Replying to ${quoteText(quoteOfOriginal(original))}`;
  }

  return {
    form,
    hint,
    focus: () => textarea.focus(),
    autosize,
    render(prev, next) {
      if (!prev || prev.replyingTo !== next.replyingTo || (next.replyingTo !== null && prev.messages !== next.messages)) {
        drawReply(next);
      }
    },
  };
}

// ----- the suggestions: a listbox the box points into -----

interface Suggestions {
  node: HTMLElement;
  show(people: readonly PublicUser[]): void;
  close(): void;
  isOpen(): boolean;
  onPick(handler: (user: PublicUser) => void): void;
  /** Arrow keys move, Enter or Tab picks, Escape closes; true when the key was theirs. */
  handleKey(event: KeyboardEvent): boolean;
}

function createSuggestions(textarea: HTMLTextAreaElement): Suggestions {
  const list = h("ul", { class: "mention-list", role: "listbox", id: uid("mentions"), "aria-label": "People to mention", hidden: true });
  textarea.setAttribute("aria-controls", list.id);
  let people: readonly PublicUser[] = [];
  let active = 0;
  let pickHandler: (user: PublicUser) => void = () => {};

  const options = (): HTMLElement[] => [...list.querySelectorAll<HTMLElement>("[role=option]")];

  const activate = (index: number): void => {
    active = (index + people.length) % people.length;
    options().forEach((option, at) => option.setAttribute("aria-selected", String(at === active)));
    const option = options()[active];
    textarea.setAttribute("aria-activedescendant", option.id);
    option.scrollIntoView({ block: "nearest" });
  };

  const close = (): void => {
    if (list.hidden) return;
    list.hidden = true;
    people = [];
    replaceChildren(list);
    textarea.removeAttribute("aria-activedescendant");
  };

  return {
    node: list,
    show(found) {
      if (found.length === 0) return close();
      const keep = people[active]?.id;
      people = found;
      replaceChildren(
        list,
        ...found.map((user) => {
          const option = h("li", { role: "option", id: uid("mention"), class: "mention-option", "aria-selected": "false" }, user.display_name);
          // Picked on press, before the box loses focus to the click.
          option.addEventListener("mousedown", (event) => {
            event.preventDefault();
            pickHandler(user);
          });
          return option;
        }),
      );
      list.hidden = false;
      activate(Math.max(0, found.findIndex((user) => user.id === keep)));
    },
    close,
    isOpen: () => !list.hidden,
    onPick(handler) {
      pickHandler = handler;
    },
    handleKey(event) {
      if (event.isComposing) return false;
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        activate(active + (event.key === "ArrowDown" ? 1 : -1));
        return true;
      }
      if (event.key === "Enter" || event.key === "Tab") {
        event.preventDefault();
        pickHandler(people[active]);
        return true;
      }
      if (event.key === "Escape") {
        event.preventDefault();
        close();
        return true;
      }
      return false;
    },
  };
}
