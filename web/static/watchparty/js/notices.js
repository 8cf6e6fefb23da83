// Banners for errors and connection state. One banner per key: showing a key again replaces it.
import { h } from "./dom.js";

export class Notices {
  constructor(container) {
    this.container = container;
    this.items = new Map(); // key -> {el, timer}
  }

  /**
   * level: "info" | "warn" | "error". options.timeout (ms) hides it by itself; options.actions is a
   * list of {label, href} or {label, onClick}; options.sticky hides the close button.
   */
  show(key, level, text, { timeout = 0, actions = [], sticky = false } = {}) {
    this.clear(key);
    const el = h("div", {
      class: `notice notice-${level}`,
      role: level === "error" ? "alert" : "status",
      "data-key": key,
    });
    el.append(h("p", { class: "notice-text", dir: "auto", text }));
    const buttons = h("div", { class: "notice-actions" });
    for (const action of actions) {
      if (action.href) buttons.append(h("a", { class: "btn btn-small", href: action.href, text: action.label }));
      else buttons.append(h("button", { type: "button", class: "btn btn-small", text: action.label, onclick: action.onClick }));
    }
    if (!sticky) {
      buttons.append(
        h("button", {
          type: "button",
          class: "notice-close",
          "aria-label": "Dismiss",
          text: "×",
          onclick: () => this.clear(key),
        }),
      );
    }
    el.append(buttons);
    this.container.append(el);
    const timer = timeout ? setTimeout(() => this.clear(key), timeout) : null;
    this.items.set(key, { el, timer });
    return el;
  }

  clear(key) {
    const item = this.items.get(key);
    if (!item) return;
    clearTimeout(item.timer);
    item.el.remove();
    this.items.delete(key);
  }

  has(key) {
    return this.items.has(key);
  }
}
