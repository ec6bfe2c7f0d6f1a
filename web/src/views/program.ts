// Cohorts and rooms (staff): the program's cohorts (create, rename, archive and bring back)
// and its rooms (create with their limits, rename, edit, archive and bring back), each room
// with its kind, audience and cohort, and who it is for.
import "../program.css";
import { get, patch, post } from "../api";
import { openDialog } from "../dialog";
import { describeAny } from "../errors";
import { h, replaceChildren, uid, type Child } from "../h";
import { loadRooms } from "../state";
import type { Room } from "../types";
import { button, errorBox, field, heading, input, loading, statusBox, type View } from "./common";
import { defaultChoiceText, HISTORY_HINT, HISTORY_LABEL, HISTORY_TEXT, HISTORY_VISIBILITIES } from "./history-visibility";

interface RoomMember {
  id: number;
  display_name: string;
  role: string;
  may_enter: boolean;
  online: boolean;
}

/** A member as the list says it: "Ana, here now" / "Avi, banned from this room". Nobody may
 * enter an archived room, so there it says nothing of bans. */
function memberLine(member: RoomMember, archived: boolean): string {
  const banned = !member.may_enter && !archived;
  const notes = [member.online ? "here now" : "", banned ? "banned from this room" : ""];
  return [member.display_name, ...notes.filter(Boolean)].join(", ");
}

/** "Who is in this room": a button that shows, and hides, who the room is for. */
function whoIsInRoom(room: Room): { toggle: HTMLButtonElement; list: HTMLElement } {
  const listId = uid("members");
  const toggle = button("Who is in this room", { "aria-expanded": "false", "aria-controls": listId });
  toggle.setAttribute("aria-label", `Who is in this room: ${room.name}`);
  const list = h("div", { id: listId, class: "program-members", hidden: true });
  toggle.addEventListener("click", async () => {
    const open = toggle.getAttribute("aria-expanded") === "true";
    toggle.setAttribute("aria-expanded", String(!open));
    list.hidden = open;
    if (open) return;
    replaceChildren(list, loading());
    try {
      const { members } = await get<{ members: RoomMember[] }>(`/api/rooms/${room.id}/members`);
      replaceChildren(
        list,
        members.length
          ? h("ul", { "aria-label": `People of ${room.name}` }, ...members.map((m) => h("li", null, memberLine(m, room.archived === true))))
          : h("p", { class: "note" }, "Nobody yet: the room's people appear here once they join the program."),
      );
    } catch (err) {
      replaceChildren(list, h("p", { role: "alert" }, describeAny(err)));
    }
  });
  return { toggle, list };
}

interface ProgramCohort {
  id: number;
  name: string;
  archived: boolean;
}

const KIND_TEXT: Record<string, string> = { group: "Group", peer: "Peer", meeting: "Meeting", support: "Support" };
const AUDIENCE_TEXT: Record<string, string> = {
  cohort: "Cohort",
  alumni: "Alumni",
  everyone: "Everyone",
  person: "One person",
};
const POLICY_TEXT: Record<string, string> = {
  mask: "Mask contact details",
  block: "Block contact details",
  allow: "Allow contact details",
};

function option(value: string, text: string): HTMLOptionElement {
  return h("option", { value }, text);
}

/** Kinds a room may be made as, and change between once made (a meeting room stays one). */
const KIND_CHOICES: [string, string][] = [
  ["group", "Group"],
  ["peer", "Peer"],
  ["meeting", "Meeting"],
];
const CHANGEABLE_KINDS = ["group", "peer"];
const AUDIENCE_CHOICES: [string, string][] = [
  ["cohort", "One cohort"],
  ["alumni", "Alumni"],
  ["everyone", "Everyone"],
];

/** What is wrong with who a room is for, as the form says it (the server says it too). */
function audienceProblem(kind: string, audience: string, cohortId: string): string | null {
  if (audience === "cohort" && !cohortId) return "Choose the cohort this room is for.";
  if (kind === "group" && audience !== "cohort") return "A group room is for one cohort.";
  return null;
}

