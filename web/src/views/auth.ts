// Sign in, register, and choose a new password with a reset code from staff.
import { ApiError, post } from "../api";
import type { ConsentRequired } from "../consent";
import { describeAny } from "../errors";
import { h, uid } from "../h";
import { setKeptOnDevice } from "../session";
import type { Me } from "../types";
import { errorBox, field, heading, input, type View } from "./common";
import { noticeBox } from "./consent";

/** `consent`: the notice's version the person must accept before going on (null: none). */
export type SignedIn = (token: string, user: Me, consent: ConsentRequired | null) => void;

/** What the sign-in, register and reset forms share once their fields are filled: the button
 * is disabled, `body` goes to `path`, and its answer signs the person in; a refusal runs
 * `onRefused` (if given), is said in `errors`, and the button can be pressed again. */
async function submitForSignIn(
  path: string,
  body: Record<string, string | boolean>,
  parts: { submit: HTMLButtonElement; errors: ReturnType<typeof errorBox>; onSignedIn: SignedIn; onRefused?: (err: unknown) => void },
): Promise<void> {
  parts.submit.disabled = true;
  try {
    const data = await post<{ token: string; user: Me; consent_required?: ConsentRequired | null }>(path, body);
    parts.onSignedIn(data.token, data.user, data.consent_required ?? null);
  } catch (err) {
    parts.onRefused?.(err);
    parts.errors.show(describeAny(err));
    parts.submit.disabled = false;
  }
}

export function signInView(onSignedIn: SignedIn, message?: string): View {
  const username = input({ name: "username", autocomplete: "username", required: true, autocapitalize: "none", spellcheck: "false" });
  const password = input({ name: "password", type: "password", autocomplete: "current-password", required: true });
  // Off unless chosen: on a shared clinic computer, closing the tab must sign out.
  const keep = input({ type: "checkbox", name: "remember", id: uid("field") });
  const keepHintId = uid("hint");
  keep.setAttribute("aria-describedby", keepHintId);
  const errors = errorBox();
  if (message) errors.show(message);
  const submit = h("button", { type: "submit", class: "primary" }, "Sign in");
  const form = h(
    "form",
    { class: "card form", novalidate: true },
    field("Username", username),
    field("Password", password),
    h("div", { class: "field check" }, keep, h("label", { for: keep.id }, "Keep me signed in on this device")),
    h("p", { id: keepHintId, class: "hint" }, "Only on a phone or computer that is yours alone: anyone who opens peerrooms on it is signed in as you. Sign out to stop."),
    errors.node,
    submit,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    errors.clear();
    if (!username.value.trim() || !password.value) {
      errors.show("Enter your username and password.");
      (username.value.trim() ? password : username).focus();
      return;
    }
    await submitForSignIn(
      "/api/auth/login",
      { username: username.value.trim(), password: password.value, remember: keep.checked },
      {
        submit,
        errors,
        onSignedIn: (newToken, user, consent) => {
          setKeptOnDevice(keep.checked);
          onSignedIn(newToken, user, consent);
        },
        onRefused: () => {
          password.value = "";
        },
      },
    );
  });
  const node = h(
    "div",
    { class: "auth" },
    heading("Sign in"),
    h("p", { class: "lede" }, "A private space for your group, with staff nearby."),
    form,
    h("p", null, h("a", { href: "#/register" }, "Register with an invite code")),
    h("p", null, h("a", { href: "#/reset" }, "I have a password reset code")),
  );
  return { title: "Sign in", node };
}

