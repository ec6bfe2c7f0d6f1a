// Invites (staff): the codes people register with. Create one (role, cohort, how many uses,
// how long it lasts), hand over its link or a printed QR code of it, see the invites so far and
// revoke one. Moderators invite patients and alumni; admins anyone (the server decides).
import { del, get, post } from "../api";
import { describeAny } from "../errors";
import { fullTime } from "../format";
import { h, replaceChildren, uid, type Child } from "../h";
import { currentUser } from "../session";
import type { Cohort, Invite, Role } from "../types";
import { button, confirmAction, errorBox, field, heading, input, linkToCopy, loading, statusBox, type View } from "./common";
import { ROLE_TEXT } from "./people";

const MAX_USES = 500;
const MAX_HOURS = 24 * 90;
const DEFAULT_HOURS = 72;
const QR_NAME = "QR code of the invite link";
const SVG_NS = "http://www.w3.org/2000/svg";
// Light modules around the code, as the QR standard asks, so a camera finds its edges.
const QR_QUIET_ZONE = 4;

/** The full address of an invite: this server's origin and the invite's path. */
function inviteLink(invite: Invite): string {
  return `${location.origin}${invite.path.startsWith("/") ? "" : "/"}${invite.path}`;
}

type Encode = (typeof import("qrcode"))["create"];
let encoder: Promise<Encode> | null = null;

/** The QR encoder (a chunk of its own), fetched the first time it is needed: only staff
 * showing an invite need it, so the script everyone loads on their phones goes without it. */
function loadEncoder(): Promise<Encode> {
  if (!encoder) {
    encoder = import("qrcode").then((module) => module.create);
    // A failed fetch (offline for a moment) is tried again next time.
    encoder.catch(() => {
      encoder = null;
    });
  }
  return encoder;
}

/** A QR code of `text` as an <svg> made element by element (no markup parsed, and no inline
 * style, so it runs under the Content-Security-Policy), named for screen readers. */
function qrCode(encode: Encode, text: string): SVGSVGElement {
  const { modules } = encode(text, { errorCorrectionLevel: "M" });
  const size = modules.size;
  const total = size + QR_QUIET_ZONE * 2;
  // One rectangle per run of dark modules in a row.
  let path = "";
  for (let row = 0; row < size; row += 1) {
    let col = 0;
    while (col < size) {
      if (!modules.get(row, col)) {
        col += 1;
        continue;
      }
      const start = col;
      while (col < size && modules.get(row, col)) col += 1;
      path += `M${start + QR_QUIET_ZONE} ${row + QR_QUIET_ZONE}h${col - start}v1h${start - col}z`;
    }
  }
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("viewBox", `0 0 ${total} ${total}`);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", QR_NAME);
  svg.setAttribute("shape-rendering", "crispEdges");
  svg.setAttribute("class", "invite-qr");
  const light = document.createElementNS(SVG_NS, "rect");
  light.setAttribute("width", String(total));
  light.setAttribute("height", String(total));
  light.setAttribute("fill", "#ffffff");
  const dark = document.createElementNS(SVG_NS, "path");
  dark.setAttribute("d", path);
  dark.setAttribute("fill", "#000000");
  svg.append(light, dark);
  return svg;
}

function option(value: string, text: string): HTMLOptionElement {
  return h("option", { value }, text);
}

function section(title: string, kind: string, ...content: Child[]): { node: HTMLElement; title: HTMLHeadingElement } {
  const id = uid("section");
  const titleNode = h("h2", { id, tabindex: "-1" }, title);
  const node = h("section", { class: `card invites-section invites-${kind}`, "aria-labelledby": id }, titleNode, ...content);
  return { node, title: titleNode };
}

function when(iso: string): HTMLTimeElement {
  return h("time", { datetime: iso }, fullTime(iso));
}

type InviteState = "usable" | "revoked" | "used-up" | "expired";

const STATE_TEXT: Record<Exclude<InviteState, "usable">, string> = {
  revoked: "Revoked",
  "used-up": "Used up",
  expired: "Expired",
};

