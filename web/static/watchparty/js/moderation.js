// In-room moderation and authors' edits (docs/PROTOCOL.md, "Editing, deleting and in-room
// moderation"): per message Edit/Delete for its author and Delete for the host and co-hosts; per
// participant Mute/Unmute, Remove, and for the host Make co-host and Make host; an "edited" mark;
// for the host and co-hosts, the list of banned users (HTTP, on demand) with Lift ban.
// The server authorizes every frame; these controls only show what the user may ask for.
// Controls are added to the message and people lists as room.js and chat.js render them (a
// MutationObserver on each list), so the rendering code needs no knowledge of them. All text goes
// in as text.
import { api, errorText } from "./api.js";
import { h } from "./dom.js";

export const EDIT_WINDOW_MS = 10 * 60 * 1000; // CHAT_MESSAGE_EDIT_SECONDS

export class Moderation {
  /**
   * chat: the ChatView; people: the participants <ul>; send(frame) -> bool; notices: Notices;
   * onRolesChange({host_id, host_name, co_host_ids, muted_ids}): room.js renders the party again.
   */
  constructor({ me, chat, people, send, notices, onRolesChange }) {
    this.me = me;
    this.chat = chat;
    this.people = people;
    this.send = send;
    this.notices = notices;
    this.onRolesChange = onRolesChange;
    this.party = null;
    this.removed = false;
    this.lifting = null; // the name whose ban we asked to lift, until party.bans answers
    this.bans = h("details", { class: "bans small", hidden: true });
    this.bansList = h("ul", { class: "bans-list" });
    this.bans.append(h("summary", { text: "Banned from this party" }), this.bansList);
    this.bans.addEventListener("toggle", () => {
      if (this.bans.open) this.loadBans();
    });
    this.bansList.addEventListener("click", (event) => this.onBanClick(event));
    people.after(this.bans);
    new MutationObserver(() => this.decorateMessages()).observe(chat.list, { childList: true });
    new MutationObserver(() => this.decoratePeople()).observe(people, { childList: true });
    chat.list.addEventListener("click", (event) => this.onMessageClick(event));
    chat.list.addEventListener("submit", (event) => this.onEditSubmit(event));
    people.addEventListener("click", (event) => this.onPersonClick(event));
  }

  // --- roles -------------------------------------------------------------------------------------

  setParty(party) {
    this.party = party;
    this.decorateMessages({ again: true });
    this.decoratePeople({ again: true });
    this.bans.hidden = Boolean(party.ended_at) || this.removed || !(this.isHost() || this.isCoHost(this.me));
    const muted = (party.muted_ids || []).includes(this.me);
    if (muted) {
      this.notices.show("muted", "warn", "The host has muted you: you cannot send messages in this party for now.", {
        sticky: true,
      });
    } else this.notices.clear("muted");
  }

  isHost(userId = this.me) {
    return Boolean(this.party) && this.party.host_id === userId;
  }

  isCoHost(userId) {
    return Boolean(this.party) && (this.party.co_host_ids || []).includes(userId);
  }

  /** May this user act on `target` (a participant, or a message's author)? As the server decides. */
  mayModerate(target) {
    if (!this.party || this.party.ended_at || target === this.me) return false;
    if (this.isHost()) return true;
    return this.isCoHost(this.me) && !this.isHost(target) && !this.isCoHost(target);
  }

  // --- frames from the server (room.js hands every frame here first) ------------------------------

  /** True when the frame was handled here. */
  onFrame(frame) {
    if (frame.type === "message.edited") {
      this.applyEdit(frame);
      return true;
    }
    if (frame.type === "party.roles") {
      if (!this.party) return true;
      const { host_id, host_name, co_host_ids, muted_ids } = frame;
      this.onRolesChange({ host_id, host_name, co_host_ids, muted_ids });
      if (frame.user_id === this.me) this.announceOwnChange(frame.action);
      return true;
    }
    if (frame.type === "party.bans") {
      this.renderBans(frame.banned);
      if (this.lifting) this.notices.show("ban", "info", `${this.lifting} may join again with the room code.`, { timeout: 5000 });
      this.lifting = null;
      return true;
    }
    if (frame.type === "party.ended") this.bans.hidden = true;
    if (frame.type === "participant.left" && frame.reason === "removed" && frame.banned && this.bans.open) {
      this.loadBans(); // someone was just banned: the open list shows them
    }
    if (frame.type === "participant.left" && frame.reason === "removed" && frame.user_id === this.me) {
      this.removed = true;
      this.bans.hidden = true;
      this.decorateMessages({ again: true });
      this.decoratePeople({ again: true });
    }
    return false; // room.js shows the removed state (one notice) and updates the people list
  }

