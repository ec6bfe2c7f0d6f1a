// Pieces every screen uses.
import { openDialog } from "../dialog";
import { describeAny } from "../errors";
import { h, uid, type Attrs, type Child } from "../h";

export interface View {
  title: string;
  node: HTMLElement;
  cleanup?: () => void;
}

export function heading(text: string): HTMLHeadingElement {
  return h("h1", { tabindex: "-1", class: "screen-title" }, text);
}

/** A region for errors: role="alert", hidden while empty (so it is not an empty landmark). */
export function errorBox(): { node: HTMLDivElement; show(text: string): void; clear(): void } {
  const node = h("div", { role: "alert", class: "error", hidden: true });
  return {
    node,
    show(text: string) {
      node.textContent = text;
      node.hidden = false;
    },
    clear() {
      node.textContent = "";
      node.hidden = true;
    },
  };
}

/** A polite status line ("Saved."), hidden while empty. */
export function statusBox(label?: string): { node: HTMLDivElement; show(text: string): void; clear(): void } {
  const node = h("div", { role: "status", class: "note", "aria-label": label });
  return {
    node,
    show(text: string) {
      node.textContent = text;
    },
    clear() {
      node.textContent = "";
    },
  };
}

/** A labelled form field: <label> + control, tied together by id. */
export function field(
  label: string,
  control: HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement,
  hint?: string,
): HTMLDivElement {
  const id = control.id || uid("field");
  control.id = id;
  let hintNode: HTMLElement | null = null;
  if (hint) {
    const hintId = uid("hint");
    hintNode = h("p", { id: hintId, class: "hint" }, hint);
    control.setAttribute("aria-describedby", hintId);
  }
  return h("div", { class: "field" }, h("label", { for: id }, label), control, hintNode);
}

export function input(attrs: Attrs): HTMLInputElement {
  return h("input", attrs);
}

export function button(text: string, attrs: Attrs = {}, ...extra: Child[]): HTMLButtonElement {
  return h("button", { type: "button", ...attrs }, text, ...extra);
}

export function loading(text = "Loading…"): HTMLParagraphElement {
  return h("p", { class: "note" }, text);
}

export interface ConfirmOptions {
  title: string;
  /** What confirming does, in a sentence or a few nodes. */
  text: Child;
  confirmText: string;
  tone?: "primary" | "danger";
}

/** Ask, in a dialog of its own, to confirm one step; answers whether it was confirmed. Focus
 * starts on Cancel, so Enter pressed by habit does nothing it cannot take back. */
export function askToConfirm(options: ConfirmOptions): Promise<boolean> {
  return new Promise((resolve) => {
    let confirmed = false;
    const yes = button(options.confirmText, { class: options.tone ?? "danger" });
    const no = button("Cancel");
    const handle = openDialog({
      title: options.title,
      content: [h("p", null, options.text), h("div", { class: "dialog-actions" }, yes, no)],
      initialFocus: no,
      className: "confirm-dialog",
      onClose: () => resolve(confirmed),
    });
    yes.addEventListener("click", () => {
      confirmed = true;
      handle.close();
    });
    no.addEventListener("click", () => handle.close());
  });
}

export interface ConfirmActionOptions extends ConfirmOptions {
  run: () => Promise<unknown>;
  done: () => Promise<void>;
}

/** A dialog asking to confirm one action that it then runs: a refusal is said in the dialog
 * (which stays open to try again or cancel); on success it closes and `done` follows. */
export function confirmAction(options: ConfirmActionOptions): void {
  const errors = errorBox();
  const yes = button(options.confirmText, { class: options.tone ?? "danger" });
  const cancel = button("Cancel");
  const handle = openDialog({
    title: options.title,
    content: [h("p", null, options.text), errors.node, h("div", { class: "dialog-actions" }, yes, cancel)],
  });
  cancel.addEventListener("click", () => handle.close());
  yes.addEventListener("click", async () => {
    errors.clear();
    yes.disabled = true;
    cancel.disabled = true;
    try {
      await options.run();
    } catch (err) {
      errors.show(describeAny(err));
      yes.disabled = false;
      cancel.disabled = false;
      return;
    }
    handle.close();
    await options.done();
  });
}

/** A link to hand over: a read-only box that selects itself, a `Copy link` button, and a
 * status saying it was copied (or, where the clipboard is closed, that the box is selected). */
export function linkToCopy(link: string, className: string): {
  box: HTMLInputElement;
  copy: HTMLButtonElement;
  copied: ReturnType<typeof statusBox>;
} {
  const box = input({ type: "text", readonly: true, value: link, class: className, spellcheck: "false" });
  box.addEventListener("focus", () => box.select());
  const copy = button("Copy link", { class: "small" });
  const copied = statusBox();
  copy.addEventListener("click", async () => {
    try {
      if (!navigator.clipboard) throw new Error("no clipboard");
      await navigator.clipboard.writeText(link);
      copied.show("Link copied.");
    } catch {
      box.focus();
      box.select();
      copied.show("Copying is not possible here: the link is selected, copy it from the box.");
    }
  });
  return { box, copy, copied };
}
