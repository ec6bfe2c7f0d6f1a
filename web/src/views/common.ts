// Pieces every screen uses.
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