export function invitesView(): View {
  const admin = currentUser()?.role === "admin";
  const roles: Role[] = admin ? ["patient", "alumni", "moderator", "admin"] : ["patient", "alumni"];
  let stopped = false;
  let cohortNames = new Map<number, string>();
  const cohortText = (id: number | null): string => (id === null ? "No cohort" : (cohortNames.get(id) ?? `Cohort ${id}`));

  // ----- the form -----
  const role = h("select", { name: "role" }, ...roles.map((r) => option(r, ROLE_TEXT[r])));
  const cohort = h("select", { name: "cohort_id" }, option("", "No cohort"));
  const uses = input({ type: "number", name: "max_uses", min: 1, max: MAX_USES, step: 1, value: 1, inputmode: "numeric" });
  const hours = input({ type: "number", name: "expires_in_hours", min: 1, max: MAX_HOURS, step: 1, value: DEFAULT_HOURS, inputmode: "numeric" });
  const formErrors = errorBox();
  const create = h("button", { type: "submit", class: "primary" }, "Create invite");
  const form = h(
    "form",
    { class: "form invite-form", novalidate: true },
    field(
      "Role",
      role,
      admin ? "What the person is once registered." : "Moderators invite patients and alumni; an admin invites staff.",
    ),
    field("Cohort", cohort, "Patients need their cohort: it puts them in its group room. Optional for others."),
    field("Uses", uses, `How many people can register with it: 1 to ${MAX_USES}.`),
    field("Hours until it expires", hours, `${DEFAULT_HOURS} hours is 3 days; at most ${MAX_HOURS} (90 days).`),
    formErrors.node,
    h("div", { class: "row-actions" }, create),
  );
  const createSection = section("Create an invite", "create", form);

  // ----- one invite's link and QR code -----
  const resultStatus = statusBox();
  const resultBody = h("div", { class: "invite-result-body" });
  const resultSection = section("Invite link", "result", resultStatus.node, resultBody);
  resultSection.node.hidden = true;
  let shownId: number | null = null;

  const showInvite = (invite: Invite, created: boolean): void => {
    const link = inviteLink(invite);
    const { box: linkBox, copy, copied } = linkToCopy(link, "invite-link");
    const print = button("Print", { class: "small" });
    print.addEventListener("click", () => window.print());
    const qrSlot = h("p", { class: "note invite-qr-slot" }, "Making the QR code…");
    void loadEncoder().then(
      (encode) => qrSlot.replaceWith(qrCode(encode, link)),
      () => {
        qrSlot.textContent = "The QR code could not be made: check your connection, then choose Show link and QR code again.";
      },
    );
    const what = `${ROLE_TEXT[invite.role] ?? invite.role} invite, ${cohortText(invite.cohort_id)}`;
    const noCohort =
      invite.role === "patient" && invite.cohort_id === null
        ? h(
            "p",
            { class: "note invite-warning" },
            "This patient invite has no cohort: whoever registers with it is in no group room until staff move them to a cohort.",
          )
        : null;
    replaceChildren(
      resultBody,
      h("p", { class: "invite-what" }, `${what}: `, `${invite.uses}/${invite.max_uses} uses, expires `, when(invite.expires_at), "."),
      noCohort,
      field("Invite link", linkBox, "Send it to the person, or show or print the QR code for them to scan."),
      h("div", { class: "row-actions" }, copy, print, copied.node),
      // What printing gives: just this.
      h(
        "div",
        { class: "invite-print" },
        h("p", { class: "invite-print-title" }, "Your invite to peerrooms"),
        qrSlot,
        h("p", { class: "invite-code-line" }, "Invite code: ", h("code", { class: "invite-code" }, invite.code)),
        h(
          "p",
          { class: "invite-instructions" },
          `Point your phone's camera at the QR code and open the link, or go to ${location.origin}, choose “Register with an invite code” and type the code. Then choose a private username, the name others will see, and a password. The code works until `,
          when(invite.expires_at),
          ".",
        ),
      ),
    );
    shownId = invite.id;
    resultSection.node.hidden = false;
    if (created) resultStatus.show(`Invite created: ${what}.`);
    else resultStatus.clear();
  };

  const hideInvite = (): void => {
    shownId = null;
    resultSection.node.hidden = true;
    resultStatus.clear();
    replaceChildren(resultBody);
  };

  // ----- the list -----
  const showAll = input({ type: "checkbox", name: "show_all", id: uid("field") });
  const listErrors = errorBox();
  const listStatus = statusBox("Invite list");
  const list = h("ul", { class: "invite-list", "aria-label": "Invites" });
  const listBody = h("div", null, loading("Loading invites…"));
  const listSection = section(
    "Invite list",
    "list",
    h("div", { class: "field check" }, showAll, h("label", { for: showAll.id }, "Show revoked, expired and used-up invites too")),
    listErrors.node,
    listStatus.node,
    listBody,
  );

  let loads = 0;
  const load = async (): Promise<void> => {
    const mine = ++loads;
    try {
      // Which are usable is the server's to say (its clock, not this browser's).
      const [usable, all] = await Promise.all([
        get<{ invites: Invite[] }>("/api/invites?status=usable"),
        showAll.checked ? get<{ invites: Invite[] }>("/api/invites?status=all") : null,
      ]);
      if (stopped || mine !== loads) return;
      listErrors.clear();
      const usableIds = new Set(usable.invites.map((invite) => invite.id));
      const shown = [...(all ?? usable).invites].sort(
        (a, b) => b.created_at.localeCompare(a.created_at) || b.id - a.id,
      );
      replaceChildren(list, ...shown.map((invite) => item(invite, usableIds.has(invite.id))));
      replaceChildren(listBody, shown.length ? list : null);
      const count = usableIds.size;
      const usableText = count === 1 ? "1 usable invite" : `${count} usable invites`;
      listStatus.show(
        all
          ? `${shown.length === 1 ? "1 invite" : `${shown.length} invites`}, ${count} of them usable.`
          : count === 0
            ? "No usable invites: create one above."
            : `${usableText}.`,
      );
      // The invite shown above was revoked or used up meanwhile: its link is no good now.
      if (shownId !== null && !usableIds.has(shownId)) hideInvite();
    } catch (err) {
      if (!stopped && mine === loads) listErrors.show(describeAny(err));
    }
  };

  const item = (invite: Invite, usable: boolean): HTMLLIElement => {
    const state: InviteState = usable
      ? "usable"
      : invite.revoked
        ? "revoked"
        : invite.uses >= invite.max_uses
          ? "used-up"
          : "expired";
    const titleId = uid("invite");
    const dot = (): HTMLElement => h("span", { class: "dot", "aria-hidden": "true" }, " · ");
    const actions: HTMLButtonElement[] = [];
    if (usable) {
      const show = button("Show link and QR code", { class: "small", "aria-describedby": titleId });
      show.addEventListener("click", () => {
        showInvite(invite, false);
        resultSection.title.focus();
      });
      const revoke = button("Revoke", { class: "small", "aria-describedby": titleId, "aria-haspopup": "dialog" });
      revoke.addEventListener("click", () => confirmRevoke(invite));
      actions.push(show, revoke);
    }
    return h(
      "li",
      { class: `invite-item invite-${state}` },
      h(
        "p",
        { class: "invite-line", id: titleId },
        h("strong", null, ROLE_TEXT[invite.role] ?? invite.role),
        dot(),
        h("span", null, cohortText(invite.cohort_id)),
        dot(),
        h("code", null, invite.code),
      ),
      h(
        "p",
        { class: "invite-meta" },
        state === "usable" ? null : [h("strong", { class: "invite-state" }, STATE_TEXT[state]), dot()],
        h("span", null, `${invite.uses}/${invite.max_uses} uses`),
        dot(),
        h("span", null, state === "expired" ? "Expired " : "Expires ", when(invite.expires_at)),
        dot(),
        h("span", null, "Created ", when(invite.created_at)),
      ),
      actions.length ? h("div", { class: "row-actions" }, ...actions) : null,
    );
  };

  const confirmRevoke = (invite: Invite): void => {
    listStatus.clear();
    confirmAction({
      title: "Revoke this invite?",
      text: h(
        "span",
        null,
        `Nobody can register with the ${ROLE_TEXT[invite.role] ?? invite.role} invite `,
        h("code", null, invite.code),
        ` (${cohortText(invite.cohort_id)}) from now on. Accounts already made with it stay.`,
      ),
      confirmText: "Revoke",
      tone: "danger",
      run: () => del(`/api/invites/${invite.id}`),
      done: async () => {
        if (shownId === invite.id) hideInvite();
        await load();
        if (stopped) return;
        listStatus.show(`Invite ${invite.code} revoked: nobody can register with it now.`);
        // Its Revoke button is gone with it.
        const active = document.activeElement;
        if (!active || active === document.body || !active.isConnected) listSection.title.focus();
      },
    });
  };

  // ----- creating -----
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    formErrors.clear();
    const maxUses = Number(uses.value);
    if (!/^\d+$/.test(uses.value.trim()) || maxUses < 1 || maxUses > MAX_USES) {
      formErrors.show(`Uses: a whole number from 1 to ${MAX_USES}.`);
      uses.focus();
      return;
    }
    const expiresIn = Number(hours.value);
    if (!/^\d+$/.test(hours.value.trim()) || expiresIn < 1 || expiresIn > MAX_HOURS) {
      formErrors.show(`Hours until it expires: a whole number from 1 to ${MAX_HOURS}.`);
      hours.focus();
      return;
    }
    const body: Record<string, unknown> = { role: role.value, max_uses: maxUses, expires_in_hours: expiresIn };
    if (cohort.value) body.cohort_id = Number(cohort.value);
    create.disabled = true;
    try {
      const data = await post<{ invite: Invite }>("/api/invites", body);
      if (stopped) return;
      showInvite(data.invite, true);
      await load();
      resultSection.title.focus();
    } catch (err) {
      formErrors.show(describeAny(err));
    } finally {
      create.disabled = false;
    }
  });

  showAll.addEventListener("change", () => void load());

  // ----- start -----
  const start = async (): Promise<void> => {
    try {
      const data = await get<{ cohorts: Cohort[] }>("/api/cohorts");
      cohortNames = new Map(data.cohorts.map((c) => [c.id, c.name]));
    } catch (err) {
      if (!stopped) formErrors.show(describeAny(err));
    }
    if (stopped) return;
    replaceChildren(cohort, option("", "No cohort"), ...[...cohortNames].map(([id, name]) => option(String(id), name)));
    await load();
  };
  void start();

  const node = h(
    "div",
    { class: "invites" },
    heading("Invites"),
    h(
      "p",
      { class: "lede" },
      "People register with an invite code from staff. Create one, then send its link or let them scan its QR code.",
    ),
    createSection.node,
    resultSection.node,
    listSection.node,
  );
  return {
    title: "Invites",
    node,
    cleanup: () => {
      stopped = true;
    },
  };
}
