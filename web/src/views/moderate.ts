// The member menu: a moderator mutes, removes (kicks) or bans someone from a room.
import { post } from "../api";
import { openDialog } from "../dialog";
import { describeAny } from "../errors";
import { untilPhrase } from "../format";
import { h } from "../h";
import type { PublicUser } from "../types";
import { button, errorBox, field } from "./common";

const DEFAULT_MINUTES = "10";

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
  const minutes = h("input", { type: "number", min: "1", max: "525600", step: "1", inputmode: "numeric", value: DEFAULT_MINUTES });
  const reason = h("textarea", { rows: "2", maxlength: "500" });
  const errors = errorBox();
  const mute = button("Mute", { class: "warn" });
  const kick = button("Kick", { class: "warn" });
  const ban = button("Ban", { class: "danger" });
  const cancel = button("Cancel");
  const handle = openDialog({
    title: `Moderate ${user.display_name}`,
    content: [
      h("p", { class: "hint" }, `Mute stops ${user.display_name} posting here for the minutes given. Kick removes them from the room now; they may come back. Ban keeps them out for the minutes given, or until lifted if Minutes is empty.`),
      field("Minutes", minutes),
      field("Reason", reason, "Kept in the audit log; shown to staff only."),
      errors.node,
      h("div", { class: "dialog-actions" }, mute, kick, ban, cancel),
    ],
  });
  cancel.addEventListener("click", () => handle.close());
  const buttons = [mute, kick, ban, cancel];

  const act = async (kind: "mutes" | "kicks" | "bans"): Promise<void> => {
    errors.clear();
    const raw = minutes.value.trim();
    const count = raw === "" ? null : Number(raw);
    if (count !== null && (!Number.isInteger(count) || count < 1)) {
      errors.show("Minutes: enter a whole number of minutes, 1 or more.");
      minutes.focus();
      return;
    }
    if (kind === "mutes" && count === null) {
      errors.show("Minutes: enter how many minutes the mute lasts.");
      minutes.focus();
      return;
    }
    const body: Record<string, unknown> = { user_id: user.id, reason: reason.value.trim() };
    if (kind !== "kicks" && count !== null) body.minutes = count;
    for (const b of buttons) b.disabled = true;
    try {
      const result = await post<{ mute?: { until: string | null }; ban?: { until: string | null } }>(
        `/api/rooms/${roomId}/${kind}`,
        body,
      );
      handle.close();
      if (kind === "mutes") onDone(`${user.display_name} is muted ${untilPhrase(result.mute?.until)}.`);
      else if (kind === "kicks") onDone(`${user.display_name} was removed from the room.`);
      else onDone(`${user.display_name} is banned from the room ${untilPhrase(result.ban?.until)}.`);
    } catch (err) {
      errors.show(describeAny(err));
      for (const b of buttons) b.disabled = false;
    }
  };
  mute.addEventListener("click", () => void act("mutes"));
  kick.addEventListener("click", () => void act("kicks"));
  ban.addEventListener("click", () => void act("bans"));
}
