// A menu button (the WAI-ARIA pattern): one button that opens a small list of actions, so a
// screen on a phone carries one control where it would carry a row of them. The menu is built
// when it opens (its items say what is true then), arrow keys move through it, Escape or Tab
// closes it, and focus goes back to the button; a press outside closes it too. One menu is open
// at a time.
import { h, uid, type Child } from "./h";

export interface MenuItem {
  label: string;
  run(): void;
  /** A menuitemradio: whether it is the current choice. */
  checked?: boolean;
  /** Choosing it opens a dialog (said to screen readers before it is chosen). */
  opensDialog?: boolean;
  danger?: boolean;
}

export interface MenuButtonOptions {
  /** The button's accessible name ("More", "Theme"). */
  label: string;
  /** What the button shows; the label when not given. */
  visible?: Child;
  className?: string;
  /** The menu's accessible name. */
  menuLabel(): string;
  items(): MenuItem[];
  /** An element that says what the button is about (a message's head). */
  describedBy?: string;
}

export interface MenuButton {
  /** The button and its menu, in one element the menu is placed against. */
  node: HTMLElement;
  button: HTMLButtonElement;
  /** Open with focus on the first or last item, or on the item with this label. */
  open(focus?: "first" | "last" | string): void;
  /** Close; focus goes back to the button when asked. */
  close(returnFocus: boolean): void;
  isOpen(): boolean;
  /** The label of the item that has focus, if any. */
  focusedItem(): string | null;
}

export type MenuMove = number | "close" | "tab" | null;

/** Where a key moves focus among `count` items from `index`: an index, "close" (Escape),
 * "tab" (Tab leaves the menu), or null (not a menu key). */
export function menuKeyTarget(key: string, index: number, count: number): MenuMove {
  if (count === 0) return key === "Escape" ? "close" : null;
  switch (key) {
    case "ArrowDown":
      return (index + 1) % count;
    case "ArrowUp":
      return index < 0 ? count - 1 : (index - 1 + count) % count;
    case "Home":
    case "PageUp":
      return 0;
    case "End":
    case "PageDown":
      return count - 1;
    case "Escape":
      return "close";
    case "Tab":
      return "tab";
    default:
      return null;
  }
}

let openMenu: MenuButton | null = null;

export function menuButton(options: MenuButtonOptions): MenuButton {
  const menuId = uid("menu");
  const button = h(
    "button",
    {
      type: "button",
      class: `menu-button ${options.className ?? ""}`.trim(),
      "aria-haspopup": "menu",
      "aria-expanded": "false",
      "aria-label": options.visible === undefined ? undefined : options.label,
      "aria-describedby": options.describedBy,
    },
    options.visible ?? options.label,
  );
  const node = h("span", { class: "menu-anchor" }, button);
  let menu: HTMLElement | null = null;

  const items = (): HTMLElement[] => (menu ? [...menu.querySelectorAll<HTMLElement>("[role^=menuitem]")] : []);

  const onOutsidePress = (event: Event): void => {
    if (event.target instanceof Node && !node.contains(event.target)) handle.close(false);
  };

  const handle: MenuButton = {
    node,
    button,
    open(focus = "first") {
      if (menu) handle.close(false);
      if (openMenu && openMenu !== handle) openMenu.close(false);
      menu = drawMenu(menuId, options, (item) => {
        handle.close(true);
        item.run();
      });
      menu.addEventListener("keydown", (event) => {
        const list = items();
        const move = menuKeyTarget(event.key, list.indexOf(event.target as HTMLElement), list.length);
        if (move === null) return;
        if (move === "tab") {
          // Focus goes to the button, and the Tab itself moves on from there.
          handle.close(true);
          return;
        }
        event.preventDefault();
        if (move === "close") handle.close(true);
        else list[move]?.focus();
      });
      node.append(menu);
      button.setAttribute("aria-expanded", "true");
      button.setAttribute("aria-controls", menuId);
      placeMenu(node, menu);
      const list = items();
      const target =
        focus === "first" ? list[0] : focus === "last" ? list[list.length - 1] : list.find((item) => item.textContent === focus) ?? list[0];
      target?.focus();
      document.addEventListener("pointerdown", onOutsidePress, true);
      openMenu = handle;
    },
    close(returnFocus) {
      if (!menu) return;
      menu.remove();
      menu = null;
      button.setAttribute("aria-expanded", "false");
      button.removeAttribute("aria-controls");
      document.removeEventListener("pointerdown", onOutsidePress, true);
      if (openMenu === handle) openMenu = null;
      if (returnFocus) button.focus();
    },
    isOpen: () => menu !== null,
    focusedItem() {
      const active = document.activeElement;
      return menu && active instanceof HTMLElement && menu.contains(active) ? active.textContent : null;
    },
  };

  button.addEventListener("click", () => (menu ? handle.close(true) : handle.open("first")));
  button.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      handle.open(event.key === "ArrowDown" ? "first" : "last");
    }
  });
  return handle;
}

function drawMenu(id: string, options: MenuButtonOptions, choose: (item: MenuItem) => void): HTMLElement {
  const menu = h("div", { role: "menu", id, class: "menu", "aria-label": options.menuLabel() });
  for (const item of options.items()) {
    const radio = item.checked !== undefined;
    const control = h(
      "button",
      {
        type: "button",
        role: radio ? "menuitemradio" : "menuitem",
        tabindex: "-1",
        class: `menu-item${item.danger ? " danger-text" : ""}`,
        "aria-checked": radio ? String(item.checked) : undefined,
        "aria-haspopup": item.opensDialog ? "dialog" : undefined,
      },
      item.label,
    );
    control.addEventListener("click", () => choose(item));
    menu.append(control);
  }
  return menu;
}

/** Below the button, or above it when the space below (in the area that scrolls, or the
 * window) is too short for it. */
function placeMenu(anchor: HTMLElement, menu: HTMLElement): void {
  const room = scrollArea(anchor);
  const bottom = room ? room.getBoundingClientRect().bottom : window.innerHeight;
  const top = room ? room.getBoundingClientRect().top : 0;
  const box = anchor.getBoundingClientRect();
  const height = menu.offsetHeight;
  const upward = box.bottom + height > bottom && box.top - height >= top;
  menu.classList.toggle("menu-up", upward);
  menu.scrollIntoView({ block: "nearest" });
}

function scrollArea(el: HTMLElement): HTMLElement | null {
  for (let parent = el.parentElement; parent; parent = parent.parentElement) {
    const overflow = getComputedStyle(parent).overflowY;
    if (overflow === "auto" || overflow === "scroll") return parent;
  }
  return null;
}
