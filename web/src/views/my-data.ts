// My data (#/my-data): a person takes everything peerrooms holds about them (an export, made in
// the background, downloaded as a readable page or as JSON) and may ask to be erased. And, on a
// person's page in the console, the same for staff: an export on the person's behalf, an
// erasure request on their behalf, and (admins) the decision. docs/privacy.md.
import { get, post, request } from "../api";
import { describeAny } from "../errors";
import { fullTime } from "../format";
import { h, replaceChildren, uid, type Child } from "../h";
import { currentUser } from "../session";
import type { PublicUser as User } from "../types";
import { button, confirmAction, errorBox, field, heading, loading, statusBox, type View } from "./common";

export interface PersonalExport {
  id: number;
  user: User;
  requested_by: User | null;
  status: "pending" | "ready" | "failed" | "expired";
  created_at: string;
  ready_at: string | null;
  expires_at: string | null;
}

export interface ErasureRequest {
  id: number;
  user: User;
  requested_by: User | null;
  reason: string;
  status: "pending" | "declined" | "erased";
  created_at: string;
  decided_by: User | null;
  decided_at: string | null;
  note: string;
}

// While an export is being made, its status is asked again this often.
const POLL_MS = 3_000;
const REASON_MAX = 500;

const EXPORT_STATUS: Record<PersonalExport["status"], string> = {
  pending: "Being prepared…",
  ready: "Ready",
  failed: "Could not be prepared: ask again",
  expired: "Expired and deleted",
};
const ERASURE_STATUS: Record<ErasureRequest["status"], string> = {
  pending: "Waiting for an admin's decision",
  declined: "Declined",
  erased: "Erased",
};

const ERASURE_EXPLAINED =
  "If an admin approves, your account is closed for good and renamed “Former member” with a few letters: " +
  "you are signed out everywhere and cannot sign in again. Your messages are replaced by “Removed at the member's request.” " +
  "in every room, and your email address, notification settings and followed rooms are deleted. " +
  "What the program must keep (attendance, check-ins, the moderation record) stays under that name. " +
  "Download your export first if you want a copy. Nothing happens until an admin decides.";

function section(title: string, kind: string, ...content: Child[]): { node: HTMLElement; title: HTMLHeadingElement } {
  const id = uid("section");
  const titleNode = h("h2", { id, tabindex: "-1" }, title);
  const node = h("section", { class: `card my-data-section my-data-${kind}`, "aria-labelledby": id }, titleNode, ...content);
  return { node, title: titleNode };
}

function when(iso: string | null): Child {
  return iso ? h("time", { datetime: iso }, fullTime(iso)) : "";
}

/** Fetch an export's file with the sign-in (a header: a plain link could not carry it) and
 * hand it to the browser as a download. */
