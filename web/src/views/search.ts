// Search: the messages I may read that hold the words I type (GET /api/search;
// docs/protocol-additions.md, "Search"), newest first, a page at a time; a result opens its
// room at that message. A snippet comes as runs of plain text, the words found marked: it is
// shown as text, never as markup.
import { get } from "../api";
import { describeAny } from "../errors";
import { fullTime, shortTime } from "../format";
import { h, replaceChildren } from "../h";
import { loadRooms, rooms } from "../state";
import { button, errorBox, field, heading, statusBox, type View } from "./common";
import {
  foundText,
  MAX_QUERY_CHARS,
  resultHash,
  SEARCH_PAGE,
  searchHash,
  searchOf,
  type SearchHit,
  type SearchPage,
  type SearchQuery,
  type SnippetRun,
} from "./search-query";

/** A snippet as text nodes, each word found in a <mark>. */
export function snippetNodes(runs: readonly SnippetRun[]): Node[] {
  return runs.map((run) => (run.match ? h("mark", null, run.text) : document.createTextNode(run.text)));
}

function resultItem(hit: SearchHit): HTMLLIElement {
  return h(
    "li",
    { class: "search-result" },
    h(
      "a",
      { href: resultHash(hit), class: "search-link" },
      h("span", { class: "search-snippet" }, ...snippetNodes(hit.snippet)),
      h(
        "span",
        { class: "search-meta" },
        h("span", null, hit.room_name),
        h("span", { class: "dot", "aria-hidden": "true" }, " · "),
        h("span", null, hit.author.display_name),
        h("span", { class: "dot", "aria-hidden": "true" }, " · "),
        h("time", { datetime: hit.created_at, title: fullTime(hit.created_at) }, shortTime(hit.created_at)),
      ),
    ),
  );
}

export function searchView(queryString: string): View {
  const asked = searchOf(queryString);
  const words = h("input", {
    type: "search",
    name: "q",
    maxlength: String(MAX_QUERY_CHARS),
    autocomplete: "off",
    enterkeyhint: "search",
  });
  words.value = asked.q;
  const where = h("select", { name: "room" }, h("option", { value: "" }, "All my rooms"));
  const submit = h("button", { type: "submit", class: "primary" }, "Search");
  const form = h(
    "form",
    { role: "search", "aria-label": "Search messages", class: "form search-form", novalidate: true },
    field("Words to find", words, "Every word must be in the message; the last may be the start of a longer one."),
    field("In", where),
    submit,
  );
  const errors = errorBox();
  const status = statusBox("Search status");
  const list = h("ul", { class: "search-results", "aria-label": "Search results", hidden: true });
  const more = button("More results");
  more.hidden = true;
  let stopped = false;
  // A newer search makes an older one's late answer worthless.
  let asking = 0;
  let shown: SearchHit[] = [];
  let nextBefore: number | null = null;

  // The room to show as chosen: the address's until the reader picks one. Rooms are filled
  // twice (what is known now, then the fresh list), and neither fill may undo a pick, nor
  // lose the address's room when it is not known yet.
  let chosen = asked.roomId === null ? "" : String(asked.roomId);
  where.addEventListener("change", () => {
    chosen = where.value;
  });

  const fillRooms = (): void => {
    const options = [...rooms.values()]
      .filter((room) => !room.archived)
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((room) => h("option", { value: String(room.id) }, room.name));
    replaceChildren(where, h("option", { value: "" }, "All my rooms"), ...options);
    where.value = chosen;
  };

  const current = (): SearchQuery => ({ q: words.value, roomId: where.value ? Number(where.value) : null });

  const run = async (query: SearchQuery, before: number | null): Promise<void> => {
    const ticket = ++asking;
    errors.clear();
    if (!query.q.trim()) {
      errors.show("Type a word to search for.");
      return;
    }
    status.show("Searching…");
    submit.disabled = more.disabled = true;
    const params = new URLSearchParams({ q: query.q.trim(), limit: String(SEARCH_PAGE) });
    if (query.roomId !== null) params.set("room_id", String(query.roomId));
    if (before !== null) params.set("before", String(before));
    try {
      const page = await get<SearchPage>(`/api/search?${params.toString()}`);
      if (stopped || ticket !== asking) return;
      shown = before === null ? page.results : [...shown, ...page.results];
      nextBefore = page.next_before;
      const added = page.results.map(resultItem);
      if (before === null) replaceChildren(list, ...added);
      else list.append(...added);
      list.hidden = shown.length === 0;
      more.hidden = nextBefore === null;
      status.show(foundText(shown.length, nextBefore !== null));
    } catch (err) {
      if (stopped || ticket !== asking) return;
      status.clear();
      errors.show(describeAny(err));
    } finally {
      if (!stopped && ticket === asking) submit.disabled = more.disabled = false;
    }
  };

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const query = current();
    // The address keeps the search (without a new screen): Back from a result returns here.
    history.replaceState(null, "", searchHash(query));
    void run(query, null);
  });
  more.addEventListener("click", () => {
    if (nextBefore !== null) void run(current(), nextBefore);
  });

  fillRooms();
  void loadRooms()
    .then(() => {
      if (!stopped) fillRooms();
    })
    .catch(() => {});
  if (asked.q.trim()) void run(asked, null);

  const node = h(
    "div",
    { class: "search" },
    heading("Search messages"),
    h("p", { class: "note" }, "Only messages you can read are searched: your rooms, from when you could read them."),
    form,
    errors.node,
    status.node,
    list,
    more,
  );
  return {
    title: "Search",
    node,
    cleanup: () => {
      stopped = true;
    },
  };
}
