// @name mentions in the browser: completion in the message box from the participant list (the
// ARIA combobox pattern: Up/Down choose, Enter or Tab take the name, Escape closes; a <textarea>
// may not take the combobox role itself, so it stays a textbox with aria-autocomplete,
// aria-controls and aria-activedescendant pointing into the listbox), and for the
// person mentioned an unread-mention count and, while the tab is hidden and they allowed it, a
// browser notification. The server decides who a message mentions (Message `mentions`); the
// client only shows it. All text goes in as text.
import { h } from "./dom.js";

const MAX_OPTIONS = 8;
const MAX_QUERY = 50; // DISPLAY_NAME_MAX_LENGTH: no name is longer

/** The "@query" just before the caret: {start, query}, or null. */
function mentionAt(text, caret) {
  const before = text.slice(0, caret);
  const at = before.lastIndexOf("@");
  if (at < 0 || caret - at - 1 > MAX_QUERY) return null;
  if (at > 0 && /[\p{L}\p{N}_]/u.test(before[at - 1])) return null; // an address: a@b
  const query = before.slice(at + 1);
  if (/[\n@]/.test(query)) return null;
  return { start: at, query };
}

export class MentionCompleter {
  /** input: the message <textarea>; people(): [{user_id, user_name}] to offer (me left out). */
  constructor({ input, people }) {
    this.input = input;
    this.people = people;
    this.options = [];
    this.index = -1;
    this.range = null;
    this.list = h("ul", { id: "mention-options", class: "mention-options", role: "listbox", "aria-label": "People to mention", hidden: true });
    input.form.before(this.list);
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-controls", this.list.id);
    input.addEventListener("input", () => this.update());
    input.addEventListener("blur", () => setTimeout(() => this.close(), 150));
    input.addEventListener("click", () => this.update());
    // Capture on the form: these keys must not also send the message (room.js sends on Enter).
    input.form.addEventListener("keydown", (event) => this.onKey(event), true);
    this.list.addEventListener("pointerdown", (event) => event.preventDefault()); // keep the caret
    this.list.addEventListener("click", (event) => {
      const option = event.target.closest("li[data-index]");
      if (option) this.accept(Number(option.dataset.index));
    });
  }

  get isOpen() {
    return !this.list.hidden;
  }

  update() {
    const found = mentionAt(this.input.value, this.input.selectionStart ?? 0);
    if (!found || this.input.selectionStart !== this.input.selectionEnd) return this.close();
    const query = found.query.toLocaleLowerCase();
    const matches = this.people()
      .filter((person) => person.user_name && person.user_name.toLocaleLowerCase().startsWith(query))
      .sort((a, b) => a.user_name.localeCompare(b.user_name))
      .slice(0, MAX_OPTIONS);
    // A name typed out in full and followed by more text is finished: nothing to offer.
    if (!matches.length || (matches.length === 1 && matches[0].user_name.toLocaleLowerCase() === query && found.query.endsWith(" "))) {
      return this.close();
    }
    this.range = found;
    this.options = matches;
    this.index = Math.min(Math.max(this.index, 0), matches.length - 1);
    this.render();
    return undefined;
  }

  render() {
    this.list.replaceChildren(
      ...this.options.map((person, index) =>
        h("li", {
          id: `mention-option-${index}`,
          role: "option",
          class: "mention-option",
          "data-index": String(index),
          "aria-selected": index === this.index ? "true" : "false",
          dir: "auto",
          text: person.user_name,
        }),
      ),
    );
    this.list.hidden = false;
    this.input.setAttribute("aria-activedescendant", `mention-option-${this.index}`);
  }

  close() {
    if (this.list.hidden) return;
    this.list.hidden = true;
    this.list.replaceChildren();
    this.options = [];
    this.index = -1;
    this.input.removeAttribute("aria-activedescendant");
  }

  accept(index) {
    const person = this.options[index];
    if (!person || !this.range) return;
    const end = this.input.selectionStart ?? this.input.value.length;
    this.input.setRangeText(`@${person.user_name} `, this.range.start, end, "end");
    this.close();
    this.input.focus();
    this.input.dispatchEvent(new Event("input", { bubbles: true }));
    this.close(); // the input event above must not reopen it on the name just written
  }

