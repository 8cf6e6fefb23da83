// One emoji picker for reactions and for the message box: every emoji the server accepts as a
// reaction (emoji-data.js, generated from Unicode's list by web/emoji_catalog.py; skin tones
// aside), in Unicode's groups, with a name filter. A non-modal dialog: it opens next to the button
// that asked for it, the arrow keys move through the grid (Up/Down by row, PageUp/PageDown by
// group, Home/End), Enter or Space picks, Tab moves between the filter and the grid, and Escape
// (or a click elsewhere) closes it and gives focus back to that button. The catalog is loaded on
// first use, so the room does not pay for it until someone opens the picker.
import { h } from "./dom.js";

const COLUMNS = 8; // the grid's columns (css/chat.css), fixed so that Up/Down keep their column

let catalog = null;

async function loadCatalog() {
  if (!catalog) catalog = import("./emoji-data.js").then((module) => module.EMOJI_GROUPS);
  return catalog;
}

export class EmojiPicker {
  constructor() {
    this.el = null;
    this.anchor = null;
    this.onPick = null;
    this.groups = []; // [{section, buttons: [button]}], every button
    this.visible = []; // [[button]] per group, what the filter leaves
    this.current = null; // the grid's one Tab stop
    this.onOutside = (event) => {
      if (this.el && !this.el.contains(event.target) && event.target !== this.anchor) this.close({ restoreFocus: false });
    };
  }

  get isOpen() {
    return Boolean(this.el && !this.el.hidden);
  }

  /** Open next to `anchor`; onPick(emoji) gets the choice, then the picker closes. */
  async open(anchor, { label = "Choose an emoji", onPick }) {
    if (this.isOpen && this.anchor === anchor) {
      this.close();
      return;
    }
    if (this.isOpen) this.close({ restoreFocus: false });
    this.anchor = anchor;
    this.onPick = onPick;
    anchor.setAttribute("aria-expanded", "true");
    await this.build();
    this.el.setAttribute("aria-label", label);
    this.filter.value = "";
    this.applyFilter();
    this.el.hidden = false;
    this.place();
    this.focusButton(this.visible.flat()[0]);
    document.addEventListener("pointerdown", this.onOutside, true);
  }

  close({ restoreFocus = true } = {}) {
    if (!this.el || this.el.hidden) return;
    this.el.hidden = true;
    document.removeEventListener("pointerdown", this.onOutside, true);
    const anchor = this.anchor;
    this.anchor = null;
    this.onPick = null;
    if (anchor) {
      anchor.setAttribute("aria-expanded", "false");
      if (restoreFocus && anchor.isConnected) anchor.focus();
    }
  }

  async build() {
    if (this.el) return;
    const groups = await loadCatalog();
    if (this.el) return; // built by a concurrent open
    this.filter = h("input", {
      type: "search",
      class: "emoji-filter",
      placeholder: "Find an emoji",
      "aria-label": "Find an emoji by name",
      autocomplete: "off",
    });
    this.status = h("p", { class: "emoji-status muted small", role: "status" });
    this.body = h("div", { class: "emoji-body" });
    groups.forEach(([name, entries], index) => {
      const headingId = `emoji-group-${index}`;
      const buttons = entries.map(([emoji, title]) =>
        h("button", {
          type: "button",
          class: "emoji-option",
          tabindex: "-1",
          "data-emoji": emoji,
          "data-name": title,
          "aria-label": title,
          title,
          text: emoji,
        }),
      );
      const section = h(
        "div",
        { class: "emoji-group" },
        h("h3", { class: "emoji-group-title", id: headingId, text: name }),
        h("div", { class: "emoji-grid", role: "group", "aria-labelledby": headingId }, buttons),
      );
      this.groups.push({ section, buttons });
      this.body.append(section);
    });
    this.el = h("div", { class: "emoji-picker", role: "dialog", hidden: true }, this.filter, this.status, this.body);
    this.el.addEventListener("keydown", (event) => this.onKey(event));
    this.el.addEventListener("click", (event) => {
      const button = event.target.closest("button.emoji-option");
      if (button) this.pick(button.dataset.emoji);
    });
    this.el.addEventListener("focusin", (event) => {
      if (event.target.matches("button.emoji-option")) this.focusButton(event.target, { move: false });
    });
    this.filter.addEventListener("input", () => this.applyFilter());
    document.body.append(this.el);
  }

  pick(emoji) {
    const onPick = this.onPick;
    this.close();
    if (onPick) onPick(emoji);
  }

