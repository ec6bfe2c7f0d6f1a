import { describe, expect, it } from "vitest";
import {
  defaultChoiceText,
  defaultHistoryVisibility,
  HISTORY_TEXT,
  HISTORY_VISIBILITIES,
  historyVisibilityOf,
} from "./history-visibility";

describe("defaultHistoryVisibility", () => {
  it("gives group rooms history since joining, meeting rooms the current session, others all", () => {
    expect(defaultHistoryVisibility("group")).toBe("since_joined");
    expect(defaultHistoryVisibility("meeting")).toBe("since_session");
    expect(defaultHistoryVisibility("peer")).toBe("all");
    expect(defaultHistoryVisibility("support")).toBe("all");
  });
});

describe("historyVisibilityOf", () => {
  it("takes the room's own setting over its kind's default", () => {
    expect(historyVisibilityOf({ kind: "group", history_visibility: "all" })).toBe("all");
    expect(historyVisibilityOf({ kind: "peer", history_visibility: "since_joined" })).toBe("since_joined");
  });

  it("falls back to the kind's default when the room does not say, and to all with no room", () => {
    expect(historyVisibilityOf({ kind: "meeting" })).toBe("since_session");
    expect(historyVisibilityOf(undefined)).toBe("all");
  });
});

describe("the words", () => {
  it("name every choice, plainly and differently", () => {
    const texts = HISTORY_VISIBILITIES.map((value) => HISTORY_TEXT[value]);
    expect(new Set(texts).size).toBe(3);
    for (const text of texts) expect(text).not.toMatch(/_/);
  });

  it("say what the default gives for the kind chosen", () => {
    expect(defaultChoiceText("group")).toBe("Default for this kind: from when each member joined");
    expect(defaultChoiceText("peer")).toBe("Default for this kind: everything, for every member");
  });
});