  announceOwnChange(action) {
    const text = {
      co_host_added: "The host made you a co-host: you can now mute, remove and delete for the party.",
      co_host_removed: "You are no longer a co-host.",
      host_transferred: "You are now the host of this party.",
    }[action];
    if (text) this.notices.show("role", "info", text, { timeout: 6000 });
  }

  applyEdit(frame) {
    const entry = this.chat.messages.get(frame.message_id);
    if (!entry || typeof frame.message !== "string") return;
    entry.message.message = frame.message;
    entry.message.edited_at = frame.edited_at;
    closeEditor(entry.el);
    const text = entry.el.querySelector(".msg-text");
    if (text) text.textContent = frame.message;
    this.decorateMessage(entry.el, { again: true });
  }

  // --- messages ----------------------------------------------------------------------------------

  decorateMessages({ again = false } = {}) {
    for (const item of this.chat.list.children) this.decorateMessage(item, { again });
  }

  decorateMessage(item, { again = false } = {}) {
    const entry = item.dataset.id && this.chat.messages.get(item.dataset.id);
    if (!entry) return;
    if (item.querySelector(".msg-mod") && !again) return;
    item.querySelector(".msg-mod")?.remove();
    const message = entry.message;
    const meta = item.querySelector(".msg-meta");
    if (message.edited_at && meta && !meta.querySelector(".msg-edited")) {
      meta.append(h("span", { class: "msg-edited", title: new Date(message.edited_at).toLocaleString(), text: "edited" }));
    }
    if (!this.party || this.party.ended_at || this.removed) return;
    const mine = message.user_id === this.me;
    const buttons = [];
    const sentAt = Date.parse(message.timestamp);
    if (mine && message.message_type === "text" && Date.now() - sentAt < EDIT_WINDOW_MS) {
      buttons.push(modButton("edit", "Edit", "Edit your message"));
    }
    if (mine || this.mayModerate(message.user_id)) {
      buttons.push(modButton("delete", "Delete", mine ? "Delete your message" : "Delete this message for everyone"));
    }
    if (buttons.length) item.append(h("div", { class: "msg-mod", role: "group", "aria-label": "Message actions" }, buttons));
  }

  onMessageClick(event) {
    const button = event.target.closest("button[data-mod]");
    const item = button && button.closest("li[data-id]");
    if (!item) return;
    const id = item.dataset.id;
    const entry = this.chat.messages.get(id);
    if (!entry) return;
    switch (button.dataset.mod) {
      case "edit":
        return openEditor(item, entry.message.message);
      case "edit-cancel":
        return closeEditor(item);
      case "delete":
        return confirmInline(button, "Delete?", "confirm-delete");
      case "confirm-delete":
        return this.request({ type: "message.delete", message_id: id });
      case "cancel":
        return this.decorateMessage(item, { again: true });
      default:
        return undefined;
    }
  }

  onEditSubmit(event) {
    const form = event.target.closest("form.msg-edit");
    if (!form) return;
    event.preventDefault();
    const item = form.closest("li[data-id]");
    const text = form.querySelector("textarea").value.trim();
    if (!item || !text) return;
    if (this.request({ type: "message.edit", message_id: item.dataset.id, message: text })) {
      form.querySelector("button[type=submit]").disabled = true; // closed when message.edited arrives
    }
  }

  // --- people ------------------------------------------------------------------------------------

  decoratePeople({ again = false } = {}) {
    for (const item of this.people.children) this.decoratePerson(item, { again });
  }

  decoratePerson(item, { again = false } = {}) {
    const userId = item.dataset.userId;
    if (!userId || !this.party) return;
    if (item.querySelector(".person-mod") && !again) return;
    item.querySelectorAll(".person-mod, .badge-cohost, .badge-muted").forEach((node) => node.remove());
    const name = item.querySelector(".person-name");
    const badges = [];
    if (this.isCoHost(userId)) badges.push(h("span", { class: "badge badge-cohost", text: "co-host" }));
    if ((this.party.muted_ids || []).includes(userId)) badges.push(h("span", { class: "badge badge-muted", text: "muted" }));
    name?.after(...badges);
    if (this.party.ended_at || this.removed || !this.mayModerate(userId)) return;
    const muted = (this.party.muted_ids || []).includes(userId);
    const buttons = [
      muted ? modButton("unmute", "Unmute", "Let them chat again") : modButton("mute", "Mute", "Stop their chat messages"),
      modButton("remove", "Remove", "Remove them; the room code will not let them back in"),
    ];
    if (this.isHost()) {
      buttons.push(
        this.isCoHost(userId)
          ? modButton("co-host-remove", "Remove co-host", "They will no longer moderate")
          : modButton("co-host-add", "Make co-host", "They may mute, remove and delete messages"),
        modButton("host", "Make host", "Hand the host role (and playback) to them"),
      );
    }
    item.append(h("span", { class: "person-mod", role: "group", "aria-label": `Moderate ${name?.textContent || ""}` }, buttons));
  }

