// The theme switch's pure parts: what is kept, what is shown, and what the switch offers.
import { describe, expect, it } from "vitest";
import { parseChoice, shownTheme, storeChoice, storedChoice, themeItems, THEME_KEY, type ThemeChoice } from "./theme";

/** A Storage with only what the theme uses, in memory. */
function memoryStorage(initial: Record<string, string> = {}): Pick<Storage, "getItem" | "setItem" | "removeItem"> & { items: Map<string, string> } {
  const items = new Map(Object.entries(initial));
  return {
    items,
    getItem: (key) => items.get(key) ?? null,
    setItem: (key, value) => void items.set(key, value),
    removeItem: (key) => void items.delete(key),
  };
}

describe("the kept choice", () => {
  it("is light or dark when one was chosen, and follows the system otherwise", () => {
    expect(parseChoice("light")).toBe("light");
    expect(parseChoice("dark")).toBe("dark");
    for (const raw of [null, undefined, "", "system", "DARK", "sepia"]) expect(parseChoice(raw)).toBe("system");
  });

  it("is kept on the device, and choosing System forgets it", () => {
    const storage = memoryStorage();
    storeChoice("dark", storage);
    expect(storage.items.get(THEME_KEY)).toBe("dark");
    expect(storedChoice(storage)).toBe("dark");
    storeChoice("system", storage);
    expect(storage.items.has(THEME_KEY)).toBe(false);
    expect(storedChoice(storage)).toBe("system");
  });

  it("is System where storage is closed to the page, and choosing then does not throw", () => {
    const closed = {
      getItem: (): string | null => {
        throw new Error("SecurityError");
      },
      setItem: (): void => {
        throw new Error("QuotaExceededError");
      },
      removeItem: (): void => {},
    };
    expect(storedChoice(closed)).toBe("system");
    expect(() => storeChoice("light", closed)).not.toThrow();
    expect(storedChoice(null)).toBe("system");
  });
});

describe("the theme shown", () => {
  it("is the choice, or the system's preference for System", () => {
    expect(shownTheme("light", true)).toBe("light");
    expect(shownTheme("dark", false)).toBe("dark");
    expect(shownTheme("system", true)).toBe("dark");
    expect(shownTheme("system", false)).toBe("light");
  });
});

describe("the switch", () => {
  it("offers System, Light and Dark with the current one checked, and chooses what is picked", () => {
    const chosen: ThemeChoice[] = [];
    const items = themeItems("dark", (choice) => chosen.push(choice));
    expect(items.map((item) => [item.label, item.checked])).toEqual([
      ["System", false],
      ["Light", false],
      ["Dark", true],
    ]);
    items[1].run();
    expect(chosen).toEqual(["light"]);
  });
});