/** The cohorts a room may be given: those not archived, and the one it has. */
function cohortOptions(cohorts: ProgramCohort[], current: number | null): HTMLOptionElement[] {
  return [
    option("", "No cohort"),
    ...cohorts.filter((c) => !c.archived || c.id === current).map((c) => option(String(c.id), c.name)),
  ];
}

/** Change a room's topic, kind and audience in a dialog; only what changed is sent, and the
 * server's refusal (a new audience that would read earlier history) keeps it open. */
function editRoomDialog(room: Room, cohorts: ProgramCohort[], save: (changes: Record<string, unknown>) => Promise<void>): void {
  const topic = input({ type: "text", name: "topic", value: room.topic ?? "", maxlength: 500, autocomplete: "off" });
  const changeable = CHANGEABLE_KINDS.includes(room.kind);
  const kind = h(
    "select",
    { name: "kind" },
    ...KIND_CHOICES.filter(([value]) => (changeable ? CHANGEABLE_KINDS.includes(value) : value === room.kind)).map(
      ([value, text]) => option(value, text),
    ),
  );
  kind.value = room.kind;
  kind.disabled = !changeable;
  const audience = h("select", { name: "audience" }, ...AUDIENCE_CHOICES.map(([value, text]) => option(value, text)));
  audience.value = room.audience;
  const cohort = h("select", { name: "cohort_id" }, ...cohortOptions(cohorts, room.cohort_id));
  cohort.value = room.cohort_id === null ? "" : String(room.cohort_id);
  const errors = errorBox();
  const ok = h("button", { type: "submit", class: "primary" }, "Save");
  const cancel = button("Cancel");
  const form = h(
    "form",
    { class: "form", novalidate: true },
    field("Topic", topic),
    field("Kind", kind, changeable ? "A group room is for one cohort." : "A meeting room stays one: its sessions need it."),
    field("Audience", audience, "Once people have written here, a new audience may not read what was said before they could."),
    field("Cohort", cohort, "Needed when the audience is one cohort."),
    errors.node,
    h("div", { class: "dialog-actions" }, ok, cancel),
  );
  const handle = openDialog({ title: `Edit ${room.name}`, content: [form] });
  cancel.addEventListener("click", () => handle.close());
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const problem = audienceProblem(kind.value, audience.value, cohort.value);
    if (problem) {
      errors.show(problem);
      (audience.value === "cohort" ? cohort : audience).focus();
      return;
    }
    const changes: Record<string, unknown> = {};
    if (topic.value.trim() !== (room.topic ?? "")) changes.topic = topic.value.trim();
    if (kind.value !== room.kind) changes.kind = kind.value;
    const cohortId = audience.value === "cohort" ? Number(cohort.value) : null;
    if (audience.value !== room.audience || cohortId !== room.cohort_id) {
      changes.audience = audience.value;
      if (cohortId !== null) changes.cohort_id = cohortId;
    }
    errors.clear();
    ok.disabled = true;
    try {
      if (Object.keys(changes).length) await save(changes);
      handle.close();
    } catch (err) {
      errors.show(describeAny(err));
      ok.disabled = false;
    }
  });
}

function section(title: string, kind: string, ...content: Child[]): HTMLElement {
  const id = uid("section");
  return h(
    "section",
    { class: `card program-section program-${kind}`, "aria-labelledby": id },
    h("h2", { id, tabindex: "-1" }, title),
    ...content,
  );
}

/** Ask for a new name in a dialog; `save` throws to keep the dialog open with its message. */
function renameDialog(title: string, current: string, save: (name: string) => Promise<void>): void {
  const name = input({ type: "text", name: "name", value: current, maxlength: 100, autocomplete: "off" });
  const errors = errorBox();
  const ok = h("button", { type: "submit", class: "primary" }, "Save");
  const cancel = button("Cancel");
  const form = h(
    "form",
    { class: "form", novalidate: true },
    field("New name", name),
    errors.node,
    h("div", { class: "dialog-actions" }, ok, cancel),
  );
  const handle = openDialog({ title, content: [form] });
  cancel.addEventListener("click", () => handle.close());
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const wanted = name.value.trim();
    if (!wanted) {
      errors.show("Give it a name.");
      name.focus();
      return;
    }
    errors.clear();
    ok.disabled = true;
    try {
      await save(wanted);
      handle.close();
    } catch (err) {
      errors.show(describeAny(err));
      ok.disabled = false;
      name.focus();
    }
  });
}

