// The program's consent notice: shown in the registration form (accepted by registering), and
// on a screen of its own after a sign-in while a newer version waits, before anything else.
import "./consent.css";
import { get, post } from "../api";
import type { ConsentNotice } from "../consent";
import { describeAny } from "../errors";
import { h } from "../h";
import { button, errorBox, heading, loading, type View } from "./common";

export interface NoticeBox {
  node: HTMLElement;
  /** The version shown, once loaded. */
  version(): string | null;
  /** Read the notice (again: it changed since it was shown). */
  load(): Promise<void>;
}

/** The notice as written (plain text, line breaks kept) in a region that scrolls on its own,
 * so the form's controls stay in reach on a phone. `accept`: the control that accepts it,
 * enabled only while a notice is shown. */
export function noticeBox(accept: HTMLInputElement | HTMLButtonElement, label = "The program's notice"): NoticeBox {
  const body = h("div", { class: "consent-text" }, loading("Loading the notice…"));
  const errors = errorBox();
  const node = h(
    "div",
    { class: "consent-notice" },
    h("div", { class: "consent-scroll", role: "region", "aria-label": label, tabindex: "0" }, body),
    errors.node,
  );
  let shown: string | null = null;
  const load = async (): Promise<void> => {
    errors.clear();
    accept.disabled = true;
    try {
      const notice = await get<ConsentNotice>("/api/consent");
      shown = notice.version;
      body.textContent = notice.text;
      accept.disabled = false;
    } catch (err) {
      shown = null;
      body.textContent = "";
      errors.show(`The notice could not be loaded. ${describeAny(err)}`);
    }
  };
  void load();
  return { node, version: () => shown, load };
}

/** After a sign-in: the notice changed (or was never accepted); Accept, or Sign out. */
export function consentView(onAccepted: () => void, onSignOut: () => void): View {
  const accept = button("Accept", { class: "primary" });
  const notice = noticeBox(accept);
  const errors = errorBox();
  const signOut = button("Sign out");
  accept.addEventListener("click", async () => {
    errors.clear();
    const version = notice.version();
    if (!version) {
      errors.show("The notice has not loaded yet: it must be read before it is accepted.");
      return;
    }
    accept.disabled = true;
    try {
      await post("/api/me/consent", { version });
      onAccepted();
    } catch (err) {
      errors.show(describeAny(err));
      // Changed again while it was on screen: the new one is shown, to read and accept.
      await notice.load();
    }
  });
  signOut.addEventListener("click", onSignOut);
  const node = h(
    "div",
    { class: "auth consent" },
    heading("Before you go on"),
    h(
      "p",
      { class: "lede" },
      "Please read your program's notice about what peerrooms keeps and who reads it. Accept it to go on, or sign out.",
    ),
    notice.node,
    errors.node,
    h("div", { class: "row-actions" }, accept, signOut),
  );
  return { title: "Before you go on", node };
}