  onKey(event) {
    if (event.target !== this.input || !this.isOpen || event.isComposing) return;
    let handled = true;
    if (event.key === "ArrowDown") this.index = (this.index + 1) % this.options.length;
    else if (event.key === "ArrowUp") this.index = (this.index - 1 + this.options.length) % this.options.length;
    else if (event.key === "Enter" || event.key === "Tab") this.accept(this.index);
    else if (event.key === "Escape") this.close();
    else handled = false;
    if (!handled) return;
    event.preventDefault();
    event.stopPropagation();
    if (this.isOpen) this.render();
  }
}

/**
 * The count of mentions of me not seen yet (a button that jumps to the oldest one), the page
 * title's "(@n)", and a notification while the tab is hidden. A mention is seen once the person
 * jumps to it, focuses it, or the message is in view while the tab is visible.
 */
export class MentionAlerts {
  constructor({ button, askButton, chat, onJump }) {
    this.button = button;
    this.askButton = askButton;
    this.chat = chat;
    this.onJump = onJump;
    this.unread = []; // message ids, oldest first
    this.title = document.title;
    this.seen = new IntersectionObserver((entries) => this.onVisible(entries), { root: chat.scroller, threshold: 0.6 });
    button.addEventListener("click", () => {
      const id = this.unread[0];
      if (id) this.onJump(id);
      this.markSeen(id);
    });
    chat.list.addEventListener("focusin", (event) => this.markSeen(event.target.closest("li[data-id]")?.dataset.id));
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") this.recheck();
    });
    askButton.addEventListener("click", async () => {
      try {
        await Notification.requestPermission();
      } catch {
        /* an old browser's callback form: nothing to do */
      }
      this.renderAsk();
    });
    this.renderAsk();
    this.render();
  }

  /** A chat.message that just arrived live (not history). */
  arrived(message) {
    if (!this.chat.mentionsMe(message) || this.unread.includes(message.id)) return;
    this.unread.push(message.id);
    const el = this.chat.messages.get(message.id)?.el;
    if (el) this.seen.observe(el);
    this.render();
    if (document.visibilityState === "hidden") this.notify(message);
  }

  notify(message) {
    if (!("Notification" in window) || Notification.permission !== "granted") return;
    try {
      const note = new Notification(`${message.user_name} mentioned you`, { body: message.message, tag: message.id });
      note.addEventListener("click", () => {
        window.focus();
        this.onJump(message.id);
        this.markSeen(message.id);
        note.close();
      });
    } catch {
      /* notifications made only by a service worker (some mobile browsers): the count remains */
    }
  }

  onVisible(entries) {
    if (document.visibilityState !== "visible") return;
    for (const entry of entries) if (entry.isIntersecting) this.markSeen(entry.target.dataset.id);
  }

  recheck() {
    for (const id of this.unread) {
      const el = this.chat.messages.get(id)?.el;
      if (el) {
        this.seen.unobserve(el);
        this.seen.observe(el); // the observer reports it again, now that the tab is visible
      }
    }
  }

  markSeen(id) {
    if (!id || !this.unread.includes(id)) return;
    this.unread = this.unread.filter((other) => other !== id);
    const el = this.chat.messages.get(id)?.el;
    if (el) this.seen.unobserve(el);
    this.render();
  }

  /** A message that was deleted, or that an edit no longer mentions me in. */
  forget(id) {
    this.markSeen(id);
  }

  render() {
    const count = this.unread.length;
    this.button.hidden = count === 0;
    this.button.textContent = `@ ${count}`;
    this.button.setAttribute("aria-label", `${count} unread mention${count === 1 ? "" : "s"}: show the oldest`);
    document.title = count ? `(@${count}) ${this.title}` : this.title;
  }

  renderAsk() {
    this.askButton.hidden = !("Notification" in window) || Notification.permission !== "default";
  }
}
