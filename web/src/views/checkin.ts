// The check-in form of a live session (mood 1 to 5 and a note), shared by the Meetings list and
// the meeting page. The server keeps the newest check-in; there is no way to read one's own
// back, so this tab remembers which sessions it checked in to, and the meeting page asks only
// until then.
import { post } from "../api";
import { describeAny } from "../errors";
import { h, uid } from "../h";
import { store } from "../session";
import type { Occurrence } from "../types";
import { errorBox, statusBox } from "./common";

const CHECKED_IN = "checkins";

const sessionKey = (occ: Pick<Occurrence, "meeting_id" | "starts_at">): string => `${occ.meeting_id}@${occ.starts_at}`;

/** Whether this tab checked in to this session. */
export function hasCheckedIn(occ: Pick<Occurrence, "meeting_id" | "starts_at">): boolean {
  return store.get<string[]>(CHECKED_IN, []).includes(sessionKey(occ));
}

function rememberCheckIn(occ: Pick<Occurrence, "meeting_id" | "starts_at">): void {
  const keys = store.get<string[]>(CHECKED_IN, []).filter((key) => key !== sessionKey(occ));
  // A few weeks of sessions is plenty to remember.
  store.set(CHECKED_IN, [...keys.slice(-49), sessionKey(occ)]);
}

/** The form `Check in to {title}`: radio group `Mood`, textbox `Note`, button `Check in`.
 * `onCheckedIn` runs after the server took it. */
export function checkInForm(occ: Occurrence, onCheckedIn?: () => void): HTMLFormElement {
  const legendId = uid("mood");
  const name = uid("mood-choice");
  const hintId = uid("hint");
  const radios = [1, 2, 3, 4, 5].map((n) => {
    const id = uid("mood");
    return h(
      "span",
      { class: "mood-option" },
      h("input", { type: "radio", name, id, value: String(n) }),
      h("label", { for: id }, String(n)),
    );
  });
  const note = h("input", { type: "text", maxlength: "500", autocomplete: "off" });
  const noteId = uid("note");
  note.id = noteId;
  const formErrors = errorBox();
  const done = statusBox();
  const submit = h("button", { type: "submit", class: "primary" }, "Check in");
  const form = h(
    "form",
    { class: "checkin", novalidate: true, "aria-label": `Check in to ${occ.title}` },
    h(
      "fieldset",
      { role: "radiogroup", "aria-labelledby": legendId, "aria-describedby": hintId, class: "mood" },
      h("legend", { id: legendId }, "Mood"),
      h("p", { class: "hint", id: hintId }, "1 is very low, 5 is very good."),
      h("div", { class: "mood-options" }, ...radios),
    ),
    h("div", { class: "field" }, h("label", { for: noteId }, "Note"), note),
    formErrors.node,
    done.node,
    submit,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    formErrors.clear();
    done.clear();
    const chosen = form.querySelector<HTMLInputElement>(`input[name="${name}"]:checked`);
    if (!chosen) {
      formErrors.show("Mood: choose a number from 1 to 5.");
      form.querySelector<HTMLInputElement>("input[type=radio]")?.focus();
      return;
    }
    submit.disabled = true;
    try {
      await post(`/api/meetings/${occ.meeting_id}/checkins`, {
        mood: Number(chosen.value),
        note: note.value.trim(),
      });
      rememberCheckIn(occ);
      done.show("Checked in. Thank you. You can check in again to change it.");
      onCheckedIn?.();
    } catch (err) {
      formErrors.show(describeAny(err));
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}
