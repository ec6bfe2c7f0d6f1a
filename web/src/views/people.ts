// People (staff): find a person with a search and filters (GET /api/users), and open their page:
// details, the mutes and bans in force, and what staff may do about the account (role, cohort,
// graduation, deactivation, a one-time password reset code to hand over).
import { ApiError, del, get, patch, post } from "../api";
import { connection } from "../connection";
import { describeAny } from "../errors";
import { fullTime } from "../format";
import { append, h, replaceChildren, uid, type Child } from "../h";
import { currentUser } from "../session";
import type { Cohort, PasswordReset, PeoplePage, Person, PersonDetail, Restriction, Role } from "../types";
import { button, confirmAction, errorBox, field, heading, input, linkToCopy, loading, statusBox, type View } from "./common";
import { whenFirstEnds } from "./console";
import { personDataSection } from "./my-data";

const PAGE_SIZE = 50;

const ROLES: Role[] = ["patient", "alumni", "moderator", "admin"];
export const ROLE_TEXT: Record<Role, string> = {
  patient: "Patient",
  alumni: "Alumni",
  moderator: "Moderator",
  admin: "Admin",
};
const STATUS_TEXT: Record<Person["status"], string> = { active: "Active", deactivated: "Deactivated" };

/** The filters of the list, as in its address (#/people?role=patient&q=an) and in the API. */
const FILTERS = ["q", "role", "cohort_id", "status"] as const;

// The list's address with its filters, so "All people" on a person's page goes back to it.
let lastListHash = "#/people";

async function loadCohorts(): Promise<Map<number, string>> {
  const data = await get<{ cohorts: Cohort[] }>("/api/cohorts");
  return new Map(data.cohorts.map((cohort) => [cohort.id, cohort.name]));
}

function cohortText(ids: number[], names: Map<number, string>): string {
  if (ids.length === 0) return "No cohort";
  return ids.map((id) => names.get(id) ?? `Cohort ${id}`).join(", ");
}

function timeOrText(iso: string | null | undefined, otherwise: string): Child {
  return iso ? h("time", { datetime: iso }, fullTime(iso)) : otherwise;
}

function option(value: string, text: string): HTMLOptionElement {
  return h("option", { value }, text);
}

function section(title: string, kind: string, ...content: Child[]): { node: HTMLElement; title: HTMLHeadingElement } {
  const id = uid("section");
  const titleNode = h("h2", { id, tabindex: "-1" }, title);
  const node = h("section", { class: `card person-section person-${kind}`, "aria-labelledby": id }, titleNode, ...content);
  return { node, title: titleNode };
}

/** After a re-render removed or hid the focused control, give focus to `fallback`. */
function keepFocus(fallback: HTMLElement): void {
  const active = document.activeElement;
  if (!active || active === document.body || !active.isConnected || active.closest("[hidden]")) {
    fallback.focus();
  }
}

// ----- the list -----