function confirmDialog(title: string, text: string, confirmText: string, run: () => Promise<void>): void {
  const errors = errorBox();
  const yes = button(confirmText, { class: "danger" });
  const cancel = button("Cancel");
  const handle = openDialog({
    title,
    content: [h("p", null, text), errors.node, h("div", { class: "dialog-actions" }, yes, cancel)],
    initialFocus: cancel,
  });
  cancel.addEventListener("click", () => handle.close());
  yes.addEventListener("click", async () => {
    errors.clear();
    yes.disabled = true;
    try {
      await run();
      handle.close();
    } catch (err) {
      errors.show(describeAny(err));
      yes.disabled = false;
    }
  });
}

export function programView(): View {
  let stopped = false;
  let cohorts: ProgramCohort[] = [];
  let rooms: Room[] = [];
  const cohortName = (id: number | null): string =>
    id === null ? "No cohort" : (cohorts.find((c) => c.id === id)?.name ?? `Cohort ${id}`);

  // ----- cohorts -----
  const newCohort = input({ type: "text", name: "name", maxlength: 100, autocomplete: "off" });
  const cohortErrors = errorBox();
  const cohortStatus = statusBox("Cohort list");
  const cohortList = h("ul", { class: "program-list", "aria-label": "Cohorts" });
  const cohortBody = h("div", null, loading("Loading cohorts…"));
  const cohortForm = h(
    "form",
    { class: "form program-form", novalidate: true },
    field("New cohort name", newCohort),
    cohortErrors.node,
    h("div", { class: "row-actions" }, h("button", { type: "submit", class: "primary" }, "Create cohort")),
  );

  // ----- rooms -----
  const roomName = input({ type: "text", name: "name", maxlength: 100, autocomplete: "off" });
  const kind = h("select", { name: "kind" }, ...KIND_CHOICES.map(([value, text]) => option(value, text)));
  const audience = h("select", { name: "audience" }, ...AUDIENCE_CHOICES.map(([value, text]) => option(value, text)));
  const roomCohort = h("select", { name: "cohort_id" }, option("", "No cohort"));
  const topic = input({ type: "text", name: "topic", maxlength: 200, autocomplete: "off" });
  const policy = h(
    "select",
    { name: "contact_policy" },
    option("", "Default"),
    ...Object.entries(POLICY_TEXT).map(([value, text]) => option(value, text)),
  );
  const slowMode = input({ type: "number", name: "slow_mode_s", min: 0, max: 3600, step: 1, value: "0", inputmode: "numeric" });
  const readable = h(
    "select",
    { name: "history_visibility" },
    option("", defaultChoiceText(kind.value)),
    ...HISTORY_VISIBILITIES.map((value) => option(value, HISTORY_TEXT[value])),
  );
  const roomErrors = errorBox();
  const roomStatus = statusBox("Room list");
  const roomList = h("ul", { class: "program-list", "aria-label": "All rooms" });
  const roomBody = h("div", null, loading("Loading rooms…"));
  const roomForm = h(
    "form",
    { class: "form program-form", novalidate: true },
    field("Room name", roomName),
    field("Kind", kind, "A group room is for one cohort."),
    field("Audience", audience),
    field("Cohort", roomCohort, "Needed when the audience is one cohort."),
    field("Topic (optional)", topic),
    field("Contact details in messages", policy),
    field("Slow mode (seconds)", slowMode, "How long members wait between two posts; 0 is off."),
    field(HISTORY_LABEL, readable, HISTORY_HINT),
    roomErrors.node,
    h("div", { class: "row-actions" }, h("button", { type: "submit", class: "primary" }, "Create room")),
  );
  kind.addEventListener("change", () => {
    if (kind.value === "group") audience.value = "cohort";
    const byDefault = readable.options[0];
    if (byDefault) byDefault.textContent = defaultChoiceText(kind.value);
  });

  const renderCohorts = (): void => {
    const items = cohorts.map((cohort) => {
      const rename = button("Rename", { class: "small" });
      const archive = button(cohort.archived ? "Bring back" : "Archive", { class: "small" });
      rename.addEventListener("click", () =>
        renameDialog(`Rename ${cohort.name}`, cohort.name, async (name) => {
          await patch(`/api/cohorts/${cohort.id}`, { name });
          cohortStatus.show(`Cohort renamed to ${name}.`);
          await refresh();
        }),
      );
      archive.addEventListener("click", () => {
        if (cohort.archived) {
          void (async () => {
            try {
              await patch(`/api/cohorts/${cohort.id}`, { archived: false });
              cohortErrors.clear();
              cohortStatus.show(`${cohort.name} is back.`);
              await refresh();
            } catch (err) {
              cohortErrors.show(describeAny(err));
            }
          })();
          return;
        }
        confirmDialog(
          `Archive ${cohort.name}?`,
          "Its people and rooms stay; no new invites can be made for it.",
          "Archive",
          async () => {
            await patch(`/api/cohorts/${cohort.id}`, { archived: true });
            cohortStatus.show(`${cohort.name} archived.`);
            await refresh();
          },
        );
      });
      return h(
        "li",
        { class: `program-item${cohort.archived ? " is-archived" : ""}` },
        h(
          "p",
          { class: "program-line" },
          h("strong", { class: "program-name" }, cohort.name),
          cohort.archived ? h("span", { class: "program-tag" }, "Archived") : null,
        ),
        h("div", { class: "program-actions" }, rename, archive),
      );
    });
    replaceChildren(cohortList, ...items);
    replaceChildren(cohortBody, cohorts.length ? cohortList : h("p", { class: "note" }, "No cohorts yet."));
    const chosen = roomCohort.value;
    replaceChildren(roomCohort, ...cohortOptions(cohorts, null));
    roomCohort.value = [...roomCohort.options].some((o) => o.value === chosen) ? chosen : "";
  };

  /** A room changed: the lists here and everywhere else in the tab read again. */
  const roomChanged = async (id: number, changes: Record<string, unknown>, done: string): Promise<void> => {
    await patch(`/api/rooms/${id}`, changes);
    roomErrors.clear();
    roomStatus.show(done);
    void loadRooms().catch(() => {});
    await refresh();
  };

  const renderRooms = (): void => {
    const items = rooms.map((room) => {
      const archived = room.archived === true;
      const rename = button("Rename", { class: "small" });
      rename.addEventListener("click", () =>
        renameDialog(`Rename ${room.name}`, room.name, (name) => roomChanged(room.id, { name }, `Room renamed to ${name}.`)),
      );
      const edit = button("Edit", { class: "small", "aria-label": `Edit ${room.name}` });
      edit.addEventListener("click", () =>
        editRoomDialog(room, cohorts, (changes) => roomChanged(room.id, changes, `${room.name} changed.`)),
      );
      const archive = button(archived ? "Bring back" : "Archive", { class: "small" });
      archive.addEventListener("click", () => {
        if (archived) {
          roomChanged(room.id, { archived: false }, `${room.name} is open again.`).catch((err: unknown) =>
            roomErrors.show(describeAny(err)),
          );
          return;
        }
        confirmDialog(
          `Archive ${room.name}?`,
          "Its members can no longer open it or post in it, and it leaves their room lists. Its history is kept for staff.",
          "Archive",
          () => roomChanged(room.id, { archived: true }, `${room.name} archived.`),
        );
      });
      const dot = (): HTMLElement => h("span", { class: "dot", "aria-hidden": "true" }, " · ");
      const who = whoIsInRoom(room);
      return h(
        "li",
        { class: `program-item${archived ? " is-archived" : ""}` },
        h(
          "p",
          { class: "program-line" },
          h("a", { href: `#/rooms/${room.id}`, class: "program-name" }, room.name),
          archived ? h("span", { class: "program-tag" }, "Archived") : null,
        ),
        h(
          "p",
          { class: "program-meta" },
          h("span", null, KIND_TEXT[room.kind] ?? room.kind),
          dot(),
          h("span", null, `Audience: ${AUDIENCE_TEXT[room.audience] ?? room.audience}`),
          room.cohort_id !== null ? dot() : null,
          room.cohort_id !== null ? h("span", null, cohortName(room.cohort_id)) : null,
          room.slow_mode_s > 0 ? dot() : null,
          room.slow_mode_s > 0 ? h("span", null, `Slow mode: ${room.slow_mode_s} s`) : null,
        ),
        room.topic ? h("p", { class: "program-meta" }, `Topic: ${room.topic}`) : null,
        h("div", { class: "program-actions" }, rename, edit, archive, who.toggle),
        who.list,
      );
    });
    replaceChildren(roomList, ...items);
    replaceChildren(roomBody, rooms.length ? roomList : h("p", { class: "note" }, "No rooms yet."));
  };

  const refresh = async (): Promise<void> => {
    const [cohortData, roomData] = await Promise.all([
      get<{ cohorts: ProgramCohort[] }>("/api/cohorts?status=all"),
      get<{ rooms: Room[] }>("/api/rooms?status=all"),
    ]);
    if (stopped) return;
    cohorts = cohortData.cohorts;
    rooms = roomData.rooms.filter((room) => room.kind !== "support");
    renderCohorts();
    renderRooms();
  };

  cohortForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = newCohort.value.trim();
    if (!name) {
      cohortErrors.show("Give the cohort a name.");
      newCohort.focus();
      return;
    }
    cohortErrors.clear();
    try {
      await post("/api/cohorts", { name });
      newCohort.value = "";
      cohortStatus.show(`Cohort ${name} created.`);
      await refresh();
    } catch (err) {
      cohortErrors.show(describeAny(err));
      newCohort.focus();
    }
  });

  roomForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = roomName.value.trim();
    if (!name) {
      roomErrors.show("Give the room a name.");
      roomName.focus();
      return;
    }
    const problem = audienceProblem(kind.value, audience.value, roomCohort.value);
    if (problem) {
      roomErrors.show(problem);
      (audience.value === "cohort" ? roomCohort : audience).focus();
      return;
    }
    const slow = Number(slowMode.value || "0");
    if (!Number.isInteger(slow) || slow < 0 || slow > 3600) {
      roomErrors.show("Slow mode: give whole seconds from 0 to 3600.");
      slowMode.focus();
      return;
    }
    const body: Record<string, unknown> = { name, kind: kind.value, audience: audience.value };
    if (slow > 0) body.slow_mode_s = slow;
    if (audience.value === "cohort") body.cohort_id = Number(roomCohort.value);
    if (topic.value.trim()) body.topic = topic.value.trim();
    if (policy.value) body.contact_policy = policy.value;
    if (readable.value) body.history_visibility = readable.value;
    roomErrors.clear();
    try {
      await post("/api/rooms", body);
      roomName.value = "";
      topic.value = "";
      slowMode.value = "0";
      roomStatus.show(`Room ${name} created.`);
      void loadRooms().catch(() => {});
      await refresh();
    } catch (err) {
      roomErrors.show(describeAny(err));
      roomName.focus();
    }
  });

  const loadErrors = errorBox();
  const node = h(
    "div",
    { class: "program" },
    heading("Cohorts and rooms"),
    loadErrors.node,
    section("Cohorts", "cohorts", cohortForm, cohortStatus.node, cohortBody),
    section("Rooms", "rooms", roomForm, roomStatus.node, roomBody),
  );
  refresh().catch((err: unknown) => {
    if (!stopped) loadErrors.show(describeAny(err));
  });
  return {
    title: "Cohorts and rooms",
    node,
    cleanup: () => {
      stopped = true;
    },
  };
}
