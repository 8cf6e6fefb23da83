// The message list: ordered by (timestamp, id) as the server orders them, one element per message
// id whatever path it arrived by (party.state, chat.message, history, resume), plus the pending
// sends of this user. Text is only ever put in with textContent.
import { h } from "./dom.js";

export const QUICK_REACTIONS = ["👍", "❤️", "😂", "😮"];

function sortKey(message) {
  // Both parts sort as strings: ISO times of one fixed format, then 24-hex ids.
  return `${message.timestamp}|${message.id}`;
}

// Keyboard: the message list is one Tab stop (its scroller). Up/Down (Home/End) move focus between
// messages, and only the focused message's controls (reactions, edit, delete, ...) are in the Tab
// order, so Tab goes from the list to the message box rather than through every message's buttons.
const CONTROLS = "button, textarea, input, select, a[href]";

function formatTime(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

export class ChatView {
  constructor({ scroller, list, pendingList, me, onReact, onRetry, onDiscard }) {
    this.scroller = scroller;
    this.list = list;
    this.pendingList = pendingList;
    this.me = me;
    this.hostId = null;
    this.messages = new Map(); // id -> {message, el}
    this.keys = []; // sorted sort keys
    this.ids = []; // ids in the same order
    this.pending = new Map(); // client_id -> {el, statusEl}
    this.onReact = onReact;
    list.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-emoji]");
      if (!button || !list.contains(button)) return;
      const item = button.closest("li[data-id]");
      if (!item) return;
      const entry = this.messages.get(item.dataset.id);
      if (!entry) return;
      const emoji = button.dataset.emoji;
      const mine = (entry.message.reactions?.[emoji] || []).includes(this.me);
      this.onReact(entry.message.id, emoji, mine ? "remove" : "add");
    });
    this.active = null; // the message whose controls are in the Tab order
    list.addEventListener("focusin", (event) => this.setActive(event.target.closest("li[data-id]")));
    scroller.addEventListener("keydown", (event) => this.onKey(event));
    // Controls added later (moderation.js decorates messages, reactions re-render) start out of
    // the Tab order unless they are in the active message.
    new MutationObserver((records) => {
      for (const record of records) {
        for (const node of record.addedNodes) if (node.nodeType === Node.ELEMENT_NODE) this.syncTabStops(node);
      }
      if (this.active && !this.active.isConnected) this.active = null;
    }).observe(list, { childList: true, subtree: true });
    pendingList.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-action]");
      const item = button && button.closest("li[data-client-id]");
      if (!item) return;
      if (button.dataset.action === "retry") onRetry(item.dataset.clientId);
      else onDiscard(item.dataset.clientId);
    });
  }

  /** Controls in `root` (an element in the list) are Tab stops only inside the active message. */
  syncTabStops(root) {
    const controls = root.matches(CONTROLS) ? [root] : [...root.querySelectorAll(CONTROLS)];
    for (const control of controls) {
      if (this.active && this.active.contains(control)) control.removeAttribute("tabindex");
      else control.setAttribute("tabindex", "-1");
    }
  }

  setActive(item) {
    if (item === this.active) return;
    const previous = this.active;
    this.active = item;
    if (previous && previous.isConnected) this.syncTabStops(previous);
    if (item) this.syncTabStops(item);
  }

  onKey(event) {
    const target = event.target;
    const onItem = target.matches("li[data-id]") && this.list.contains(target);
    if (!onItem && target !== this.scroller) return; // typing in an edit box, a button, ...
    const items = [...this.list.children];
    if (!items.length) return;
    const index = onItem ? items.indexOf(target) : items.length;
    let next = null;
    if (event.key === "ArrowUp") next = items[Math.max(0, index - 1)];
    else if (event.key === "ArrowDown") next = onItem ? items[index + 1] || null : null;
    else if (event.key === "Home" && onItem) next = items[0];
    else if (event.key === "End" && onItem) next = items[items.length - 1];
    else if (event.key === "Escape" && onItem) {
      this.scroller.focus();
      return;
    }
    if (!next) return;
    event.preventDefault();
    next.focus();
  }

  get size() {
    return this.messages.size;
  }

  has(id) {
    return this.messages.has(id);
  }

  oldestId() {
    return this.ids.length ? this.ids[0] : null;
  }

  newestId() {
    return this.ids.length ? this.ids[this.ids.length - 1] : null;
  }

  nearBottom() {
    const s = this.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight < 80;
  }

  scrollToBottom() {
    this.scroller.scrollTop = this.scroller.scrollHeight;
  }

  /**
   * Add messages (any order, duplicates welcome: a message id is shown once). `older` keeps the
   * view where it was while earlier messages appear above. Returns the messages that were new.
   */
  merge(messages, { older = false, forceScroll = false } = {}) {
    const wasNearBottom = this.nearBottom();
    const before = { height: this.scroller.scrollHeight, top: this.scroller.scrollTop };
    const added = [];
    for (const message of messages) {
      if (!message || typeof message.id !== "string") continue;
      const known = this.messages.get(message.id);
      if (known) {
        // Same message again (resume after a reconnect): keep the freshest reactions.
        if (message.reactions) this.setReactions(message.id, message.reactions);
        continue;
      }
      this.insert(message);
      added.push(message);
    }
    if (!added.length) return added;
    if (older) {
      this.scroller.scrollTop = before.top + (this.scroller.scrollHeight - before.height);
    } else if (forceScroll || wasNearBottom || added.some((m) => m.user_id === this.me)) {
      this.scrollToBottom();
    }
    return added;
  }

  /**
   * Show exactly `messages` (a fresh party.state on the same socket, after a server-side outage):
   * a message deleted meanwhile goes, and edits and reactions are taken as they are now.
   */
  replace(messages) {
    const wasNearBottom = this.nearBottom();
    this.list.replaceChildren();
    this.messages.clear();
    this.keys = [];
    this.ids = [];
    for (const message of messages) {
      if (message && typeof message.id === "string" && !this.messages.has(message.id)) this.insert(message);
    }
    if (wasNearBottom) this.scrollToBottom();
  }

  insert(message) {
    const key = sortKey(message);
    let lo = 0;
    let hi = this.keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.keys[mid] < key) lo = mid + 1;
      else hi = mid;
    }
    const el = this.render(message);
    const nextId = this.ids[lo];
    this.list.insertBefore(el, nextId ? this.messages.get(nextId).el : null);
    this.keys.splice(lo, 0, key);
    this.ids.splice(lo, 0, message.id);
    this.messages.set(message.id, { message: { ...message }, el });
  }

  remove(id) {
    const entry = this.messages.get(id);
    if (!entry) return;
    entry.el.remove();
    this.messages.delete(id);
    const index = this.ids.indexOf(id);
    if (index >= 0) {
      this.ids.splice(index, 1);
      this.keys.splice(index, 1);
    }
  }

  render(message) {
    const type = ["text", "emoji", "system"].includes(message.message_type) ? message.message_type : "text";
    const mine = message.user_id === this.me;
    const classes = ["msg", `msg-type-${type}`];
    if (mine) classes.push("msg-mine");
    const item = h("li", { class: classes.join(" "), "data-id": message.id, tabindex: "-1" });
    const text = h("p", { class: "msg-text", dir: "auto" });
    text.textContent = message.message;
    if (type === "system") {
      item.append(text);
      return item;
    }
    const when = new Date(message.timestamp);
    const meta = h(
      "div",
      { class: "msg-meta" },
      h("span", { class: "msg-author", dir: "auto", text: message.user_name }),
      message.user_id === this.hostId ? h("span", { class: "badge badge-host", text: "host" }) : null,
      h("time", {
        datetime: message.timestamp,
        title: Number.isNaN(when.getTime()) ? "" : when.toLocaleString(),
        text: formatTime(message.timestamp),
      }),
    );
    const reactions = h("div", { class: "msg-reactions", "aria-label": "Reactions" });
    const quick = h(
      "div",
      { class: "msg-quick", role: "group", "aria-label": "React" },
      QUICK_REACTIONS.map((emoji) =>
        h("button", { type: "button", class: "quick", "data-emoji": emoji, title: `React with ${emoji}`, text: emoji }),
      ),
    );
    item.append(meta, text, reactions, quick);
    this.renderReactions(item, message.reactions || {});
    return item;
  }

  setReactions(id, reactions) {
    const entry = this.messages.get(id);
    if (!entry || entry.message.message_type === "system") return;
    entry.message.reactions = reactions || {};
    this.renderReactions(entry.el, entry.message.reactions);
  }

  renderReactions(item, reactions) {
    const box = item.querySelector(".msg-reactions");
    if (!box) return;
    const chips = [];
    for (const [emoji, users] of Object.entries(reactions || {})) {
      if (!Array.isArray(users) || !users.length) continue;
      const mine = users.includes(this.me);
      chips.push(
        h(
          "button",
          {
            type: "button",
            class: `chip${mine ? " chip-mine" : ""}`,
            "data-emoji": emoji,
            "aria-pressed": mine ? "true" : "false",
            title: mine ? `Remove your ${emoji}` : `React with ${emoji}`,
          },
          h("span", { class: "chip-emoji", text: emoji }),
          h("span", { class: "chip-count", text: String(users.length) }),
        ),
      );
    }
    box.replaceChildren(...chips);
    box.hidden = chips.length === 0;
  }

  setHost(hostId) {
    this.hostId = hostId;
  }

  // --- pending sends --------------------------------------------------------------------------

  addPending(clientId, text) {
    const statusEl = h("span", { class: "pending-status", text: "Sending…" });
    const body = h("p", { class: "msg-text", dir: "auto" });
    body.textContent = text;
    const el = h(
      "li",
      { class: "msg msg-mine msg-pending", "data-client-id": clientId },
      h("div", { class: "msg-meta" }, statusEl),
      body,
    );
    this.pendingList.append(el);
    this.pending.set(clientId, { el, statusEl });
    this.scrollToBottom(); // your own message: always show it
  }

  setPendingStatus(clientId, text, { failed = false } = {}) {
    const entry = this.pending.get(clientId);
    if (!entry) return;
    entry.statusEl.textContent = text;
    entry.el.classList.toggle("msg-failed", failed);
    const actions = entry.el.querySelector(".pending-actions");
    if (actions) actions.remove();
    if (failed) {
      entry.el.append(
        h(
          "div",
          { class: "pending-actions" },
          h("button", { type: "button", class: "btn btn-small", "data-action": "retry", text: "Retry" }),
          h("button", { type: "button", class: "btn btn-small btn-ghost", "data-action": "discard", text: "Discard" }),
        ),
      );
    }
  }

  removePending(clientId) {
    const entry = this.pending.get(clientId);
    if (!entry) return;
    entry.el.remove();
    this.pending.delete(clientId);
  }
}