export function peopleView(query: string): View {
  const params = new URLSearchParams(query);
  const admin = currentUser()?.role === "admin";
  let stopped = false;
  let cohortNames = new Map<number, string>();

  const q = input({
    type: "search",
    name: "q",
    autocomplete: "off",
    autocapitalize: "none",
    spellcheck: "false",
    value: params.get("q") ?? "",
  });
  const role = h("select", { name: "role" }, option("", "Any role"), ...ROLES.map((r) => option(r, ROLE_TEXT[r])));
  const cohort = h("select", { name: "cohort_id" }, option("", "Any cohort"));
  const status = h(
    "select",
    { name: "status" },
    option("all", "Any status"),
    option("active", "Active"),
    option("deactivated", "Deactivated"),
  );
  role.value = ROLES.includes(params.get("role") as Role) ? (params.get("role") as string) : "";
  status.value = ["active", "deactivated"].includes(params.get("status") ?? "") ? (params.get("status") as string) : "all";
  const wantedCohort = params.get("cohort_id") ?? "";
  const search = h("button", { type: "submit", class: "primary" }, "Search");
  const form = h(
    "form",
    { class: "card form directory-filters", role: "search", "aria-label": "Find people", novalidate: true },
    field("Search", q, admin ? "Part of an alias or a login name." : "Part of an alias."),
    field("Role", role),
    field("Cohort", cohort),
    field("Status", status),
    h("div", { class: "row-actions" }, search),
  );

  const errors = errorBox();
  const summary = statusBox("Search results");
  const list = h("ul", { class: "directory-list", "aria-label": "People" });
  const body = h("div", null, loading("Loading people…"));
  const more = button("Load more", { hidden: true });
  let shown: Person[] = [];
  let nextAfter: number | null = null;
  let loads = 0;

  const filters = (): URLSearchParams => {
    const chosen = new URLSearchParams();
    const values: Record<(typeof FILTERS)[number], string> = {
      q: q.value.trim(),
      role: role.value,
      cohort_id: cohort.value,
      status: status.value === "all" ? "" : status.value,
    };
    for (const name of FILTERS) if (values[name]) chosen.set(name, values[name]);
    return chosen;
  };

  const item = (person: Person): HTMLLIElement => {
    const dot = (): HTMLElement => h("span", { class: "dot", "aria-hidden": "true" }, " · ");
    return h(
      "li",
      { class: `directory-item${person.status === "deactivated" ? " is-deactivated" : ""}` },
      h(
        "p",
        { class: "directory-line" },
        h("a", { href: `#/people/${person.id}`, class: "directory-name" }, person.display_name),
        person.username !== undefined ? h("span", { class: "directory-login" }, `Login: ${person.username}`) : null,
      ),
      h(
        "p",
        { class: "directory-meta" },
        h("span", null, ROLE_TEXT[person.role] ?? person.role),
        dot(),
        h("span", null, cohortText(person.cohort_ids, cohortNames)),
        dot(),
        h("span", { class: `account-${person.status}` }, STATUS_TEXT[person.status] ?? person.status),
        dot(),
        h("span", null, "Last seen: ", timeOrText(person.last_seen_at ?? person.last_sign_in_at, "never")),
      ),
    );
  };

  const render = (): void => {
    replaceChildren(list, ...shown.map(item));
    replaceChildren(body, shown.length ? list : null);
    more.hidden = nextAfter === null;
  };

  const load = async (appending: boolean): Promise<void> => {
    const mine = ++loads;
    const wanted = filters();
    wanted.set("limit", String(PAGE_SIZE));
    if (appending && nextAfter !== null) wanted.set("after", String(nextAfter));
    more.disabled = true;
    try {
      const page = await get<PeoplePage>(`/api/users?${wanted.toString()}`);
      // A newer search was started meanwhile: its answer wins.
      if (stopped || mine !== loads) return;
      errors.clear();
      const before = shown.length;
      shown = appending ? [...shown, ...page.users] : page.users;
      nextAfter = page.next_after;
      render();
      summary.show(
        shown.length === 0
          ? "No one matches."
          : `${shown.length === 1 ? "1 person" : `${shown.length} people`}${nextAfter === null ? "." : ", more to load."}`,
      );
      // Load more: the keyboard goes on from the first one just added.
      if (appending) (list.children[before]?.querySelector("a") as HTMLElement | null)?.focus();
    } catch (err) {
      if (!stopped && mine === loads) errors.show(describeAny(err));
    } finally {
      if (mine === loads) more.disabled = false;
    }
  };

  const apply = (): void => {
    const chosen = filters().toString();
    lastListHash = chosen ? `#/people?${chosen}` : "#/people";
    // The address keeps the filters (back from a person's page, a bookmark) without a new route.
    history.replaceState(null, "", lastListHash);
    nextAfter = null;
    void load(false);
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    apply();
  });
  for (const select of [role, cohort, status]) select.addEventListener("change", apply);
  more.addEventListener("click", () => void load(true));

  const start = async (): Promise<void> => {
    try {
      cohortNames = await loadCohorts();
    } catch (err) {
      if (!stopped) errors.show(describeAny(err));
    }
    if (stopped) return;
    append(cohort, [...cohortNames].map(([id, name]) => option(String(id), name)));
    if (cohortNames.has(Number(wantedCohort))) cohort.value = wantedCohort;
    const chosen = filters().toString();
    lastListHash = chosen ? `#/people?${chosen}` : "#/people";
    await load(false);
  };
  void start();

  const node = h(
    "div",
    { class: "directory" },
    heading("People"),
    form,
    errors.node,
    summary.node,
    body,
    h("div", { class: "row-actions directory-more" }, more),
  );
  return {
    title: "People",
    node,
    cleanup: () => {
      stopped = true;
    },
  };
}

// ----- one person -----

