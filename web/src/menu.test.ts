// The menu button's keys: where focus goes among a menu's items.
import { describe, expect, it } from "vitest";
import { menuKeyTarget } from "./menu";

describe("keys in a menu", () => {
  it("move down and up, wrapping at either end", () => {
    expect(menuKeyTarget("ArrowDown", 0, 3)).toBe(1);
    expect(menuKeyTarget("ArrowDown", 2, 3)).toBe(0);
    expect(menuKeyTarget("ArrowUp", 0, 3)).toBe(2);
    expect(menuKeyTarget("ArrowUp", 2, 3)).toBe(1);
  });

  it("go to the first and the last item", () => {
    expect(menuKeyTarget("Home", 2, 4)).toBe(0);
    expect(menuKeyTarget("End", 0, 4)).toBe(3);
  });

  it("close on Escape and leave on Tab; other keys are not the menu's", () => {
    expect(menuKeyTarget("Escape", 1, 3)).toBe("close");
    expect(menuKeyTarget("Tab", 1, 3)).toBe("tab");
    expect(menuKeyTarget("Enter", 1, 3)).toBeNull();
    expect(menuKeyTarget("a", 1, 3)).toBeNull();
  });

  it("from no item focused, go to the first or the last", () => {
    expect(menuKeyTarget("ArrowDown", -1, 3)).toBe(0);
    expect(menuKeyTarget("ArrowUp", -1, 3)).toBe(2);
  });
});
