// Light or dark. The stylesheet follows the system's `prefers-color-scheme` by itself (its
// colours are `light-dark()` pairs under `color-scheme: light dark`); a choice made here is kept
// in localStorage, on this device, and put on <html> as data-theme, which pins color-scheme to
// it. main.ts applies it before drawing anything, and the page's script blocks rendering until
// it has run, so a dark choice never flashes light.
import type { MenuItem } from "./menu";

export type ThemeChoice = "system" | "light" | "dark";

export const THEME_KEY = "peerrooms.theme";

export const THEME_CHOICES: readonly { value: ThemeChoice; label: string }[] = [
  { value: "system", label: "System" },
  { value: "light", label: "Light" },
  { value: "dark", label: "Dark" },
];

// The browser's bar above the page, in each theme (the page's --surface).
const BAR_COLOUR = { light: "#ffffff", dark: "#1b1f24" } as const;

/** A stored value, or "system" for anything else (nothing stored, an old or foreign value). */
export function parseChoice(raw: string | null | undefined): ThemeChoice {
  return raw === "light" || raw === "dark" ? raw : "system";
}

/** The theme shown: the choice, or for "system" what the system prefers. */
export function shownTheme(choice: ThemeChoice, systemDark: boolean): "light" | "dark" {
  if (choice === "system") return systemDark ? "dark" : "light";
  return choice;
}

/** The switch's items: each choice, the current one checked. */
export function themeItems(current: ThemeChoice, choose: (choice: ThemeChoice) => void): MenuItem[] {
  return THEME_CHOICES.map(({ value, label }) => ({ label, checked: value === current, run: () => choose(value) }));
}

/** The choice kept on this device (storage may be closed to the page: then "system"). */
export function storedChoice(storage: Pick<Storage, "getItem"> | null = safeLocalStorage()): ThemeChoice {
  try {
    return parseChoice(storage?.getItem(THEME_KEY));
  } catch {
    return "system";
  }
}

export function storeChoice(choice: ThemeChoice, storage: Pick<Storage, "setItem" | "removeItem"> | null = safeLocalStorage()): void {
  try {
    if (choice === "system") storage?.removeItem(THEME_KEY);
    else storage?.setItem(THEME_KEY, choice);
  } catch {
    /* not kept: the choice still holds in this tab */
  }
}

const systemDark = (): MediaQueryList | null =>
  typeof window.matchMedia === "function" ? window.matchMedia("(prefers-color-scheme: dark)") : null;

/** Put a choice on the page: data-theme on <html> (none for "system") and the bar colour. */
export function applyTheme(choice: ThemeChoice, root: HTMLElement = document.documentElement): void {
  if (choice === "system") root.removeAttribute("data-theme");
  else root.setAttribute("data-theme", choice);
  const bar = document.querySelector('meta[name="theme-color"]');
  bar?.setAttribute("content", BAR_COLOUR[shownTheme(choice, systemDark()?.matches ?? false)]);
}

/** Apply the kept choice now, and follow the system while the choice is "system". */
export function startTheme(): void {
  applyTheme(storedChoice());
  systemDark()?.addEventListener("change", () => applyTheme(storedChoice()));
}

/** Choose, keep and apply. */
export function chooseTheme(choice: ThemeChoice): void {
  storeChoice(choice);
  applyTheme(choice);
}

function safeLocalStorage(): Storage | null {
  try {
    return window.localStorage;
  } catch {
    return null;
  }
}
