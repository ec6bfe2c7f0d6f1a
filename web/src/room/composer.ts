// The box to write in: its draft is kept in sessionStorage, Enter sends through the outbox (which
// keeps the message until the server has it), and others are told I am typing.
import { connection } from "../connection";
import { h, uid } from "../h";
import { outbox } from "../outbox";
import { store } from "../session";
import { MAX_BODY, type RoomAction, type RoomState } from "./state";

// Send `typing` at most this often while someone types.
const TYPING_EMIT_MS = 2_000;
// The box grows with its text up to this height, then scrolls.
const MAX_HEIGHT_PX = 160;

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
}

export function createComposer(deps: ComposerDeps): Composer {
  const { roomId } = deps;
  const draftKey = `draft.${roomId}`;
  const textarea = h("textarea", {
    id: uid("message"),
    rows: "1",
    maxlength: String(MAX_BODY),
    placeholder: "Write a message…",
    autocomplete: "off",
    enterkeyhint: "send",
  });
  const form = h(
    "form",
    { class: "composer", novalidate: true },
    h("label", { for: textarea.id, class: "sr-only" }, "Message"),
    textarea,
    h("button", { type: "submit", class: "primary send" }, "Send"),
  );
  const hint = h("p", { class: "hint composer-hint", id: uid("hint") }, "Enter sends. Shift+Enter starts a new line.");
  textarea.setAttribute("aria-describedby", hint.id);
  textarea.value = store.get<string>(draftKey, "");
  let lastTypingSent = 0;

  const autosize = (): void => {
    textarea.style.height = "auto";
    textarea.style.height = `${Math.min(textarea.scrollHeight, MAX_HEIGHT_PX)}px`;
  };

  const submit = (): void => {
    const body = textarea.value.trim();
    if (!body) return;
    if (body.length > MAX_BODY) {
      deps.dispatch({ type: "error_shown", text: `Message: at most ${MAX_BODY} characters; this one has ${body.length}.` });
      return;
    }
    deps.dispatch({ type: "error_cleared" });
    outbox.send(roomId, body);
    textarea.value = "";
    store.remove(draftKey);
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

  form.addEventListener("submit", (event) => {
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
    tellTyping();
  });

  return { form, hint, focus: () => textarea.focus(), autosize };
}