  applyFilter() {
    const words = this.filter.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
    this.visible = [];
    let shown = 0;
    for (const { section, buttons } of this.groups) {
      const kept = [];
      for (const button of buttons) {
        const match = words.every((word) => button.dataset.name.includes(word));
        button.hidden = !match;
        if (match) kept.push(button);
      }
      section.hidden = kept.length === 0;
      if (kept.length) this.visible.push(kept);
      shown += kept.length;
    }
    this.status.textContent = words.length ? (shown ? `${shown} found` : "No emoji by that name.") : "";
    if (!this.current || this.current.hidden) this.focusButton(this.visible.flat()[0], { move: false });
  }

  /** Make `button` the grid's Tab stop and (with move) focus it. */
  focusButton(button, { move = true } = {}) {
    if (this.current && this.current !== button) this.current.setAttribute("tabindex", "-1");
    this.current = button || null;
    if (!button) return;
    button.setAttribute("tabindex", "0");
    if (move) {
      button.focus();
      button.scrollIntoView({ block: "nearest" });
    }
  }

  /** [group index, index in group] of the current button among the visible ones. */
  position() {
    for (let g = 0; g < this.visible.length; g += 1) {
      const i = this.visible[g].indexOf(this.current);
      if (i >= 0) return [g, i];
    }
    return [0, 0];
  }

  target(key) {
    const [g, i] = this.position();
    const group = this.visible[g];
    const col = i % COLUMNS;
    switch (key) {
      case "ArrowRight":
        return group[i + 1] || this.visible[g + 1]?.[0];
      case "ArrowLeft":
        return group[i - 1] || this.visible[g - 1]?.at(-1);
      case "ArrowDown": {
        if (i + COLUMNS < group.length) return group[i + COLUMNS];
        if (Math.floor(i / COLUMNS) < Math.floor((group.length - 1) / COLUMNS)) return group.at(-1); // a short last row
        const next = this.visible[g + 1];
        return next && next[Math.min(col, next.length - 1)];
      }
      case "ArrowUp": {
        if (i - COLUMNS >= 0) return group[i - COLUMNS];
        const previous = this.visible[g - 1];
        if (!previous) return undefined;
        const lastRow = Math.floor((previous.length - 1) / COLUMNS) * COLUMNS;
        return previous[Math.min(lastRow + col, previous.length - 1)];
      }
      case "PageDown":
        return this.visible[g + 1]?.[0] || group.at(-1);
      case "PageUp":
        return i > 0 ? group[0] : this.visible[g - 1]?.[0];
      case "Home":
        return this.visible[0]?.[0];
      case "End":
        return this.visible.at(-1)?.at(-1);
      default:
        return undefined;
    }
  }

  onKey(event) {
    if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation();
      this.close();
      return;
    }
    const onFilter = event.target === this.filter;
    if (event.key === "Tab") {
      // Two stops, the filter and the grid; focus stays in the picker until it closes.
      event.preventDefault();
      if (onFilter && this.current) this.focusButton(this.current);
      else this.filter.focus();
      return;
    }
    if (onFilter) {
      if (event.key === "ArrowDown" || event.key === "Enter") {
        event.preventDefault();
        if (event.key === "Enter" && this.current && this.filter.value.trim()) this.pick(this.current.dataset.emoji);
        else if (this.current) this.focusButton(this.current);
      }
      return;
    }
    const next = this.target(event.key);
    if (next === undefined && !["ArrowRight", "ArrowLeft", "ArrowDown", "ArrowUp", "PageDown", "PageUp", "Home", "End"].includes(event.key)) {
      return; // Enter and Space click the button; anything else types nothing here
    }
    event.preventDefault();
    if (next) this.focusButton(next);
  }

  /** Below the anchor (above it when there is no room), inside the viewport; a sheet on phones. */
  place() {
    const el = this.el;
    el.classList.remove("emoji-picker-up");
    el.style.removeProperty("top");
    el.style.removeProperty("left");
    const rect = this.anchor.getBoundingClientRect();
    const phone = window.innerWidth <= 600;
    el.classList.toggle("emoji-picker-sheet", phone);
    if (phone) return;
    const height = el.offsetHeight;
    const width = el.offsetWidth;
    const below = rect.bottom + 6 + height <= window.innerHeight;
    const top = below ? rect.bottom + 6 : Math.max(6, rect.top - 6 - height);
    const left = Math.min(Math.max(6, rect.right - width), window.innerWidth - width - 6);
    // Positioned through CSSOM properties, which the style-src CSP allows (no inline style text).
    el.style.top = `${Math.round(top)}px`;
    el.style.left = `${Math.round(left)}px`;
  }
}

/** Put `text` into a textarea at its caret (replacing a selection), as typing would. */
export function insertAtCaret(textarea, text) {
  const start = textarea.selectionStart ?? textarea.value.length;
  const end = textarea.selectionEnd ?? start;
  textarea.setRangeText(text, start, end, "end");
  textarea.dispatchEvent(new Event("input", { bubbles: true }));
}
