// The message list: ordered by (timestamp, id) as the server orders them, one element per message
// id whatever path it arrived by (party.state, chat.message, history, resume), plus the pending
// sends of this user. Text is only ever put in with textContent.
import { formatClock, h } from "./dom.js";

export const QUICK_REACTIONS = ["👍", "❤️", "😂", "😮"];

function sortKey(message) {
  // Both parts sort as strings: ISO times of one fixed format, then 24-hex ids.
  return `${message.timestamp}|${message.id}`;
}

/** The order of the replay: a message's moment in its video (milliseconds, zero-padded so that
 * they sort as strings), then its id, as the server pages them. */
export function positionKey(message) {
  const ms = Math.round((Number(message.at?.seconds) || 0) * 1000);
  return `${String(ms).padStart(12, "0")}|${message.id}`;
}

/** A message's moment in the party's video, or null (none kept, or no video played). */
export function momentOf(message) {
  const at = message && message.at;
  return at && typeof at === "object" && Number.isFinite(at.seconds) && at.seconds >= 0 ? at : null;
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
  /**
   * onReact(id, emoji, "add" | "remove"); onMoreReactions(id, button): open the emoji picker;
   * onReply(message): start a reply; onJump(id): the quote of a reply was clicked.
   * describeMoment(message) -> {seek, label} | null: how a message's moment in the video shows
   * (a button calling onSeek(message) when `seek`, else text; `label` says it in words).
   * readOnly (the replay): no reactions or replies to give; `order` sorts the list (sortKey).
   */
  constructor({
    scroller,
    list,
    pendingList = null,
    me,
    onReact,
    onRetry,
    onDiscard,
    onMoreReactions,
    onReply,
    onJump,
    onSeek,
    describeMoment = null,
    readOnly = false,
    order = sortKey,
  }) {
    this.scroller = scroller;
    this.list = list;
    this.pendingList = pendingList;
    this.me = me;
    this.describeMoment = describeMoment;
    this.readOnly = readOnly;
    this.order = order;
    this.hostId = null;
    this.messages = new Map(); // id -> {message, el}
    this.keys = []; // sorted sort keys
    this.ids = []; // ids in the same order
    this.pending = new Map(); // client_id -> {el, statusEl}
    this.onReact = onReact;
    list.addEventListener("click", (event) => {
      const action = event.target.closest("button[data-chat]");
      if (action && list.contains(action)) {
        const entry = this.messages.get(action.closest("li[data-id]")?.dataset.id);
        if (!entry) return;
        if (action.dataset.chat === "more-reactions") onMoreReactions?.(entry.message.id, action);
        else if (action.dataset.chat === "reply") onReply?.(entry.message);
        else if (action.dataset.chat === "quote") onJump?.(entry.message.reply_to?.id, entry.message);
        else if (action.dataset.chat === "seek") onSeek?.(entry.message);
        return;
      }
      const button = event.target.closest("button[data-emoji]");
      if (!button || !list.contains(button) || this.readOnly) return;
      const item = button.closest("li[data-id]");
      if (!item) return;
      const entry = this.messages.get(item.dataset.id);
      if (!entry) return;
      const emoji = button.dataset.emoji;
      const mine = (entry.message.reactions?.[emoji] || []).includes(this.me);
      this.onReact(entry.message.id, emoji, mine ? "remove" : "add");
    });
    // Whether the reader follows the newest message: known from their own scrolling, not worked
    // out from the box when a message comes, since the box changes under them (a notice above the
    // chat, a phone's keyboard) and that alone would leave the newest message out of view for good.
    this.following = true;
    scroller.addEventListener("scroll", () => (this.following = this.nearBottom()), { passive: true });
    new ResizeObserver(() => this.following && this.scrollToBottom()).observe(scroller);
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
    pendingList?.addEventListener("click", (event) => {
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
    this.following = true;
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
    } else if (forceScroll || this.following || wasNearBottom || added.some((m) => m.user_id === this.me)) {
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
    if (this.following || wasNearBottom) this.scrollToBottom();
  }

  insert(message) {
    const key = this.order(message);
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

  /** Reactions of `id` as they stand: whether `emoji` is one of mine. */
  reacted(id, emoji) {
    return (this.messages.get(id)?.message.reactions?.[emoji] || []).includes(this.me);
  }

  /** Scroll to a loaded message, focus it and mark it for a moment. False when it is not loaded. */
  reveal(id) {
    const entry = this.messages.get(id);
    if (!entry) return false;
    entry.el.scrollIntoView({ block: "center" });
    entry.el.focus({ preventScroll: true });
    entry.el.classList.remove("msg-flash");
    void entry.el.offsetWidth; // restart the animation
    entry.el.classList.add("msg-flash");
    return true;
  }

  mentionsMe(message) {
    return Array.isArray(message.mentions) && message.mentions.includes(this.me);
  }

  /** An edit re-reads the mentions (message.edited carries them). */
  setMentions(id, mentions) {
    const entry = this.messages.get(id);
    if (!entry || !Array.isArray(mentions)) return;
    entry.message.mentions = mentions;
    this.markMention(entry.el, entry.message);
  }

  markMention(item, message) {
    const mine = this.mentionsMe(message);
    item.classList.toggle("msg-mention", mine);
    const flag = item.querySelector(".msg-mention-flag");
    if (mine && !flag) item.querySelector(".msg-meta")?.append(h("span", { class: "badge badge-mention msg-mention-flag", text: "mentions you" }));
    if (!mine && flag) flag.remove();
  }

  remove(id) {
    // Replies quoting it keep who they answered, not what was said (as the server now stores them).
    for (const other of this.messages.values()) {
      if (other.message.reply_to?.id === id) {
        other.message.reply_to = { ...other.message.reply_to, text: "", deleted: true };
        other.el.querySelector(".msg-quote")?.replaceWith(this.renderQuote(other.message.reply_to));
      }
    }
    this.hide(id);
  }

  /** Take a message out of the list, as if it had not arrived (the replay, going back before it):
   * unlike a deletion, replies quoting it keep their quote. */
  hide(id) {
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
      this.renderMoment(message),
    );
    const reactions = h("div", { class: "msg-reactions", "aria-label": "Reactions" });
    const quick = h(
      "div",
      { class: "msg-quick", role: "group", "aria-label": "React" },
      QUICK_REACTIONS.map((emoji) =>
        h("button", { type: "button", class: "quick", "data-emoji": emoji, title: `React with ${emoji}`, text: emoji }),
      ),
      h("button", {
        type: "button",
        class: "quick quick-more",
        "data-chat": "more-reactions",
        "aria-haspopup": "dialog",
        "aria-expanded": "false",
        "aria-label": "More reactions",
        title: "More reactions",
        text: "+",
      }),
      h("button", {
        type: "button",
        class: "quick quick-reply",
        "data-chat": "reply",
        "aria-label": `Reply to ${message.user_name}`,
        title: "Reply",
        text: "↩",
      }),
    );
    const quote = message.reply_to && typeof message.reply_to === "object" ? this.renderQuote(message.reply_to) : null;
    item.append(meta, quote || "", text, reactions, this.readOnly ? "" : quick);
    this.renderReactions(item, message.reactions || {});
    this.markMention(item, message);
    return item;
  }

  /** The message's moment in the video ("12:34"): a button to go there, or text, as
   * describeMoment says; nothing for a message without one. */
  renderMoment(message) {
    const at = momentOf(message);
    const described = at && this.describeMoment ? this.describeMoment(message) : null;
    if (!described) return null;
    const clock = formatClock(at.seconds);
    if (described.seek) {
      return h("button", {
        type: "button",
        class: "msg-at msg-at-seek",
        "data-chat": "seek",
        "aria-label": described.label,
        title: described.label,
        text: clock,
      });
    }
    return h(
      "span",
      { class: "msg-at", title: described.label },
      h("span", { class: "visually-hidden", text: described.label }),
      h("span", { "aria-hidden": "true", text: clock }),
    );
  }

  /** Show every message's moment again: who may go there, or what plays, changed. */
  refreshMoments() {
    for (const { message, el } of this.messages.values()) {
      const old = el.querySelector(".msg-at");
      const fresh = this.renderMoment(message);
      if (old && fresh) old.replaceWith(fresh);
      else if (old) old.remove();
      else if (fresh) el.querySelector(".msg-meta")?.append(fresh);
    }
  }

  renderQuote(replyTo) {
    const name = typeof replyTo.user_name === "string" ? replyTo.user_name : "";
    const gone = replyTo.deleted || !replyTo.text;
    const snippet = gone ? "Original message deleted" : replyTo.text;
    return h(
      "button",
      {
        type: "button",
        class: `msg-quote${gone ? " msg-quote-gone" : ""}`,
        "data-chat": "quote",
        "aria-label": `Replying to ${name}: ${snippet}. Show the original`,
      },
      h("span", { class: "msg-quote-author", dir: "auto", text: name }),
      h("span", { class: "msg-quote-text", dir: "auto", text: snippet }),
    );
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
      if (this.readOnly) {
        chips.push(
          h(
            "span",
            { class: `chip chip-static${mine ? " chip-mine" : ""}` },
            h("span", { class: "chip-emoji", text: emoji }),
            h("span", { class: "chip-count", text: String(users.length) }),
          ),
        );
        continue;
      }
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

  addPending(clientId, text, replyTo = null) {
    const statusEl = h("span", { class: "pending-status", text: "Sending…" });
    const body = h("p", { class: "msg-text", dir: "auto" });
    body.textContent = text;
    const el = h(
      "li",
      { class: "msg msg-mine msg-pending", "data-client-id": clientId },
      h("div", { class: "msg-meta" }, statusEl),
      replyTo ? h("p", { class: "msg-quote msg-quote-pending small", dir: "auto", text: `↩ ${replyTo.user_name}` }) : "",
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