async function saveExport(exportId: number, format: "html" | "json"): Promise<void> {
  const response = await request("GET", `/api/exports/${exportId}/download?format=${format}`);
  const url = URL.createObjectURL(await response.blob());
  const link = h("a", { href: url, download: `peerrooms-export-${exportId}.${format}`, hidden: true });
  document.body.appendChild(link);
  link.click();
  link.remove();
  // The browser has taken the file once the click's task has run.
  window.setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/** A list of exports; those `mayDownload` says this person may fetch get the two buttons. */
function exportList(
  exports: PersonalExport[],
  mayDownload: (item: PersonalExport) => boolean,
  errors: ReturnType<typeof errorBox>,
): HTMLElement {
  if (exports.length === 0) return h("p", { class: "note" }, "No export yet.");
  return h(
    "ul",
    { class: "export-list", "aria-label": "Exports" },
    ...exports.map((item) => {
      const parts: Child[] = [
        h("span", null, "Asked for ", when(item.created_at), item.requested_by && item.requested_by.id !== item.user.id ? ` by ${item.requested_by.display_name}` : "", ": "),
        h("strong", { class: `export-status export-${item.status}` }, EXPORT_STATUS[item.status]),
      ];
      if (item.status === "ready" && item.expires_at) parts.push(h("span", { class: "note" }, " (until ", when(item.expires_at), ")"));
      if (item.status === "ready" && mayDownload(item)) {
        const page = button("Download as a page", { class: "small primary" });
        const data = button("Download as JSON", { class: "small" });
        for (const [control, format] of [[page, "html"], [data, "json"]] as const) {
          control.addEventListener("click", async () => {
            errors.clear();
            control.disabled = true;
            try {
              await saveExport(item.id, format);
            } catch (err) {
              errors.show(describeAny(err));
            } finally {
              control.disabled = false;
            }
          });
        }
        parts.push(h("span", { class: "row-actions" }, page, data));
      }
      return h("li", { class: "export-item" }, ...parts);
    }),
  );
}

/** Ask again while an export is being made; `stop` on leaving the screen. */
function poller(reload: () => Promise<void>): { after(exports: PersonalExport[]): void; stop(): void } {
  let timer: number | undefined;
  let stopped = false;
  return {
    after(exports) {
      window.clearTimeout(timer);
      if (!stopped && exports.some((item) => item.status === "pending")) timer = window.setTimeout(() => void reload(), POLL_MS);
    },
    stop() {
      stopped = true;
      window.clearTimeout(timer);
    },
  };
}

// ----- the person's own screen -----

export function myDataView(): View {
  let stopped = false;

  const exportErrors = errorBox();
  const exportStatus = statusBox("Export");
  const exportBody = h("div", null, loading());
  const ask = button("Prepare my export", { class: "primary" });
  const exportSection = section(
    "Your data",
    "export",
    h(
      "p",
      null,
      "Everything peerrooms keeps about you: your account, your messages, reactions, check-ins and attendance, the reports you made, " +
        "what moderators did about you, alerts about your messages, your settings and your sign-ins. Nobody else's words are in it.",
    ),
    h("p", { class: "note" }, "It is ready within a minute or two, and can be downloaded for a few days."),
    h("div", { class: "row-actions" }, ask),
    exportErrors.node,
    exportStatus.node,
    exportBody,
  );

  const reason = h("textarea", { name: "reason", rows: 3, maxlength: REASON_MAX });
  const erase = button("Ask to erase my account", { class: "danger", "aria-haspopup": "dialog" });
  const erasureErrors = errorBox();
  const erasureStatus = statusBox("Erasure");
  const erasureBody = h("div");
  const erasureSection = section(
    "Erase my account",
    "erasure",
    h("p", null, ERASURE_EXPLAINED),
    field("Why (optional, for the admin who decides)", reason),
    h("div", { class: "row-actions" }, erase),
    erasureErrors.node,
    erasureStatus.node,
    erasureBody,
  );

  const exportsPoll = poller(() => loadExports());
  const loadExports = async (): Promise<void> => {
    try {
      const data = await get<{ exports: PersonalExport[] }>("/api/me/exports");
      if (stopped) return;
      replaceChildren(exportBody, exportList(data.exports, () => true, exportErrors));
      exportsPoll.after(data.exports);
      ask.disabled = data.exports.some((item) => item.status === "pending");
    } catch (err) {
      if (!stopped) exportErrors.show(describeAny(err));
    }
  };

  const loadErasure = async (): Promise<void> => {
    try {
      const data = await get<{ requests: ErasureRequest[] }>("/api/me/erasure-requests");
      if (stopped) return;
      const waiting = data.requests.some((item) => item.status === "pending");
      erase.disabled = waiting;
      reason.disabled = waiting;
      replaceChildren(
        erasureBody,
        data.requests.length === 0
          ? null
          : h(
              "ul",
              { class: "erasure-list", "aria-label": "Your erasure requests" },
              ...data.requests.map((item) =>
                h("li", null, "Asked ", when(item.created_at), ": ", h("strong", null, ERASURE_STATUS[item.status]), item.note ? ` (“${item.note}”)` : ""),
              ),
            ),
      );
    } catch (err) {
      if (!stopped) erasureErrors.show(describeAny(err));
    }
  };

  ask.addEventListener("click", async () => {
    exportErrors.clear();
    ask.disabled = true;
    try {
      await post("/api/me/exports");
      exportStatus.show("Your export is being prepared. It appears below when it is ready.");
    } catch (err) {
      exportErrors.show(describeAny(err));
    }
    await loadExports();
  });

  erase.addEventListener("click", () => {
    erasureErrors.clear();
    erasureStatus.clear();
    confirmAction({
      title: "Ask to erase your account?",
      text: ERASURE_EXPLAINED,
      confirmText: "Ask to erase my account",
      tone: "danger",
      run: () => post("/api/me/erasure-request", { reason: reason.value.trim() }),
      done: async () => {
        erasureStatus.show("Your request was sent. An admin will decide; you can see the decision here.");
        await loadErasure();
        erasureSection.title.focus();
      },
    });
  });

  void loadExports();
  void loadErasure();
  const node = h("div", { class: "my-data" }, heading("My data"), exportSection.node, erasureSection.node);
  return {
    title: "My data",
    node,
    cleanup: () => {
      stopped = true;
      exportsPoll.stop();
    },
  };
}

// ----- on a person's page, for staff -----

/** The person's exports and erasure requests, on their page in the console: staff ask for an
 * export or an erasure on the person's behalf; admins decide erasure requests. */
export function personDataSection(
  userId: number,
  name: () => string,
  erased: () => Promise<void>,
): { node: HTMLElement; reload(): Promise<void>; stop(): void } {
  const me = currentUser();
  const admin = me?.role === "admin";
  let stopped = false;

  const errors = errorBox();
  const status = statusBox();
  const exportsBody = h("div");
  const requestsBody = h("div");
  const askExport = button("Prepare an export", { class: "primary" });
  const askErasure = button("Ask to erase", { class: "danger", "aria-haspopup": "dialog" });
  const box = section(
    "Data export and erasure",
    "data",
    h(
      "p",
      { class: "note" },
      "An export holds everything peerrooms keeps about this person; only they and the staff member who asked can download it. " +
        "Erasure closes the account for good and removes their messages once an admin approves.",
    ),
    h("div", { class: "row-actions" }, askExport, askErasure),
    errors.node,
    status.node,
    h("h3", null, "Exports"),
    exportsBody,
    h("h3", null, "Erasure requests"),
    requestsBody,
  );
  box.node.classList.add("person-section");

  const exportsPoll = poller(() => reload());

  const requestItem = (item: ErasureRequest): HTMLLIElement => {
    const by = item.requested_by ? (item.requested_by.id === item.user.id ? "by them" : `by ${item.requested_by.display_name}`) : "";
    const parts: Child[] = [
      h("span", null, "Asked ", when(item.created_at), ` ${by}: `, h("strong", null, ERASURE_STATUS[item.status])),
      item.reason ? h("span", { class: "note" }, ` “${item.reason}”`) : null,
    ];
    if (admin && item.status === "pending") {
      const approve = button("Approve and erase", { class: "small danger", "aria-haspopup": "dialog" });
      const decline = button("Decline", { class: "small", "aria-haspopup": "dialog" });
      approve.addEventListener("click", () =>
        confirmAction({
          title: `Erase ${name()}?`,
          text: `${name()} is signed out everywhere and the account is closed for good under a pseudonym; their messages are removed in every room at once. This cannot be undone.`,
          confirmText: "Erase",
          tone: "danger",
          run: () => post(`/api/erasure-requests/${item.id}/approve`, {}),
          done: async () => {
            status.show("Erased.");
            await reload();
            await erased();
            box.title.focus();
          },
        }),
      );
      decline.addEventListener("click", () =>
        confirmAction({
          title: `Decline ${name()}'s erasure request?`,
          text: "Nothing is erased. The person sees that the request was declined.",
          confirmText: "Decline",
          tone: "primary",
          run: () => post(`/api/erasure-requests/${item.id}/decline`, {}),
          done: async () => {
            status.show("Request declined.");
            await reload();
            box.title.focus();
          },
        }),
      );
      parts.push(h("span", { class: "row-actions" }, approve, decline));
    }
    return h("li", null, ...parts);
  };

  const reload = async (): Promise<void> => {
    try {
      const data = await get<{ exports: PersonalExport[] }>(`/api/users/${userId}/exports`);
      if (stopped) return;
      replaceChildren(exportsBody, exportList(data.exports, (item) => item.requested_by?.id === me?.id, errors));
      exportsPoll.after(data.exports);
      if (!admin) {
        replaceChildren(requestsBody, h("p", { class: "note" }, "Admins see and decide erasure requests."));
        return;
      }
      const requests = await get<{ requests: ErasureRequest[] }>(`/api/erasure-requests?status=all&user_id=${userId}`);
      if (stopped) return;
      replaceChildren(
        requestsBody,
        requests.requests.length === 0
          ? h("p", { class: "note" }, "None.")
          : h("ul", { class: "erasure-list", "aria-label": "Erasure requests" }, ...requests.requests.map(requestItem)),
      );
    } catch (err) {
      if (!stopped) errors.show(describeAny(err));
    }
  };

  askExport.addEventListener("click", async () => {
    errors.clear();
    status.clear();
    askExport.disabled = true;
    try {
      await post(`/api/users/${userId}/exports`);
      status.show(`An export of ${name()}'s data is being prepared; you can download it here when it is ready.`);
      await reload();
    } catch (err) {
      errors.show(describeAny(err));
    } finally {
      askExport.disabled = false;
    }
  });

  askErasure.addEventListener("click", () => {
    errors.clear();
    status.clear();
    confirmAction({
      title: `Ask to erase ${name()}?`,
      text: `Only when ${name()} has asked for it. An admin then decides; nothing is erased before.`,
      confirmText: "Ask to erase",
      tone: "danger",
      run: () => post(`/api/users/${userId}/erasure-request`, {}),
      done: async () => {
        status.show("Erasure request sent to the admins.");
        await reload();
        box.title.focus();
      },
    });
  });

  return {
    node: box.node,
    reload,
    stop: () => {
      stopped = true;
      exportsPoll.stop();
    },
  };
}
