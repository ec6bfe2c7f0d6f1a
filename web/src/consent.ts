// The program's consent notice (docs/privacy.md, "Consent"): which version this tab's person
// must still accept. Kept in the tab's storage, so a reload shows the notice again rather than
// the rooms; signing out forgets it with everything else.
import { store } from "./session";

/** What a sign-in, GET /api/me or a refusal says is due: the notice's version to accept. */
export interface ConsentRequired {
  version: string;
}

/** GET /api/consent. */
export interface ConsentNotice {
  version: string;
  text: string;
}

const DUE_KEY = "consent_due";

export function consentDue(): string | null {
  return store.get<string | null>(DUE_KEY, null);
}

export function setConsentDue(due: ConsentRequired | null | undefined): void {
  if (due) store.set(DUE_KEY, due.version);
  else store.remove(DUE_KEY);
}