export function personView(id: number): View {
  const me = currentUser();
  const admin = me?.role === "admin";
  let stopped = false;
  let person: PersonDetail | null = null;
  let cohortNames = new Map<number, string>();
  const name = (): string => person?.display_name ?? "this person";

  const title = heading("Person");
  const pageErrors = errorBox();
  const back = h("p", { class: "back" }, h("a", { href: lastListHash }, "All people"));

  // Details
  const facts = h("dl", { class: "facts" });
  const details = section("Details", "details", facts);

  // Mutes and bans in force
  const restrictionErrors = errorBox();
  const restrictionStatus = statusBox();
  const restrictionBody = h("div");
  const restrictions = section("Mutes and bans", "restrictions", restrictionErrors.node, restrictionStatus.node, restrictionBody);

  // Role (admins)
  const roleSelect = h("select", { name: "role" }, ...ROLES.map((r) => option(r, ROLE_TEXT[r])));
  const roleErrors = errorBox();
  const roleStatus = statusBox();
  const saveRole = h("button", { type: "submit", class: "primary" }, "Save role");
  const roleForm = h(
    "form",
    { class: "form", novalidate: true },
    field("Role", roleSelect, "Moderators and admins see every room and the console."),
    roleErrors.node,
    roleStatus.node,
    saveRole,
  );
  const ownRole = h("p", { class: "note", hidden: true }, "Nobody changes their own role: another admin can.");
  const roleSection = section("Role", "role", ownRole, roleForm);

  // Cohort (patients and alumni)
  const cohortSelect = h("select", { name: "cohort_id" });
  const cohortErrors = errorBox();
  const cohortStatus = statusBox();
  const move = h("button", { type: "submit", class: "primary" }, "Move to cohort");
  const cohortForm = h(
    "form",
    { class: "form", novalidate: true },
    field("Cohort", cohortSelect, "Their only cohort from now on: they leave the group rooms of any other."),
    cohortErrors.node,
    cohortStatus.node,
    move,
  );
  const cohortSection = section("Cohort", "cohort", cohortForm);

  // Graduation (patients)
  const graduationText = h("p", { class: "note" });
  const graduate = button("Graduate", { class: "primary", "aria-haspopup": "dialog" });
  const graduationErrors = errorBox();
  const graduationStatus = statusBox();
  const graduationSection = section(
    "Graduation",
    "graduation",
    graduationText,
    graduationErrors.node,
    graduationStatus.node,
    h("div", { class: "row-actions" }, graduate),
  );

  // Account: deactivate / reactivate
  const accountText = h("p", { class: "note" });
  const deactivate = button("Deactivate", { class: "danger", "aria-haspopup": "dialog" });
  const reactivate = button("Reactivate", { class: "primary" });
  const accountErrors = errorBox();
  const accountStatus = statusBox();
  const accountSection = section(
    "Account",
    "account",
    accountText,
    accountErrors.node,
    accountStatus.node,
    h("div", { class: "row-actions" }, deactivate, reactivate),
  );

  // Password reset code
  const createReset = button("Create password reset code", { class: "primary" });
  const resetErrors = errorBox();
  const resetStatus = statusBox();
  const resetResult = h("div", { class: "reset-result", hidden: true });
  const resetSection = section(
    "Password reset",
    "reset",
    h(
      "p",
      { class: "note" },
      "For someone who cannot sign in: a one-time code with which they choose a new password. Hand it over yourself, in person or on the phone.",
    ),
    resetErrors.node,
    h("div", { class: "row-actions" }, createReset),
    resetStatus.node,
    resetResult,
  );

  // Export and erasure (docs/privacy.md)
  const data = personDataSection(id, name, () => reload());

  const actions = h(
    "div",
    { class: "person-grid", hidden: true },
    details.node,
    restrictions.node,
    admin ? roleSection.node : null,
    cohortSection.node,
    graduationSection.node,
    accountSection.node,
    resetSection.node,
    data.node,
  );

  // ----- showing the person -----
  let shownRole: string | null = null;
  let shownCohorts: string | null = null;

  const renderFacts = (p: PersonDetail): void => {
    const rows: [string, Child][] = [
      ["Alias", p.display_name],
      ...(p.username !== undefined ? ([["Login name", p.username]] as [string, Child][]) : []),
      ["Role", ROLE_TEXT[p.role] ?? p.role],
      ["Cohorts", cohortText(p.cohort_ids, cohortNames)],
      ["Status", STATUS_TEXT[p.status] ?? p.status],
      ["Joined", timeOrText(p.joined_at, "")],
      ["Graduated", timeOrText(p.graduated_at, "Not graduated")],
      ["Last seen", timeOrText(p.last_seen_at ?? p.last_sign_in_at, "Never")],
      ["Meetings attended", String(p.meetings_attended)],
    ];
    replaceChildren(facts, ...rows.map(([label, value]) => h("div", null, h("dt", null, label), h("dd", null, value))));
  };

  const restrictionItem = (r: Restriction): HTMLLIElement => {
    const what = r.kind === "mute" ? `Muted in ${r.room_name}` : `Banned from ${r.room_name}`;
    const lift = button("Lift", {
      class: "small",
      "aria-label": r.kind === "mute" ? `Lift mute in ${r.room_name}` : `Lift ban from ${r.room_name}`,
    });
    lift.addEventListener("click", async () => {
      lift.disabled = true;
      restrictionErrors.clear();
      restrictionStatus.clear();
      try {
        await del(`/api/rooms/${r.room_id}/${r.kind === "mute" ? "mutes" : "bans"}/${id}`);
        restrictionStatus.show(`${r.kind === "mute" ? "Mute" : "Ban"} in ${r.room_name} lifted.`);
      } catch (err) {
        // Already over (it ended, or someone else lifted it): the reload shows it gone.
        if (!(err instanceof ApiError && err.error.code === "not_found")) {
          restrictionErrors.show(describeAny(err));
          lift.disabled = false;
          return;
        }
        restrictionStatus.show(`That ${r.kind} had already ended.`);
      }
      await reload();
      keepFocus(restrictions.title);
    });
    return h(
      "li",
      { class: "restriction" },
      h("span", null, h("strong", null, what), " ", r.until ? ["until ", timeOrText(r.until, "")] : "until lifted"),
      lift,
    );
  };

  let stopExpiryTimer = (): void => undefined;
  const render = (p: PersonDetail): void => {
    title.textContent = p.display_name;
    document.title = `${p.display_name} – peerrooms`;
    renderFacts(p);
    stopExpiryTimer();
    stopExpiryTimer = whenFirstEnds(p.restrictions, () => void reloadRestrictions());
    replaceChildren(
      restrictionBody,
      p.restrictions.length === 0
        ? h("p", { class: "note" }, "No mutes or bans in force.")
        : h("ul", { class: "restriction-list", "aria-label": "Mutes and bans in force" }, ...p.restrictions.map(restrictionItem)),
    );
    // A choice someone is making in a form stays, unless what it shows changed.
    if (shownRole !== p.role) roleSelect.value = p.role;
    ownRole.hidden = p.id !== me?.id;
    roleForm.hidden = p.id === me?.id;
    shownRole = p.role;
    const cohortsKey = p.cohort_ids.join(",");
    if (shownCohorts !== cohortsKey) cohortSelect.value = p.cohort_ids.length ? String(p.cohort_ids[0]) : "";
    shownCohorts = cohortsKey;
    cohortSection.node.hidden = p.role !== "patient" && p.role !== "alumni";

    graduationSection.node.hidden = p.role !== "patient" && !p.graduated_at;
    graduate.hidden = p.role !== "patient";
    graduationText.textContent =
      p.role === "patient"
        ? `Graduating makes ${p.display_name} alumni: they leave their cohort's group rooms at once and join the alumni rooms.`
        : p.graduated_at
          ? `${p.display_name} graduated on ${fullTime(p.graduated_at)}.`
          : "";

    const active = p.status === "active";
    deactivate.hidden = !active;
    reactivate.hidden = active;
    accountText.textContent = active
      ? `Deactivating signs ${p.display_name} out everywhere at once; they cannot sign in until reactivated.`
      : `This account is deactivated: ${p.display_name} cannot sign in.`;
    actions.hidden = false;
  };

  const reload = async (): Promise<void> => {
    try {
      const data = await get<{ user: PersonDetail }>(`/api/users/${id}`);
      if (stopped) return;
      person = data.user;
      pageErrors.clear();
      render(person);
    } catch (err) {
      if (stopped) return;
      if (err instanceof ApiError && err.error.code === "not_found" && person === null) {
        title.textContent = "Person not found";
        document.title = "Person not found – peerrooms";
      }
      pageErrors.show(describeAny(err));
    }
  };

  // ----- actions -----
  roleForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    roleErrors.clear();
    roleStatus.clear();
    if (!person) return;
    if (roleSelect.value === person.role) {
      roleStatus.show(`${name()} is already ${ROLE_TEXT[person.role]}.`);
      return;
    }
    saveRole.disabled = true;
    try {
      await patch(`/api/users/${id}`, { role: roleSelect.value });
      roleStatus.show(`Saved: ${name()} is now ${ROLE_TEXT[roleSelect.value as Role] ?? roleSelect.value}.`);
      await reload();
    } catch (err) {
      roleErrors.show(describeAny(err));
    } finally {
      saveRole.disabled = false;
    }
  });

  cohortForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    cohortErrors.clear();
    cohortStatus.clear();
    if (!cohortSelect.value) {
      cohortErrors.show("Cohort: choose one.");
      cohortSelect.focus();
      return;
    }
    const chosen = Number(cohortSelect.value);
    move.disabled = true;
    try {
      await patch(`/api/users/${id}`, { cohort_id: chosen });
      cohortStatus.show(`${name()} is in ${cohortNames.get(chosen) ?? `cohort ${chosen}`} now.`);
      await reload();
    } catch (err) {
      cohortErrors.show(describeAny(err));
    } finally {
      move.disabled = false;
    }
  });

  graduate.addEventListener("click", () => {
    graduationErrors.clear();
    graduationStatus.clear();
    confirmAction({
      title: `Graduate ${name()}?`,
      text: `${name()} becomes alumni and leaves their cohort's group rooms at once.`,
      confirmText: "Graduate",
      tone: "primary",
      run: () => post(`/api/users/${id}/graduate`),
      done: async () => {
        graduationStatus.show(`${name()} graduated: they are alumni now.`);
        await reload();
        keepFocus(graduationSection.title);
      },
    });
  });

  deactivate.addEventListener("click", () => {
    accountErrors.clear();
    accountStatus.clear();
    confirmAction({
      title: `Deactivate ${name()}?`,
      text: `${name()} is signed out everywhere at once and cannot sign in until the account is reactivated. Their messages stay.`,
      confirmText: "Deactivate",
      tone: "danger",
      run: () => post(`/api/users/${id}/deactivate`),
      done: async () => {
        accountStatus.show(`${name()}'s account is deactivated.`);
        await reload();
        if (!reactivate.hidden) reactivate.focus();
        keepFocus(accountSection.title);
      },
    });
  });

  reactivate.addEventListener("click", async () => {
    accountErrors.clear();
    accountStatus.clear();
    reactivate.disabled = true;
    try {
      await post(`/api/users/${id}/reactivate`);
      accountStatus.show(`${name()}'s account is active again.`);
      await reload();
      if (!deactivate.hidden) deactivate.focus();
      keepFocus(accountSection.title);
    } catch (err) {
      accountErrors.show(describeAny(err));
    } finally {
      reactivate.disabled = false;
    }
  });

  createReset.addEventListener("click", async () => {
    resetErrors.clear();
    resetStatus.clear();
    createReset.disabled = true;
    try {
      const reset = await post<PasswordReset>(`/api/users/${id}/password-reset`);
      if (stopped) return;
      showReset(reset);
    } catch (err) {
      resetErrors.show(describeAny(err));
    } finally {
      createReset.disabled = false;
    }
  });

  const showReset = (reset: PasswordReset): void => {
    const link = `${location.origin}${reset.path.startsWith("/") ? "" : "/"}${reset.path}`;
    const { box: linkBox, copy, copied } = linkToCopy(link, "reset-link");
    replaceChildren(
      resetResult,
      h("p", { class: "reset-code-line" }, "Code: ", h("code", { class: "reset-code" }, reset.code)),
      field("Reset link", linkBox),
      h("div", { class: "row-actions" }, copy, copied.node),
      h(
        "p",
        { class: "note" },
        "It works once, and expires at ",
        h("time", { datetime: reset.expires_at }, fullTime(reset.expires_at)),
        `. ${name()} opens the link (or, on the sign-in page, “I have a password reset code” and types the code) and chooses a new password.`,
      ),
    );
    resetResult.hidden = false;
    resetStatus.show(`Password reset code created for ${name()}.`);
  };

  // ----- start -----
  const start = async (): Promise<void> => {
    try {
      cohortNames = await loadCohorts();
    } catch (err) {
      if (!stopped) pageErrors.show(describeAny(err));
    }
    if (stopped) return;
    replaceChildren(
      cohortSelect,
      option("", "Choose a cohort"),
      ...[...cohortNames].map(([cohortId, cohortName]) => option(String(cohortId), cohortName)),
    );
    await reload();
    await data.reload();
  };

  // Mutes and bans made or lifted by any moderator (on any server process) show at once, and
  // so does what changed while this tab was away.
  const reloadRestrictions = async (): Promise<void> => {
    if (person === null) return;
    const hadFocus = restrictionBody.contains(document.activeElement);
    await reload();
    if (hadFocus) keepFocus(restrictions.title);
  };
  const stopListening = [
    connection.on("restriction_changed", (change: { user_id: number }) => {
      if (change.user_id === id) void reloadRestrictions();
    }),
    connection.on("usable", () => void reloadRestrictions()),
  ];

  const waiting = loading();
  void start().then(() => waiting.remove());

  const node = h("div", { class: "person-page" }, back, title, pageErrors.node, waiting, actions);
  return {
    title: "Person",
    node,
    cleanup: () => {
      stopped = true;
      data.stop();
      for (const stop of stopListening) stop();
      stopExpiryTimer();
    },
  };
}
