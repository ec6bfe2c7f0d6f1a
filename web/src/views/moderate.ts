// The member menu: a moderator mutes, removes (kicks) or bans someone from a room. How long a
// mute or ban lasts is chosen every time (nothing is preselected), and a ban until lifted is
// confirmed before it is made.
import { post } from "../api";
import { openDialog } from "../dialog";
import { describeAny } from "../errors";
import { untilPhrase } from "../format";
import { h } from "../h";
import type { PublicUser } from "../types";
import { askToConfirm, button, errorBox, field } from "./common";

// The server's limits (server/moderation/models.py).
const MAX_MUTE_MINUTES = 7 * 24 * 60;
const MAX_BAN_MINUTES = 365 * 24 * 60;

const PERMANENT = "permanent";
const OTHER = "other";

/** The lengths offered: minutes as the value, or PERMANENT, or OTHER (typed into Minutes). */
const LENGTHS: [string, string][] = [
  ["15", "15 minutes"],
  ["60", "1 hour"],
  ["1440", "1 day"],
  ["10080", "7 days"],
  ["43200", "30 days (bans only)"],
  [PERMANENT, "Permanent (bans only)"],
  [OTHER, "Another length (minutes below)"],
];

export function moderateButton(roomId: number, user: PublicUser, onDone: (text: string) => void, visible?: string): HTMLButtonElement {
  // The visible text may be just the name (a message's author); the name always says what it does.
  const label = `Moderate ${user.display_name}`;
  const btn = button(visible ?? label, {
    class: visible ? "author-button" : "small",
    "aria-label": visible ? label : undefined,
    "aria-haspopup": "dialog",
  });
  btn.addEventListener("click", () => openModerateDialog(roomId, user, onDone));
  return btn;
}

export function openModerateDialog(roomId: number, user: PublicUser, onDone: (text: string) => void): void {
  const name = user.display_name;
  const length = h(
    "select",
    null,
    h("option", { value: "" }, "Choose how long…"),
    ...LENGTHS.map(([value, text]) => h("option", { value }, text)),
  );
  const minutes = h("input", { type: "number", min: "1", max: String(MAX_BAN_MINUTES), step: "1", inputmode: "numeric" });
  const reason = h("textarea", { rows: "2", maxlength: "500" });
  const errors = errorBox();
  const mute = button("Mute", { class: "warn" });
  const kick = button("Kick", { class: "warn" });
  const ban = button("Ban", { class: "danger" });
  const cancel = button("Cancel");
  // Typing minutes chooses "another length"; choosing a set length clears what was typed, so
  // the two never disagree about what will happen.
  minutes.addEventListener("input", () => {
    if (minutes.value.trim() !== "") length.value = OTHER;
  });
  length.addEventListener("change", () => {
    if (length.value !== OTHER) minutes.value = "";
  });
  const handle = openDialog({
    title: `Moderate ${name}`,
    content: [
      h(
        "p",
        { class: "note" },
        `Mute stops ${name} posting here; Kick removes them from the room now, and they may come back; Ban keeps them out. Choose how long a mute or ban lasts: nothing is chosen for you.`,
      ),
      field("How long", length, "For a mute or a ban. A mute lasts at most 7 days; only a ban can be permanent (until a moderator lifts it)."),
      field("Minutes", minutes, "Only for another length: typing a number here chooses it."),
      field("Reason", reason, "Kept in the audit log; shown to staff only."),
      errors.node,
      h("div", { class: "dialog-actions" }, mute, kick, ban, cancel),
    ],
    initialFocus: length,
  });
  cancel.addEventListener("click", () => handle.close());
  const buttons = [mute, kick, ban, cancel];

  /** The length chosen for a mute or ban: minutes, or null for until lifted; undefined when
   * nothing usable is chosen (the reason is shown). */
  const chosenMinutes = (kind: "mutes" | "bans"): number | null | undefined => {
    const noun = kind === "mutes" ? "mute" : "ban";
    const choice = length.value;
    const typed = minutes.value.trim();
    if (choice === PERMANENT) {
      if (kind === "bans") return null;
      errors.show(`How long: a mute cannot be permanent. Choose 7 days or less, or ban ${name} instead.`);
      length.focus();
      return undefined;
    }
    let count: number;
    if (choice === "" || choice === OTHER) {
      if (typed === "") {
        if (choice === OTHER) {
          errors.show(`Minutes: type how many minutes the ${noun} lasts.`);
          minutes.focus();
        } else {
          errors.show(`How long: choose how long the ${noun} lasts.`);
          length.focus();
        }
        return undefined;
      }
      count = Number(typed);
      if (!Number.isInteger(count) || count < 1) {
        errors.show("Minutes: enter a whole number of minutes, 1 or more.");
        minutes.focus();
        return undefined;
      }
    } else {
      count = Number(choice);
    }
    const most = kind === "mutes" ? MAX_MUTE_MINUTES : MAX_BAN_MINUTES;
    if (count > most) {
      errors.show(
        kind === "mutes"
          ? `How long: a mute lasts at most 7 days (${MAX_MUTE_MINUTES} minutes). To keep ${name} out longer, ban them.`
          : `Minutes: a ban for a set time lasts at most 365 days (${MAX_BAN_MINUTES} minutes); choose Permanent for longer.`,
      );
      (choice === "" || choice === OTHER ? minutes : length).focus();
      return undefined;
    }
    return count;
  };

  const act = async (kind: "mutes" | "kicks" | "bans"): Promise<void> => {
    errors.clear();
    const body: Record<string, unknown> = { user_id: user.id, reason: reason.value.trim() };
    if (kind !== "kicks") {
      const count = chosenMinutes(kind);
      if (count === undefined) return;
      if (count !== null) body.minutes = count;
      else {
        const sure = await askToConfirm({
          title: `Ban ${name} until lifted?`,
          text: `${name} is kept out of this room with no end date: only a moderator lifting the ban lets them back in.`,
          confirmText: "Ban until lifted",
        });
        if (!sure) return;
      }
    }
    for (const b of buttons) b.disabled = true;
    try {
      const result = await post<{ mute?: { until: string | null }; ban?: { until: string | null } }>(
        `/api/rooms/${roomId}/${kind}`,
        body,
      );
      handle.close();
      if (kind === "mutes") onDone(`${name} is muted ${untilPhrase(result.mute?.until)}.`);
      else if (kind === "kicks") onDone(`${name} was removed from the room.`);
      else onDone(`${name} is banned from the room ${untilPhrase(result.ban?.until)}.`);
    } catch (err) {
      errors.show(describeAny(err));
      for (const b of buttons) b.disabled = false;
    }
  };
  mute.addEventListener("click", () => void act("mutes"));
  kick.addEventListener("click", () => void act("kicks"));
  ban.addEventListener("click", () => void act("bans"));
}
