// Modal dialogs on the native <dialog> element: showModal() makes the rest of the page inert
// (focus stays inside), Escape closes, and focus goes back where it was.
import { h, uid, type Child } from "./h";

export interface DialogHandle {
  dialog: HTMLDialogElement;
  close(): void;
}

export interface DialogOptions {
  title: string;
  content: Child[];
  /** What gets focus on opening; default: the first form control, else the heading. */
  initialFocus?: HTMLElement | null;
  className?: string;
  onClose?: () => void;
}

export function openDialog(options: DialogOptions): DialogHandle {
  const returnTo = document.activeElement instanceof HTMLElement ? document.activeElement : null;
  const titleId = uid("dialog-title");
  const heading = h("h2", { id: titleId, tabindex: "-1", class: "dialog-title" }, options.title);
  const dialog = h(
    "dialog",
    { "aria-labelledby": titleId, class: `dialog ${options.className ?? ""}`.trim() },
    heading,
    ...options.content,
  );
  let closed = false;
  const close = (): void => {
    if (closed) return;
    closed = true;
    if (dialog.open) dialog.close();
    dialog.remove();
    options.onClose?.();
    if (returnTo && returnTo.isConnected) returnTo.focus();
  };
  dialog.addEventListener("close", close);
  dialog.addEventListener("cancel", (event) => {
    event.preventDefault();
    close();
  });
  document.body.appendChild(dialog);
  dialog.showModal();
  const target =
    options.initialFocus ??
    dialog.querySelector<HTMLElement>("input:not([disabled]), textarea, select") ??
    heading;
  target.focus();
  return { dialog, close };
}