  onPersonClick(event) {
    const button = event.target.closest("button[data-mod]");
    const item = button && button.closest("li[data-user-id]");
    if (!item) return;
    const userId = item.dataset.userId;
    const frames = {
      mute: "participant.mute",
      unmute: "participant.unmute",
      "confirm-remove": "participant.remove",
      "co-host-add": "co_host.add",
      "co-host-remove": "co_host.remove",
      "confirm-host": "host.transfer",
    };
    const action = button.dataset.mod;
    if (action === "remove") return confirmInline(button, "Remove and ban?", "confirm-remove");
    if (action === "host") return confirmInline(button, "Make them host?", "confirm-host");
    if (action === "cancel") return this.decoratePerson(item, { again: true });
    if (frames[action]) this.request({ type: frames[action], user_id: userId });
    return undefined;
  }

  // --- bans (host and co-hosts) -------------------------------------------------------------------

  async loadBans() {
    if (!this.party) return;
    try {
      const { data } = await api(`/api/parties/${this.party.id}/bans/`);
      this.renderBans(data.banned);
    } catch (error) {
      this.bansList.replaceChildren(h("li", { class: "muted", text: `Could not load the bans: ${errorText(error)}` }));
    }
  }

  renderBans(banned) {
    const users = Array.isArray(banned) ? banned : [];
    if (!users.length) {
      this.bansList.replaceChildren(h("li", { class: "muted", text: "Nobody is banned." }));
      return;
    }
    this.bansList.replaceChildren(
      ...users.map((user) =>
        h(
          "li",
          { class: "ban", "data-user-id": user.user_id },
          h("span", { class: "person-name", dir: "auto", text: user.user_name }),
          h("span", { class: "person-mod" }, modButton("unban", "Lift ban", "Let the room code admit them again")),
        ),
      ),
    );
  }

  onBanClick(event) {
    const button = event.target.closest("button[data-mod]");
    const item = button && button.closest("li[data-user-id]");
    if (!item) return;
    if (button.dataset.mod === "unban") confirmInline(button, "Lift the ban?", "confirm-unban");
    else if (button.dataset.mod === "confirm-unban") {
      if (this.request({ type: "participant.unban", user_id: item.dataset.userId })) {
        this.lifting = item.querySelector(".person-name")?.textContent || "They";
      }
    }
    else if (button.dataset.mod === "cancel") this.loadBans();
  }

  request(frame) {
    if (this.send(frame)) return true;
    this.notices.show("offline-action", "warn", "Not connected right now; try again in a moment.", { timeout: 4000 });
    return false;
  }
}

function modButton(action, label, title) {
  return h("button", { type: "button", class: "btn btn-small btn-ghost mod-btn", "data-mod": action, title, text: label });
}

/** Replace the button with "prompt Yes / No" in place: no dialog, one more deliberate click. */
function confirmInline(button, prompt, confirmAction) {
  const group = button.parentElement;
  group.replaceChildren(
    h("span", { class: "mod-prompt", text: prompt }),
    h("button", { type: "button", class: "btn btn-small btn-danger mod-btn", "data-mod": confirmAction, text: "Yes" }),
    h("button", { type: "button", class: "btn btn-small btn-ghost mod-btn", "data-mod": "cancel", text: "No" }),
  );
  group.querySelector(`[data-mod="${confirmAction}"]`).focus();
}

function openEditor(item, text) {
  if (item.querySelector("form.msg-edit")) return;
  const box = h("textarea", { class: "msg-edit-input", rows: "2", dir: "auto", "aria-label": "Edit your message" });
  box.value = text;
  const form = h(
    "form",
    { class: "msg-edit" },
    box,
    h(
      "div",
      { class: "msg-edit-actions" },
      h("button", { type: "submit", class: "btn btn-small btn-primary", text: "Save" }),
      h("button", { type: "button", class: "btn btn-small btn-ghost", "data-mod": "edit-cancel", text: "Cancel" }),
    ),
  );
  item.querySelector(".msg-text")?.after(form);
  box.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    } else if (event.key === "Escape") closeEditor(item);
  });
  box.focus();
}

function closeEditor(item) {
  item.querySelector("form.msg-edit")?.remove();
}