export function registerView(onSignedIn: SignedIn, inviteCode = ""): View {
  const code = input({ name: "invite_code", autocomplete: "off", required: true, value: inviteCode, autocapitalize: "none", spellcheck: "false" });
  const username = input({ name: "username", autocomplete: "username", required: true, autocapitalize: "none", spellcheck: "false" });
  const display = input({ name: "display_name", autocomplete: "nickname", required: true });
  const password = input({ name: "password", type: "password", autocomplete: "new-password", required: true });
  // Registering accepts the program's notice: shown here, and ticked as read.
  const accept = input({ type: "checkbox", name: "consent", id: uid("field"), required: true });
  const notice = noticeBox(accept);
  const errors = errorBox();
  const submit = h("button", { type: "submit", class: "primary" }, "Register");
  const form = h(
    "form",
    { class: "card form", novalidate: true },
    field("Invite code", code),
    field("Username", username, "Private: only you use it to sign in. 3 to 32 letters, digits, dots, dashes or underscores."),
    field("Display name", display, "How others in your rooms see you. It does not have to be your real name."),
    field("Password", password, "At least 10 characters, not containing your username."),
    h("h2", null, "What peerrooms keeps, and who reads it"),
    notice.node,
    h("div", { class: "field check" }, accept, h("label", { for: accept.id }, "I have read and accept this notice")),
    errors.node,
    submit,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    errors.clear();
    const missing = [
      [code, "Invite code"],
      [username, "Username"],
      [display, "Display name"],
      [password, "Password"],
    ].find(([control]) => !(control as HTMLInputElement).value.trim());
    if (missing) {
      errors.show(`${missing[1] as string}: this is needed.`);
      (missing[0] as HTMLInputElement).focus();
      return;
    }
    const version = notice.version();
    if (!version || !accept.checked) {
      errors.show(version ? "Notice: tick “I have read and accept this notice” to register." : "The notice has not loaded yet: it must be read before registering.");
      accept.focus();
      return;
    }
    await submitForSignIn(
      "/api/auth/register",
      {
        invite_code: code.value.trim(),
        username: username.value.trim(),
        display_name: display.value.trim(),
        password: password.value,
        consent_version: version,
      },
      {
        submit,
        errors,
        onSignedIn,
        onRefused: (err) => {
          // The notice changed after this page loaded it: the new one is shown, to be read
          // and ticked again.
          if (err instanceof ApiError && err.error.message.startsWith("consent_version")) {
            accept.checked = false;
            void notice.load();
          }
        },
      },
    );
  });
  const node = h(
    "div",
    { class: "auth" },
    heading("Register"),
    h("p", { class: "lede" }, "Your program gave you an invite code. Choose a private username and the name others will see."),
    form,
    h("p", null, h("a", { href: "#/signin" }, "I already have an account: sign in")),
  );
  return { title: "Register", node };
}

/** Choose a new password with a one-time code from staff (#/reset?code=...), then sign in
 * with it. `signedInAs`: someone is signed in in this tab; the new sign-in replaces theirs. */
export function resetView(onSignedIn: SignedIn, resetCode = "", signedInAs?: string): View {
  const code = input({ name: "code", autocomplete: "off", required: true, value: resetCode, autocapitalize: "none", spellcheck: "false" });
  const password = input({ name: "new_password", type: "password", autocomplete: "new-password", required: true });
  const errors = errorBox();
  const submit = h("button", { type: "submit", class: "primary" }, "Set new password");
  const form = h(
    "form",
    { class: "card form", novalidate: true },
    field("Reset code", code, "From the link or the note staff gave you. It works once."),
    field("New password", password, "At least 10 characters, not containing your username."),
    errors.node,
    submit,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    errors.clear();
    const missing = !code.value.trim() ? code : !password.value ? password : null;
    if (missing) {
      errors.show(missing === code ? "Reset code: this is needed." : "New password: this is needed.");
      missing.focus();
      return;
    }
    await submitForSignIn(
      "/api/auth/reset",
      { code: code.value.trim(), new_password: password.value },
      { submit, errors, onSignedIn },
    );
  });
  const node = h(
    "div",
    { class: "auth" },
    heading("Choose a new password"),
    h("p", { class: "lede" }, "Staff gave you a reset code. Choose a new password: you are signed in with it right away."),
    signedInAs
      ? h("p", { class: "note" }, `You are signed in as ${signedInAs}. Setting a password here signs you out, and signs in the person the code is for.`)
      : null,
    form,
    signedInAs ? null : h("p", null, h("a", { href: "#/signin" }, "Back to sign in")),
  );
  return { title: "Choose a new password", node };
}
