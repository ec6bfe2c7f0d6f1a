// My profile (#/profile): the alias others in my rooms know me by, my pronouns and a short line
// (GET/PATCH /api/me/profile), and a new password (POST /api/me/password), which signs me out
// everywhere else. docs/protocol-additions.md, "My profile and my password".
import "./profile.css";
import { ApiError, get, patch, post } from "../api";
import { describeAny } from "../errors";
import { pluralize } from "../format";
import { h, uid, type Child } from "../h";
import { currentUser, setUser } from "../session";
import type { Profile } from "../types";
import { errorBox, field, heading, input, statusBox, type View } from "./common";

// The server's bounds (server/accounts/models.py).
const DISPLAY_NAME_MAX = 40;
const PRONOUNS_MAX = 30;
const LINE_MAX = 80;

type ProfileAnswer = { profile: Profile };

function section(title: string, kind: string, ...content: Child[]): HTMLFormElement {
  const id = uid("section");
  return h(
    "form",
    { class: `card form profile-section profile-${kind}`, "aria-labelledby": id, novalidate: true },
    h("h2", { id, tabindex: "-1" }, title),
    ...content,
  );
}

/** A refusal in plain words; a limit reached says how long to wait, in minutes or hours. */
function refusal(err: unknown): string {
  if (!(err instanceof ApiError) || err.error.code !== "rate_limited") return describeAny(err);
  const text = err.error.message.replace(/^[a-z_]+:\s*/, "");
  const minutes = Math.max(1, Math.ceil(Number(err.error.retry_after_s ?? 60) / 60));
  const wait = minutes < 120 ? pluralize(minutes, "minute") : pluralize(Math.ceil(minutes / 60), "hour");
  return `${text.charAt(0).toUpperCase()}${text.slice(1)} Try again in about ${wait}.`;
}

/** Mark the one field a sentence is about (aria-invalid), and put the focus there. */
function markInvalid(controls: HTMLInputElement[], wrong: HTMLInputElement | null): void {
  for (const control of controls) control.removeAttribute("aria-invalid");
  if (!wrong) return;
  wrong.setAttribute("aria-invalid", "true");
  wrong.focus();
}

export function profileView(): View {
  let stopped = false;

  // ----- how others see me -----
  const displayName = input({ name: "display_name", autocomplete: "nickname", maxlength: DISPLAY_NAME_MAX, required: true });
  const pronouns = input({ name: "pronouns", autocomplete: "off", maxlength: PRONOUNS_MAX });
  const line = input({ name: "line", autocomplete: "off", maxlength: LINE_MAX });
  const profileFields = [displayName, pronouns, line];
  const profileErrors = errorBox();
  const profileStatus = statusBox();
  const save = h("button", { type: "submit", class: "primary" }, "Save");
  // Closed until the stored profile arrives: nothing typed is overwritten by it.
  const fields = h(
    "fieldset",
    { class: "profile-fields", disabled: true, "aria-busy": "true" },
    field(
      "Display name",
      displayName,
      "How others in your rooms see you; it does not have to be your real name. It must not look like anyone else's, and it can change a few times a day.",
    ),
    field("Pronouns (optional)", pronouns, "For example she/her, he/him or they/them."),
    field("A short line about you (optional)", line, `Shown beside your name where a room lists who is here. At most ${LINE_MAX} characters.`),
    h("div", { class: "profile-actions" }, save),
  );
  const profileForm = section("How others see you", "about", fields, profileErrors.node, profileStatus.node);
  const fill = (profile: Profile): void => {
    displayName.value = profile.display_name;
    pronouns.value = profile.pronouns ?? "";
    line.value = profile.line ?? "";
  };
  void get<ProfileAnswer>("/api/me/profile")
    .then((data) => {
      if (stopped) return;
      fill(data.profile);
      fields.disabled = false;
      fields.removeAttribute("aria-busy");
    })
    .catch((err: unknown) => {
      if (!stopped) profileErrors.show(describeAny(err));
    });
  profileForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    profileErrors.clear();
    profileStatus.clear();
    if (!displayName.value.trim()) {
      markInvalid(profileFields, displayName);
      profileErrors.show("Display name: this is needed.");
      return;
    }
    markInvalid(profileFields, null);
    save.disabled = true;
    try {
      const data = await patch<ProfileAnswer>("/api/me/profile", {
        display_name: displayName.value.trim(),
        pronouns: pronouns.value.trim(),
        line: line.value.trim(),
      });
      if (stopped) return;
      fill(data.profile);
      const me = currentUser();
      if (me) setUser({ ...me, display_name: data.profile.display_name });
      profileStatus.show("Saved. Everyone in your rooms sees it now.");
    } catch (err) {
      if (stopped) return;
      const about = err instanceof ApiError ? /^(display_name|pronouns|line):/.exec(err.error.message)?.[1] : undefined;
      markInvalid(profileFields, profileFields.find((control) => control.name === about) ?? null);
      profileErrors.show(refusal(err));
    } finally {
      save.disabled = false;
    }
  });

  // ----- my password -----
  const current = input({ name: "current_password", type: "password", autocomplete: "current-password", required: true });
  const fresh = input({ name: "new_password", type: "password", autocomplete: "new-password", required: true });
  const confirm = input({ name: "confirm_password", type: "password", autocomplete: "new-password", required: true });
  const passwordFields = [current, fresh, confirm];
  const passwordErrors = errorBox();
  const passwordStatus = statusBox();
  const change = h("button", { type: "submit", class: "primary" }, "Change password");
  const passwordForm = section(
    "Change password",
    "password",
    h("p", { class: "hint" }, "Changing it signs you out on every other phone and computer; you stay signed in here."),
    field("Current password", current),
    field("New password", fresh, "At least 10 characters, not containing your username."),
    field("Confirm new password", confirm),
    passwordErrors.node,
    passwordStatus.node,
    h("div", { class: "profile-actions" }, change),
  );
  passwordForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    passwordErrors.clear();
    passwordStatus.clear();
    const missing = passwordFields.find((control) => !control.value);
    const wrong = missing ?? (fresh.value !== confirm.value ? confirm : null);
    if (wrong) {
      markInvalid(passwordFields, wrong);
      const label = wrong === current ? "Current password" : wrong === fresh ? "New password" : "Confirm new password";
      passwordErrors.show(missing ? `${label}: this is needed.` : "Confirm new password: it is not the same as the new password.");
      return;
    }
    markInvalid(passwordFields, null);
    change.disabled = true;
    try {
      await post("/api/me/password", { current_password: current.value, new_password: fresh.value });
      if (stopped) return;
      for (const control of passwordFields) control.value = "";
      passwordStatus.show("Your password is changed. You are signed out everywhere else.");
    } catch (err) {
      if (stopped) return;
      const code = err instanceof ApiError ? err.error.code : "";
      markInvalid(passwordFields, code === "forbidden" ? current : code === "invalid" ? fresh : null);
      // The rules' sentences name the registration form's field.
      passwordErrors.show(refusal(err).replace(/^Password:/, "New password:"));
    } finally {
      change.disabled = false;
    }
  });

  const node = h(
    "div",
    { class: "profile" },
    heading("My profile"),
    h("p", { class: "lede" }, "How others in your rooms see you, and your password."),
    profileForm,
    passwordForm,
  );
  return {
    title: "My profile",
    node,
    cleanup: () => {
      stopped = true;
    },
  };
}
